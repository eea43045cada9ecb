"""Random valid and invalid command sequences: the projected case view always equals the
state rebuilt from the events, and a rebuild of the views from scratch changes nothing."""

from __future__ import annotations

import contextlib
import secrets
from datetime import timedelta
from pathlib import Path

import hypothesis.strategies as st
import pytest
from helpers import PG_DSN, World, drop_schema, make_world, new_schema, require_postgres
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from scenarios import START, refer

from casusregie.adapters.config import Settings
from casusregie.commands.closure import CloseCase, ReopenCase
from casusregie.commands.decision import DeclineCase, InformResidents, TakeOn
from casusregie.commands.escalation import Escalate, ResolveEscalation
from casusregie.commands.information import DeclineRequest, DiscloseInformation, DisclosureItem, RequestInformation
from casusregie.commands.plan import AgreeMeasure, ReportProgress, SetGoal
from casusregie.commands.referral import AnswerCorporationConsent, AssessIntake, RequestCorporationConsent
from casusregie.domain.errors import RegieError
from casusregie.projections.case_view import render_case
from casusregie.projections.reader import Reader, view_runner

DAYS = st.integers(min_value=0, max_value=50)


class CaseMachine(RuleBasedStateMachine):
    """Drives a few cases with any command, legal or not, and compares both read paths."""

    backend = "sqlite"
    tmp: Path

    def __init__(self) -> None:
        super().__init__()
        unique = secrets.token_hex(4)
        if self.backend == "sqlite":
            location = str(self.tmp / f"s-{unique}.db")
        else:
            self.schema = new_schema()
            location = f"{PG_DSN}?schema={self.schema}"
        settings_ = Settings(store=location, key_dir=self.tmp / f"k-{unique}", checkpoint_dir=None, config_file=None)
        self.world: World = make_world(settings_)
        self.cases: list[str] = []

    def teardown(self) -> None:
        self.rebuild_changes_nothing()
        self.world.store.close()
        if self.backend == "postgres":
            drop_schema(self.schema)

    def attempt(self, user: str, command: object) -> None:
        # Refused or invalid commands must leave no trace, which the invariant checks.
        with contextlib.suppress(RegieError):
            self.world.run(user, command)  # type: ignore[arg-type]

    @precondition(lambda self: len(self.cases) < 3)
    @rule()
    def refer_a_household(self) -> None:
        self.cases.append(refer(self.world))

    @precondition(lambda self: self.cases)
    @rule(i=st.integers(0, 2))
    def take_on_properly(self, i: int) -> None:
        """The happy path in one step, so that sequences reach the later phases often."""
        case = self.cases[i % len(self.cases)]
        self.attempt("anna", AssessIntake(case=case, criteria=["woninggebonden", "meerdere-vormen"], on=START))
        self.attempt("anna", RequestCorporationConsent(case=case, on=START))
        self.attempt("piet", AnswerCorporationConsent(case=case, consent=True, on=START))
        self.attempt("anna", TakeOn(case=case, on=START))

    @precondition(lambda self: self.cases)
    @rule(
        i=st.integers(0, 2),
        d=DAYS,
        criteria=st.lists(
            st.sampled_from(["woninggebonden", "meerdere-vormen", "complexe-achtergrond", "onzin"]), max_size=3
        ),
    )
    def assess(self, i: int, d: int, criteria: list[str]) -> None:
        self.attempt(
            "anna", AssessIntake(case=self.cases[i % len(self.cases)], criteria=criteria, on=START + timedelta(days=d))
        )

    @precondition(lambda self: self.cases)
    @rule(i=st.integers(0, 2), d=DAYS, consent=st.booleans())
    def corporation(self, i: int, d: int, consent: bool) -> None:
        case = self.cases[i % len(self.cases)]
        self.attempt("anna", RequestCorporationConsent(case=case, on=START + timedelta(days=d)))
        self.attempt("piet", AnswerCorporationConsent(case=case, consent=consent, on=START + timedelta(days=d)))

    @precondition(lambda self: self.cases)
    @rule(i=st.integers(0, 2), d=DAYS, decline=st.booleans())
    def decide(self, i: int, d: int, decline: bool) -> None:
        case = self.cases[i % len(self.cases)]
        on = START + timedelta(days=d)
        self.attempt("anna", DeclineCase(case=case, advice="buurtteam", on=on) if decline else TakeOn(case=case, on=on))

    @precondition(lambda self: self.cases)
    @rule(
        i=st.integers(0, 2),
        partner=st.sampled_from(["politie", "lister", "mitros"]),
        answer=st.booleans(),
        as_partner=st.sampled_from(["pol", "lies", "piet"]),
    )
    def information(self, i: int, partner: str, answer: bool, as_partner: str) -> None:
        case = self.cases[i % len(self.cases)]
        category = {
            "politie": "politie.meldingen",
            "lister": "zorg.woonbegeleiding",
            "mitros": "woningcorporatie.huur",
        }[partner]
        self.attempt(
            "anna",
            RequestInformation(
                case=case,
                partner=partner,
                purpose="p",
                legal_basis="b",
                categories=[category],
                on=START + timedelta(days=5),
            ),
        )
        request = f"R{len(self.world.session('anna').case(case).requests)}"
        if answer:
            self.attempt(
                as_partner,
                DiscloseInformation(
                    case=case,
                    request=request,
                    on=START + timedelta(days=6),
                    items=[DisclosureItem(category=category, content="info")],
                ),
            )
        else:
            self.attempt(
                as_partner, DeclineRequest(case=case, request=request, reason="nee", on=START + timedelta(days=6))
            )

    @precondition(lambda self: self.cases)
    @rule(
        i=st.integers(0, 2),
        d=DAYS,
        late=st.integers(-3, 40),
        m=st.integers(1, 3),
        status=st.sampled_from(["started", "done", "failed", "cancelled"]),
    )
    def plan(self, i: int, d: int, late: int, m: int, status: str) -> None:
        case = self.cases[i % len(self.cases)]
        on = START + timedelta(days=d)
        self.attempt("anna", SetGoal(case=case, life_domain="overlast", description="rust", on=on))
        self.attempt(
            "anna",
            AgreeMeasure(
                case=case,
                life_domain="overlast",
                owner="mitros",
                description="gesprek",
                due=on + timedelta(days=late),
                on=on,
            ),
        )
        self.attempt("piet", ReportProgress(case=case, measure=f"M{m}", status=status, on=on))

    @precondition(lambda self: self.cases)
    @rule(
        i=st.integers(0, 2),
        d=DAYS,
        late=st.integers(-3, 40),
        m=st.integers(1, 3),
        status=st.sampled_from(["started", "done", "failed", "cancelled"]),
    )
    def more_plan(self, i: int, d: int, late: int, m: int, status: str) -> None:
        self.plan(i, d, late, m, status)

    @precondition(lambda self: self.cases)
    @rule(i=st.integers(0, 2), level=st.integers(1, 4), d=DAYS)
    def escalate(self, i: int, level: int, d: int) -> None:
        case = self.cases[i % len(self.cases)]
        self.attempt("anna", Escalate(case=case, level=level, reason="stokt", on=START + timedelta(days=d)))
        self.attempt(
            "mia", ResolveEscalation(case=case, escalation="E1", outcome="opgelost", on=START + timedelta(days=d))
        )

    @precondition(lambda self: self.cases)
    @rule(i=st.integers(0, 2), d=DAYS, reopen=st.booleans(), really=st.integers(0, 3))
    def close(self, i: int, d: int, reopen: bool, really: int) -> None:
        case = self.cases[i % len(self.cases)]
        self.attempt("anna", InformResidents(case=case, on=START + timedelta(days=d)))
        if really:  # closing ends most other rules' effect; keep cases open more often than not
            return
        self.attempt(
            "anna", CloseCase(case=case, outcome="partly-met", despite="vroeg afgesloten", on=START + timedelta(days=d))
        )
        if reopen:
            self.attempt("anna", ReopenCase(case=case, reason="terug", on=START + timedelta(days=d)))

    @invariant()
    def projected_view_equals_replayed_state(self) -> None:
        reader = Reader(self.world.session("anna"))
        reader.runner.catch_up()
        for case in self.cases:
            projected = reader.case_state(case)
            replayed = self.world.app.repository.get(projected.id)
            assert projected.version == replayed.version
            assert render_case(projected, reader.open) == render_case(replayed, reader.open)

    def rebuild_changes_nothing(self) -> None:
        reader = Reader(self.world.session("anna"))
        before = {c: render_case(reader.case_state(c), reader.open) for c in self.cases}
        view_runner(self.world.app).rebuild()
        assert before == {c: render_case(reader.case_state(c), reader.open) for c in self.cases}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_projection_equals_replay_under_random_commands(backend: str, tmp_path: Path) -> None:
    if backend == "postgres":
        require_postgres()
    machine = type("Machine", (CaseMachine,), {"backend": backend, "tmp": tmp_path})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=100 if backend == "sqlite" else 15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
