"""Reusable steps of the case workflow, written the way the tests read: refer, assess, take on."""

from __future__ import annotations

from datetime import date, timedelta

from helpers import World

from casusregie.commands.decision import TakeOn
from casusregie.commands.information import DiscloseInformation, DisclosureItem, RequestInformation
from casusregie.commands.plan import AgreeMeasure
from casusregie.commands.referral import (
    AnswerCorporationConsent,
    AssessIntake,
    MemberInput,
    ReferCase,
    RequestCorporationConsent,
)

START = date.today() - timedelta(days=60)


def day(n: int) -> date:
    """Business day n of the scenario (day 0 is the referral)."""
    return START + timedelta(days=n)


def refer(
    world: World,
    *,
    by: str = "anna",
    director: str | None = None,
    name: str = "Karel de Vries",
    corporation: str | None = "mitros",
    members: list[MemberInput] | None = None,
) -> str:
    result = world.run(
        by,
        ReferCase(
            referring_org="mitros",
            referring_worker="J. Jansen",
            reason="Ernstige overlast en huurachterstand",
            problems={"overlast": "lawaai en bedreiging", "financiën": "huurachterstand"},
            members=members
            or [
                MemberInput(name=name, birth_date=date(1979, 4, 12), bsn="111222333", address="Kanaalstraat 12"),
                MemberInput(name="Noor de Vries", birth_date=date(2013, 2, 14), role="kind"),
            ],
            home_corporation=corporation,
            director=director,
            on=START,
        ),
    )
    return str(result.data["case"])


def take_on(world: World, case: str, *, director: str = "anna") -> None:
    world.run(director, AssessIntake(case=case, criteria=["woninggebonden", "meerdere-vormen"], on=day(1)))
    world.run(director, RequestCorporationConsent(case=case, on=day(1)))
    world.run("piet", AnswerCorporationConsent(case=case, consent=True, on=day(2)))
    world.run(director, TakeOn(case=case, on=day(3)))


def taken_on_case(world: World, **kwargs: object) -> str:
    case = refer(world, **kwargs)  # type: ignore[arg-type]
    take_on(world, case)
    return case


def police_disclosure(world: World, case: str) -> str:
    request = world.run(
        "anna",
        RequestInformation(
            case=case,
            partner="politie",
            purpose="zicht op overlast",
            legal_basis="Wpg art. 20",
            categories=["politie.meldingen"],
            on=day(4),
        ),
    ).data["request"]
    person = first_person(world, case)
    world.run(
        "pol",
        DiscloseInformation(
            case=case,
            request=request,
            on=day(5),
            items=[DisclosureItem(category="politie.meldingen", subject=person, content="12 meldingen sinds juni")],
        ),
    )
    return str(request)


def first_person(world: World, case: str) -> str:
    found = world.session("anna").case(case)
    return next(iter(found.members.values())).ref


def measure(world: World, case: str, *, owner: str = "mitros", due: date | None = None) -> str:
    return str(
        world.run(
            "anna",
            AgreeMeasure(
                case=case,
                life_domain="overlast",
                owner=owner,
                description="gesprek over huisregels",
                due=due or day(30),
                on=day(6),
            ),
        ).data["measure"]
    )
