"""The disclosure trail (verstrekkingenspoor): per person, who received which data, when,
on which legal basis and for which purpose, and where data about them came from.

Derived from the case events: the referral (a source), requests to partners (the person's
identity goes to the partner), partners' disclosures (data comes in), case conferences
(attending partners receive case data), measures owned by partners, escalations and the
warm handover. A household-level item counts for every member of the household.
Rows name only ids, organisations and categories; purposes and legal bases are kept
encrypted with the store's row key, as everything else at rest. An information request's
purpose is the director's own text, so it stays sealed as in the case (with the person's
key for a request about one person, else the household's): it is erased with that key, and
opened only through the reader's need-to-know filter.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from casusregie.adapters.sql import Tx
from casusregie.domain.case import Case
from casusregie.domain.sealed import Sealed
from casusregie.privacy_audit.envelope import Key, canonical, decrypt, encrypt
from casusregie.privacy_audit.need_to_know import REDACTED, Opener
from casusregie.projections.runner import TableProjection

DDL = (
    """CREATE TABLE IF NOT EXISTS regie_trail (
        entry_id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        case_id TEXT NOT NULL,
        case_number TEXT NOT NULL,
        on_date TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        kind TEXT NOT NULL,
        from_org TEXT NOT NULL,
        to_org TEXT NOT NULL,
        categories TEXT NOT NULL,
        request_id TEXT,
        details {blob} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS regie_trail_person ON regie_trail (person_id, on_date)",
    "CREATE INDEX IF NOT EXISTS regie_trail_case ON regie_trail (case_id)",
)


#: Why a letter for partners names the household (the purpose in the trail).
LETTER_PURPOSES = {
    "advies-aanmelder": "terugkoppeling van het besluit en advies aan de aanmelder (brief)",
    "uitnodiging-mdo": "uitnodiging voor het overleg over de casus (brief)",
}


@dataclass(frozen=True)
class TrailEntry:
    """One movement of one person's data between organisations."""

    person_id: UUID
    case_id: UUID
    case_number: str
    on: date
    recorded_at: str
    kind: str  # source | disclosure
    from_org: str
    to_org: str
    categories: list[str]
    legal_basis: str
    purpose: Sealed | str  # a request's purpose is the director's free text, sealed; the rest are fixed texts
    request_id: str | None
    event: str
    item: int | None = None  # for a disclosure: which item of the request's answer (1-based)

    def as_dict(self, person_ref: str | None = None, open_: Opener | None = None) -> dict[str, Any]:
        """The entry for output; ``open_`` (the reader's need-to-know opener) opens the purpose."""
        purpose = (open_ or _plain_only)(self.purpose)
        return {
            "person": person_ref or str(self.person_id),
            "case": self.case_number,
            "on": self.on.isoformat(),
            "recorded_at": self.recorded_at,
            "kind": self.kind,
            "from": self.from_org,
            "to": self.to_org,
            "categories": self.categories,
            "legal_basis": self.legal_basis,
            "purpose": purpose,
            "request": self.request_id,
            "event": self.event,
        }


class TrailProjection(TableProjection):
    """Trail entries from Case events (needs the case state before each event)."""

    ddl = DDL
    tables = ("regie_trail",)
    name = "trail"

    def __init__(self, app: Any) -> None:
        self.app = app
        self._pending: list[tuple[Any, ...]] = []

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        """Nothing here: the case projection calls ``follow`` with the state after each event."""

    def follow(self, notification_id: int, event: Any, case: Case) -> None:
        """The entries of one case event, given the case state after it; written by ``flush``."""
        entries = entries_for(event, case, self.app.profile)
        if entries:
            cipher = self.app.store.keyring.cipher(self.app.store.row_key_id)
            self._pending += [self._row(f"{notification_id}.{i}", e, cipher) for i, e in enumerate(entries)]

    def flush(self, tx: Tx) -> None:
        """Write the entries followed since the last flush, in one statement."""
        rows, self._pending = self._pending, []
        tx.executemany(
            "INSERT INTO regie_trail (entry_id, person_id, case_id, case_number, on_date, recorded_at, kind, "
            "from_org, to_org, categories, request_id, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (entry_id) DO NOTHING",
            rows,
        )

    def discard(self) -> None:
        """Forget entries followed but not flushed (their batch failed)."""
        self._pending = []

    def _aad(self, entry_id: str) -> bytes:
        return canonical("regie-trail-v1", self.app.store.store_id, entry_id)

    def _row(self, entry_id: str, e: TrailEntry, cipher: Key) -> tuple[Any, ...]:
        details = json.dumps(
            {"legal_basis": e.legal_basis, "purpose": _purpose_out(e.purpose), "event": e.event, "item": e.item}
        ).encode()
        sealed = encrypt(cipher, self.app.store.row_key_id, details, self._aad(entry_id))
        return (
            entry_id,
            str(e.person_id),
            str(e.case_id),
            e.case_number,
            e.on.isoformat(),
            e.recorded_at,
            e.kind,
            e.from_org,
            e.to_org,
            json.dumps(e.categories),
            e.request_id,
            sealed,
        )

    # --- queries ---------------------------------------------------------------------

    def query(
        self, tx: Tx, *, person: UUID | None = None, case: UUID | None = None, organisation: str | None = None
    ) -> list[TrailEntry]:
        clauses, params = [], []
        if person is not None:
            clauses.append("person_id = ?")
            params.append(str(person))
        if case is not None:
            clauses.append("case_id = ?")
            params.append(str(case))
        if organisation is not None:
            clauses.append("(from_org = ? OR to_org = ?)")
            params += [organisation, organisation]
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = tx.execute(
            "SELECT entry_id, person_id, case_id, case_number, on_date, recorded_at, kind, from_org, to_org, "
            f"categories, request_id, details FROM regie_trail {where} ORDER BY on_date, entry_id",
            params,
        ).fetchall()
        key = self.app.store.keyring.key(self.app.store.row_key_id)
        out = []
        for r in rows:
            details = json.loads(decrypt(key, bytes(r[11]), self._aad(r[0])))
            out.append(
                TrailEntry(
                    person_id=UUID(r[1]),
                    case_id=UUID(r[2]),
                    case_number=r[3],
                    on=date.fromisoformat(r[4]),
                    recorded_at=r[5],
                    kind=r[6],
                    from_org=r[7],
                    to_org=r[8],
                    categories=json.loads(r[9]),
                    legal_basis=details["legal_basis"],
                    purpose=_purpose_in(details["purpose"]),
                    request_id=r[10],
                    event=details["event"],
                    item=details.get("item"),
                )
            )
        return out


def _plain_only(value: Sealed | str) -> str:
    """Without a reader's opener a sealed purpose is never shown."""
    return value if isinstance(value, str) else REDACTED


def _purpose_out(purpose: Sealed | str) -> Any:
    if isinstance(purpose, Sealed):
        return {"key_id": purpose.key_id, "field": purpose.field, "blob": base64.b64encode(purpose.blob).decode()}
    return purpose


def _purpose_in(stored: Any) -> Sealed | str:
    if isinstance(stored, dict):
        return Sealed(key_id=stored["key_id"], field=stored["field"], blob=base64.b64decode(stored["blob"]))
    return str(stored)


def _members(case: Case, subjects: Iterable[UUID] | None = None) -> list[UUID]:
    wanted = list(subjects or [])
    return wanted or [m.person_id for m in case.members.values()]


def entries_for(event: Any, case: Case, profile: Any) -> list[TrailEntry]:
    """The trail entries one case event gives, given the case state after it."""
    name = type(event).__name__
    municipality = profile.organisation_id
    regie = profile.activity("regie-uitvoering")
    intake = profile.activity("aanmelding-toetsing")

    def moved(
        persons: list[UUID],
        on: date,
        kind: str,
        source: str,
        target: str,
        categories: list[str],
        basis: str,
        purpose: Sealed | str,
        request: str | None = None,
        item: int | None = None,
    ) -> list[TrailEntry]:
        recorded = event.timestamp.isoformat(timespec="seconds")
        return [
            TrailEntry(
                person,
                case.id,
                case.case_number,
                on,
                recorded,
                kind,
                source,
                target,
                categories,
                basis,
                purpose,
                request,
                name,
                item,
            )
            for person in persons
        ]

    def shared_with(target: str, persons: list[UUID], categories: list[str], purpose: str) -> list[TrailEntry]:
        """The municipality passing case data on, under the case-direction activity."""
        on = event.held_on if name == "MeetingHeld" else event.on
        return moved(persons, on, "disclosure", municipality, target, categories, regie.legal_basis, purpose)

    everyone = _members(case)
    if name == "Referred":
        return moved(
            everyone,
            case.referred_on,
            "source",
            case.referring_org,
            municipality,
            ["identificatie", "huishouden", "signalen"],
            intake.legal_basis,
            intake.purpose,
        )
    if name == "MemberAdded":
        return moved(
            [event.member["person_id"]],
            event.on,
            "source",
            municipality,
            municipality,
            ["identificatie", "huishouden"],
            regie.legal_basis,
            regie.purpose,
        )
    if name == "CorporationConsentRequested":
        return moved(
            everyone,
            event.on,
            "disclosure",
            municipality,
            event.corporation,
            ["identificatie", "huishouden"],
            intake.legal_basis,
            "toestemming van de corporatie voor de aanpak (corporatiewoning)",
        )
    if name == "InformationRequested":
        return moved(
            _members(case, event.subjects),
            event.on,
            "disclosure",
            municipality,
            event.partner,
            ["identificatie"],
            event.legal_basis,
            event.purpose,
            event.request_id,
        )
    if name == "InformationDisclosed":
        request = case.requests[event.request_id]
        out: list[TrailEntry] = []
        for number, item in enumerate(event.items, 1):
            about = _members(case, [item["subject"]] if item["subject"] is not None else None)
            out += moved(
                about,
                event.on,
                "disclosure",
                request.partner,
                municipality,
                [item["category"]],
                event.partner_legal_basis or request.legal_basis,
                request.purpose,
                event.request_id,
                item=number,
            )
        return out
    if name == "MeetingHeld":
        return [
            entry
            for partner in event.attended
            if partner != municipality
            for entry in shared_with(partner, everyone, ["signalen", "plan"], "multidisciplinair overleg over de casus")
        ]
    if name == "MeasureAgreed" and event.owner != municipality:
        about = _members(case, [event.subject] if event.subject is not None else None)
        return shared_with(event.owner, about, ["identificatie", "plan"], f"uitvoering maatregel {event.measure_id}")
    if name == "Escalated":
        return shared_with(event.level_name, everyone, ["signalen", "plan"], f"opschaling naar niveau {event.level}")
    if name == "PartnerLetterWritten":
        about = _members(case, event.persons) if event.persons else []
        if event.kind == "advies-aanmelder":  # the decision on the referral, under the intake's basis
            categories, basis = ["identificatie", "notities"], intake.legal_basis
        else:
            categories, basis = ["identificatie"], regie.legal_basis
        purpose = LETTER_PURPOSES[event.kind]
        return [
            entry
            for partner in event.to
            for entry in moved(about, event.on, "disclosure", municipality, partner, categories, basis, purpose)
        ]
    if name == "Closed" and event.handover_to:
        return shared_with(event.handover_to, everyone, ["identificatie", "plan"], "warme overdracht en nazorg")
    return []
