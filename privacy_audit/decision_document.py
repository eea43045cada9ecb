"""The issued decision on a request for access (inzageverzoek, AVG art. 15), as sent to the person.

An ``AccessDecision`` holds exactly what the person is told: the letter (PDF), its Markdown
text and the machine-readable JSON copy are all rendered from it and from nothing else. What
was withheld appears only as a ``WithheldNotice`` (the kind of item and the ground, never its
content), and only for the items the person may be told about: items withheld without notice
(where telling would itself defeat the ground, e.g. a running criminal investigation) have no
trace in this model at all, not even a count, because every field here ends up in the
person's documents.

Grounds for withholding: UAVG art. 41 lid 1 a–j (AVG art. 23) and, for cases before
25 May 2018, Wbp art. 43 a–e. ``ground_label`` turns a ground key into the citation and the
statutory wording that the letter prints.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from casusregie.domain.text import json_escaped

# UAVG art. 41 lid 1: "De verwerkingsverantwoordelijke kan de verplichtingen en rechten, bedoeld in
# de artikelen 12 tot en met 21 en artikel 34 van de verordening buiten toepassing laten voor zover
# dit noodzakelijk en evenredig is ter waarborging van: ..."
UAVG_41_GROUNDS: dict[str, str] = {
    "a": "de nationale veiligheid",
    "b": "landsverdediging",
    "c": "de openbare veiligheid",
    "d": (
        "de voorkoming, het onderzoek, de opsporing en de vervolging van strafbare feiten of de "
        "tenuitvoerlegging van straffen, met inbegrip van de bescherming tegen en de voorkoming van "
        "gevaren voor de openbare veiligheid"
    ),
    "e": (
        "andere belangrijke doelstellingen van algemeen belang van de Europese Unie of van Nederland, "
        "met name een belangrijk economisch of financieel belang van de Europese Unie of van Nederland, "
        "met inbegrip van monetaire, budgettaire en fiscale aangelegenheden, volksgezondheid en sociale zekerheid"
    ),
    "f": "de bescherming van de onafhankelijkheid van de rechter en van gerechtelijke procedures",
    "g": (
        "de voorkoming, het onderzoek, de opsporing en de vervolging van schendingen van de beroepscodes "
        "voor gereglementeerde beroepen"
    ),
    "h": (
        "een taak op het gebied van toezicht, inspectie of regelgeving die verband houdt, al is het "
        "incidenteel, met de uitoefening van het openbaar gezag in de gevallen, bedoeld in de onderdelen "
        "a, b, c, d, e en g"
    ),
    "i": "de bescherming van de betrokkene of van de rechten en vrijheden van anderen",
    "j": "de inning van civielrechtelijke vorderingen",
}

# Wbp art. 43 (in force until 25 May 2018): "De verantwoordelijke kan de artikelen 9, eerste lid,
# 30, 33, 34 en 35 buiten toepassing laten voor zover dit noodzakelijk is in het belang van: ..."
WBP_43_GROUNDS: dict[str, str] = {
    "a": "de veiligheid van de staat",
    "b": "de voorkoming, opsporing en vervolging van strafbare feiten",
    "c": "gewichtige economische en financiële belangen van de staat en andere openbare lichamen",
    "d": (
        "het toezicht op de naleving van wettelijke voorschriften die zijn gesteld ten behoeve van de "
        "belangen, bedoeld onder b en c"
    ),
    "e": "de bescherming van de betrokkene of van de rechten en vrijheden van anderen",
}

DEFAULT_AP_COMPLAINT = (
    "Bent u het niet eens met de manier waarop wij met uw persoonsgegevens omgaan? Dan kunt u een klacht "
    "indienen bij de Autoriteit Persoonsgegevens (artikel 77 AVG): Autoriteit Persoonsgegevens, "
    "Postbus 93374, 2509 AJ Den Haag, www.autoriteitpersoonsgegevens.nl."
)


def ground_label(ground_key: str, regime: Literal["uavg", "wbp"]) -> tuple[str, str]:
    """The citation and the statutory wording of a ground for withholding.

    ``ground_label("i", "uavg") == ("art. 41 lid 1 sub i UAVG", "de bescherming van de betrokkene ...")``;
    ``ground_label("e", "wbp") == ("art. 43 sub e Wbp", "de bescherming van de betrokkene ...")``.
    Raises ``ValueError`` for an unknown regime or key.
    """
    key = ground_key.strip().lower()
    if regime == "uavg":
        if key not in UAVG_41_GROUNDS:
            raise ValueError(f"no ground {ground_key!r} in art. 41 lid 1 UAVG (a-j)")
        return f"art. 41 lid 1 sub {key} UAVG", UAVG_41_GROUNDS[key]
    if regime == "wbp":
        if key not in WBP_43_GROUNDS:
            raise ValueError(f"no ground {ground_key!r} in art. 43 Wbp (a-e)")
        return f"art. 43 sub {key} Wbp", WBP_43_GROUNDS[key]
    raise ValueError(f"unknown regime {regime!r}: expected 'uavg' or 'wbp'")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(_Model):
    """The addressee as printed in the envelope window: a name and the address lines (may be empty)."""

    name: str
    lines: list[str] = Field(default_factory=list)


class DataItem(_Model):
    """One personal data item the person receives a copy of."""

    category: str  # e.g. "Identificatiegegevens"
    label: str  # e.g. "Naam"
    value: str
    source: str  # the organisation it came from, or "u zelf" / "aanmelding door <org>"
    recorded_on: date | None = None


class Recipient(_Model):
    """A disclosure of the person's data to another organisation (verstrekking)."""

    organisation: str
    on: date
    categories: list[str]
    purpose: str
    legal_basis: str
    case_number: str


class Source(_Model):
    """An organisation the data came from, for data not obtained from the person (AVG art. 15(1)(g))."""

    organisation: str
    on: date
    categories: list[str]
    description: str


class Consultation(_Model):
    """Consultations of the person's data on one day, for one purpose and action (C-579/21).

    Never the identities of the employees who consulted the data.
    """

    on: date
    purpose: str  # the processing activity's name
    action: str  # raadplegen, wijzigen, verstrekken, ...
    count: Annotated[int, Field(ge=1)]


class Purpose(_Model):
    """A processing activity (art. 30 register entry) as far as it concerns the person."""

    activity: str
    purpose: str
    legal_basis: str
    categories: list[str]
    retention: str  # e.g. "5 jaar na afsluiting van de casus"


class WithheldNotice(_Model):
    """The person is told that an item was withheld, and why; never what it contains.

    ``what`` describes the kind of item without revealing its content ("een gegeven uit een melding
    van omwonenden"); ``ground`` and ``ground_text`` come from ``ground_label``; ``partly`` means the
    item was provided in part. ``motivation`` (optional) says why withholding is necessary and
    proportionate; it must not reveal the content either.
    """

    ground: str  # e.g. "art. 41 lid 1 sub i UAVG"
    ground_text: str  # the statutory wording of the ground
    what: str
    partly: bool = False
    motivation: str = ""


class AccessDecision(_Model):
    """An issued decision (besluit, UAVG art. 34 / Awb) on a request for access under AVG art. 15.

    Everything here is shown to the person. ``withheld`` holds only the notices the person may be
    told of; items withheld silently are deliberately not represented.
    """

    municipality: str  # the municipality's name, e.g. "Utrecht"
    organisation_name: str  # the letterhead, e.g. "Gemeente Utrecht"
    department: str  # e.g. "Team Privacy"
    reference: str  # kenmerk, e.g. "AVG-2026-0007"
    decision_date: date
    received_on: date
    deadline: date
    extended_to: date | None = None
    requester: Address
    subject_name: str
    processes_data: bool
    data: list[DataItem] = Field(default_factory=list)
    purposes: list[Purpose] = Field(default_factory=list)
    recipients: list[Recipient] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    consultations: list[Consultation] = Field(default_factory=list)
    withheld: list[WithheldNotice] = Field(default_factory=list)
    objection_weeks: Annotated[int, Field(ge=1)] = 6
    objection_to: str  # e.g. "het college van burgemeester en wethouders van Utrecht, Postbus 16200, ..."
    signatory: str
    signatory_title: str
    ap_complaint: str = DEFAULT_AP_COMPLAINT

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.deadline < self.received_on:
            raise ValueError("deadline lies before the date the request was received")
        if self.extended_to is not None and self.extended_to < self.deadline:
            raise ValueError("extended_to lies before the original deadline")
        if self.decision_date < self.received_on:
            raise ValueError("decision_date lies before the date the request was received")
        if not self.processes_data:
            listed = [
                name
                for name in ("data", "purposes", "recipients", "sources", "consultations", "withheld")
                if getattr(self, name)
            ]
            if listed:
                raise ValueError(f"processes_data is false, yet the decision lists {', '.join(listed)}")
        return self

    def to_json(self) -> str:
        """The machine-readable copy: indented UTF-8 JSON in field order, dates as ISO 8601, ending in a newline."""
        text = json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
        # Within JSON strings \uXXXX is the same character; written so, none can steer a terminal or editor.
        return json_escaped(text)

    @classmethod
    def from_json(cls, text: str | bytes) -> AccessDecision:
        """Read a copy written by ``to_json`` (validated like any other input)."""
        return cls.model_validate_json(text)


def sample_decision(*, extra_data_items: int = 0, withheld: bool = True) -> AccessDecision:
    """A realistic decision with fictitious people and organisations, for tests and the sample letter.

    ``extra_data_items`` appends that many further (fictitious) items to make the data list long;
    ``withheld=False`` gives a decision without withheld notices.
    """
    d = date
    data = [
        DataItem(
            category="Identificatiegegevens",
            label="Naam",
            value="Karin de Vries",
            source="u zelf",
            recorded_on=d(2025, 9, 15),
        ),
        DataItem(
            category="Identificatiegegevens",
            label="Geboortedatum",
            value="3 april 1981",
            source="Basisregistratie Personen (BRP)",
            recorded_on=d(2025, 9, 15),
        ),
        DataItem(
            category="Identificatiegegevens",
            label="Burgerservicenummer",
            value="123456782",
            source="Basisregistratie Personen (BRP)",
            recorded_on=d(2025, 9, 15),
        ),
        DataItem(
            category="Contactgegevens",
            label="Adres",
            value="Eikenlaan 12, 3523 KL Utrecht",
            source="Basisregistratie Personen (BRP)",
            recorded_on=d(2025, 9, 15),
        ),
        DataItem(
            category="Contactgegevens",
            label="Telefoonnummer",
            value="06-12345678",
            source="aanmelding door Buurtteam Zuidwest",
            recorded_on=d(2025, 9, 15),
        ),
        DataItem(
            category="Huishouden",
            label="Samenstelling",
            value="U woont met uw twee kinderen (9 en 14 jaar).",
            source="aanmelding door Buurtteam Zuidwest",
            recorded_on=d(2025, 9, 15),
        ),
        DataItem(
            category="Wonen",
            label="Huurachterstand",
            value="Huurachterstand van € 1.250,00 over de maanden juni tot en met augustus 2025; "
            "een betalingsregeling is aangeboden.",
            source="Woningstichting Het Anker",
            recorded_on=d(2025, 9, 22),
        ),
        DataItem(
            category="Financiële situatie",
            label="Schuldhulpverlening",
            value="Aangemeld bij de gemeentelijke schuldhulpverlening; intakegesprek gepland.",
            source="Team Schuldhulp, gemeente Utrecht",
            recorded_on=d(2025, 9, 24),
        ),
        DataItem(
            category="Casusregie",
            label="Reden van aanmelding",
            value="Meervoudige problematiek: huurachterstand, schulden en zorgen over schoolverzuim "
            "van het oudste kind. De aanmelder vraagt om één plan met één regisseur.",
            source="aanmelding door Buurtteam Zuidwest",
            recorded_on=d(2025, 9, 15),
        ),
        DataItem(
            category="Casusregie",
            label="Besluit over regie",
            value="De gemeente voert regie op de casus (besluit van 29 september 2025).",
            source="Gemeente Utrecht",
            recorded_on=d(2025, 9, 29),
        ),
        DataItem(
            category="Casusregie",
            label="Verslag MDO 8 oktober 2025 (deels)",
            value="Afgesproken: de woningstichting houdt de ontruimingsprocedure aan zolang de "
            "betalingsregeling loopt; het buurtteam begeleidt u bij de aanvraag van bijzondere "
            "bijstand; de leerplichtambtenaar volgt de schoolgang.",
            source="Gemeente Utrecht",
            recorded_on=d(2025, 10, 8),
        ),
        DataItem(
            category="Onderwijs",
            label="Schoolverzuim",
            value="Geoorloofd en ongeoorloofd verzuim "
            "schooljaar 2024–2025: 11 dagen, waarvan 6 ongeoorloofd; gesprek met de leerplichtambtenaar "
            "op 2 oktober 2025.",
            source="Leerplicht, gemeente Utrecht",
            recorded_on=d(2025, 10, 2),
        ),
    ]
    for n in range(extra_data_items):
        data.append(
            DataItem(
                category="Verslaglegging",
                label=f"Verslag contactmoment {n + 1}",
                value=f"Contactmoment {n + 1}: gesprek over de voortgang van het plan van aanpak, de "
                "betalingsregeling en de schoolgang van de kinderen. Afspraken zijn vastgelegd.",
                source="Gemeente Utrecht",
                recorded_on=d(2025, 10, 6),
            )
        )
    ground, ground_text = ground_label("i", "uavg")
    notices = [
        WithheldNotice(
            ground=ground,
            ground_text=ground_text,
            what="een gegeven uit een melding van omwonenden",
            partly=False,
            motivation="Verstrekking zou de melders kunnen benadelen; hun belang weegt in dit geval zwaarder "
            "dan uw belang bij inzage in dit gegeven.",
        ),
        WithheldNotice(
            ground=ground,
            ground_text=ground_text,
            what="het verslag van het multidisciplinair overleg van 8 oktober 2025",
            partly=True,
            motivation="De passages over andere gezinsleden hebben wij weggelaten, omdat hun privacy "
            "zwaarder weegt; de passages over u ontvangt u wel.",
        ),
    ]
    return AccessDecision(
        municipality="Utrecht",
        organisation_name="Gemeente Utrecht",
        department="Team Privacy",
        reference="AVG-2026-0007",
        decision_date=d(2026, 3, 12),
        received_on=d(2026, 2, 16),
        deadline=d(2026, 3, 16),
        extended_to=None,
        requester=Address(name="K. de Vries", lines=["Eikenlaan 12", "3523 KL  UTRECHT"]),
        subject_name="K. de Vries",
        processes_data=True,
        data=data,
        purposes=[
            Purpose(
                activity="Casusregie multiproblematiek",
                purpose="Regie voeren op de hulp aan huishoudens met problemen op meerdere leefgebieden",
                legal_basis="Art. 6 lid 1 sub e AVG, in verbinding met art. 2.3.1 en 2.3.5 Wmo 2015",
                categories=[
                    "Identificatiegegevens",
                    "Contactgegevens",
                    "Huishouden",
                    "Wonen",
                    "Financiële situatie",
                    "Onderwijs",
                    "Casusregie",
                ],
                retention="5 jaar na afsluiting van de casus",
            ),
            Purpose(
                activity="Schuldhulpverlening",
                purpose="Hulp bij problematische schulden",
                legal_basis="Art. 6 lid 1 sub e AVG, in verbinding met art. 3 en 5 Wet gemeentelijke "
                "schuldhulpverlening",
                categories=["Identificatiegegevens", "Financiële situatie"],
                retention="7 jaar na afronding van het traject",
            ),
        ],
        recipients=[
            Recipient(
                organisation="Woningstichting Het Anker",
                on=d(2025, 10, 1),
                categories=["Identificatiegegevens", "Wonen"],
                purpose="Afstemming van de betalingsregeling binnen het plan van aanpak",
                legal_basis="Art. 6 lid 1 sub e AVG; convenant casusregie Utrecht 2024",
                case_number="CR-2025-0412",
            ),
            Recipient(
                organisation="Buurtteam Zuidwest",
                on=d(2025, 10, 8),
                categories=["Huishouden", "Onderwijs", "Casusregie"],
                purpose="Multidisciplinair overleg (MDO) en uitvoering van het plan van aanpak",
                legal_basis="Art. 6 lid 1 sub e AVG; art. 5.2.1 Wmo 2015",
                case_number="CR-2025-0412",
            ),
        ],
        sources=[
            Source(
                organisation="Buurtteam Zuidwest",
                on=d(2025, 9, 15),
                categories=["Contactgegevens", "Huishouden", "Casusregie"],
                description="Aanmelding voor casusregie",
            ),
            Source(
                organisation="Woningstichting Het Anker",
                on=d(2025, 9, 22),
                categories=["Wonen"],
                description="Antwoord op onze informatievraag over de huursituatie",
            ),
            Source(
                organisation="Basisregistratie Personen (BRP)",
                on=d(2025, 9, 15),
                categories=["Identificatiegegevens", "Contactgegevens"],
                description="Bevraging bij de start van de casus",
            ),
        ],
        consultations=[
            Consultation(on=d(2025, 9, 15), purpose="Casusregie multiproblematiek", action="vastleggen", count=1),
            Consultation(on=d(2025, 9, 16), purpose="Casusregie multiproblematiek", action="raadplegen", count=3),
            Consultation(on=d(2025, 9, 24), purpose="Schuldhulpverlening", action="raadplegen", count=2),
            Consultation(on=d(2025, 9, 29), purpose="Casusregie multiproblematiek", action="wijzigen", count=1),
            Consultation(on=d(2025, 10, 1), purpose="Casusregie multiproblematiek", action="verstrekken", count=1),
            Consultation(on=d(2025, 10, 8), purpose="Casusregie multiproblematiek", action="verstrekken", count=1),
            Consultation(on=d(2026, 2, 17), purpose="Behandeling van uw inzageverzoek", action="raadplegen", count=4),
        ],
        withheld=notices if withheld else [],
        objection_to="het college van burgemeester en wethouders van Utrecht, Postbus 16200, 3500 CE Utrecht",
        signatory="mr. J. Bakker",
        signatory_title="teamleider Team Privacy",
    )
