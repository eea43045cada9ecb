"""Auditor replay (reconstructie): a case as it stood at a moment, its history, what changed.

Built from the case's own events in the event store (never from projections, which an
auditor must not have to trust): the state is the aggregate rebuilt from the events
recorded up to the moment and rendered with ``render_case``; the narrative tells, per
event, when it was recorded, its business date, who did it with which role and
organisation, what happened (English with the Dutch term), the purpose and legal basis of
information requests and disclosures, and what was disclosed to whom (categories; the
content only if the profile grants auditors personal data).

Two time axes (tijdassen), always named in the result (``axis``):

* ``recorded`` (registratietijd, the default): by when each event was recorded. The state is
  what the log held at that moment; this is what an auditor proves, and it cannot be moved by
  anything a user types.
* ``business`` (feitelijke datum): by the date users gave each event (``--on``): what had
  happened in the case by that date as the users dated it, e.g. a referral recorded today but
  dated a month ago. Only the (UTC) date of the moment counts on this axis.

Each result also counts what the *other* axis would add (``other_axis``, with a ``hint``), so a
replay by recording time that shows nothing while back-dated events exist says so.

Only auditors replay; refusals go through ``Session.deny`` (logged), and every replay is
logged through ``Session.log_read`` (activity ``toezicht-audit``) before any sealed field
is opened, with the case's persons as subjects when personal data is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from casusregie.domain.access import Action
from casusregie.domain.case import Case
from casusregie.domain.errors import NotFound, ValidationFailed
from casusregie.domain.roles import ROLE_NAMES_NL, Role
from casusregie.domain.sealed import Sealed
from casusregie.privacy_audit.need_to_know import (
    FULL_SECTIONS,
    Refusal,
    Visibility,
    case_visibility,
    keyring_opener,
    opener_for,
)
from casusregie.privacy_audit.proofs import access_traces_of_case
from casusregie.projections.case_view import ERASED, REDACTED, Opener, render_case

__all__ = [
    "AUDIT_ACTIVITY",
    "AXES",
    "BUSINESS",
    "ERASED",
    "RECORDED",
    "TERMS",
    "business_day",
    "case_state_at",
    "diff_case",
    "diff_states",
    "folded",
    "narrate",
    "parse_moment",
    "replay_case",
    "require_auditor",
    "resolve_case",
]

AUDIT_ACTIVITY = "toezicht-audit"

RECORDED = "recorded"
BUSINESS = "business"
#: The time axes: (English, Dutch) names.
AXES: dict[str, tuple[str, str]] = {
    RECORDED: ("recording time", "registratietijd"),
    BUSINESS: ("business date", "feitelijke datum"),
}

#: What each event means, in plain English with the Dutch term beside it.
TERMS: dict[str, tuple[str, str]] = {
    "Referred": ("household referred", "aangemeld"),
    "DirectorAssigned": ("case director assigned", "regisseur toegewezen"),
    "MemberAdded": ("household member added", "gezinslid toegevoegd"),
    "ResidentConsentRecorded": ("residents' consent recorded", "toestemming bewoners vastgelegd"),
    "CorporationConsentRequested": ("housing corporation asked for consent", "toestemming corporatie gevraagd"),
    "CorporationConsentAnswered": ("housing corporation answered", "antwoord corporatie"),
    "IntakeAssessed": ("referral assessed against the criteria", "toetsing"),
    "InformationRequested": ("information requested from a partner", "informatieverzoek"),
    "InformationDisclosed": ("information disclosed by a partner", "informatie verstrekt"),
    "InformationDeclined": ("information request declined", "verzoek geweigerd"),
    "TakenOn": ("case taken on", "in regie genomen"),
    "Declined": ("case not taken on; advice given", "niet in regie genomen"),
    "ResidentsInformed": ("residents informed by letter", "bewoners per brief geïnformeerd"),
    "ResidentLetterWithheld": ("letter to the residents withheld, with reasons", "brief achterwege gelaten"),
    "PartnerLetterWritten": ("letter written for partners (a disclosure)", "brief aan partners geschreven"),
    "PartnerInvolved": ("partner involved", "partner betrokken"),
    "MeetingScheduled": ("case conference scheduled", "overleg gepland"),
    "MeetingHeld": ("case conference held", "overleg gehouden"),
    "GoalSet": ("plan goal set", "doel vastgesteld"),
    "MeasureAgreed": ("measure agreed", "maatregel afgesproken"),
    "MeasureProgressReported": ("progress on a measure reported", "voortgang gemeld"),
    "MeasureRescheduled": ("measure rescheduled", "maatregel verzet"),
    "PlanRevised": ("plan revised", "plan herzien"),
    "ClientAgreed": ("client agreed to the plan", "cliënt akkoord met plan"),
    "Evaluated": ("case evaluated", "evaluatie"),
    "Escalated": ("case escalated", "opgeschaald"),
    "EscalationResolved": ("escalation resolved", "opschaling afgehandeld"),
    "Closed": ("case closed", "afgesloten"),
    "Reopened": ("case reopened", "heropend"),
    "HomeVisited": ("home visit or invitation by the chair", "huisbezoek"),
    "ProblemAdded": ("problem on a life domain added", "probleem toegevoegd"),
    "ProblemUpdated": ("problem on a life domain described anew", "probleem bijgewerkt"),
    "ProblemResolved": ("problem on a life domain resolved", "probleem opgelost"),
    "JournalEntryWritten": ("note or contact moment written in the journal", "notitie of contactmoment"),
    "DocumentAttached": ("document attached (stored encrypted)", "stuk toegevoegd"),
    "DocumentWithdrawn": ("document withdrawn; it stays in the file", "stuk ingetrokken"),
    "AftercareContacted": ("aftercare contact after closure", "nazorgcontact"),
    "Erasure.Recorded": ("personal data erased by destroying the key", "gegevens gewist (crypto-shredding)"),
    "MemberRectified": ("a person's data rectified", "gegevens gerectificeerd"),
    "RestrictionSet": ("processing restricted or lifted", "beperking van verwerking"),
}

_INTERNAL = {
    "originator_id",
    "originator_version",
    "originator_topic",
    "timestamp",
    "by",
    "registered_by",
    "on",
    "class_version",
}
_BUSINESS_DATES = ("on", "referred_on", "held_on")
# Details an auditor without the grant sees only as redacted (withheld_items).
_WITHHELD = {"InformationDeclined": ("reason",), "ResidentLetterWithheld": ("ground", "motivation")}


# --- moments -------------------------------------------------------------------------------------------


def parse_moment(text: str | None, *, default: datetime | None = None) -> datetime:
    """An ISO date or date-time, in UTC. A date means the END of that day (everything recorded on it)."""
    if text is None or not str(text).strip():
        return default or datetime.now(UTC)
    text = str(text).strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: a moment that UTC would put outside years 1-9999
        raise ValidationFailed(
            f"{text[:40]!r} is not an ISO date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS][Z]) in years 1-9999"
        ) from None


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


# --- rebuilding -----------------------------------------------------------------------------------------


def case_events(app: Any, case_id: UUID) -> list[Any]:
    """Every event of the case from the event store (decrypted rows, not projections or snapshots)."""
    return list(app.events.get(case_id))


def business_day(record: Any) -> date:
    """The date a user gave the event (``on``, ``referred_on``, ``held_on``), else the UTC date it was recorded.

    Nearly every event carries the date its user gave. One kind does not: ``MeetingScheduled``
    carries only the date the meeting is *for* (``scheduled_for``, often in the future), which
    says nothing about when it was scheduled. For such an event the recording date stands in: it
    is the only date the system can vouch for, and the latest the act can have happened, so the
    business axis never shows an event as having happened before anyone can know it did.
    """
    value = next((getattr(record, k) for k in _BUSINESS_DATES if getattr(record, k, None) is not None), None)
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    return record.timestamp.astimezone(UTC).date()


def _check_axis(axis: str) -> str:
    if axis not in AXES:
        raise ValidationFailed(f"unknown axis {str(axis)[:40]!r}: use {' or '.join(AXES)}")
    return axis


def _counts(record: Any, moment: datetime, axis: str) -> bool:
    """Whether the record lies at or before ``moment`` on the axis (by its date only on the business axis)."""
    if axis == BUSINESS:
        return business_day(record) <= moment.astimezone(UTC).date()
    return bool(record.timestamp <= moment)


def _order(axis: str) -> Any:
    """The narrative's order: by recording time; or by business date, recording time within a day."""
    if axis == BUSINESS:
        return lambda r: (business_day(r), r.timestamp)
    return lambda r: r.timestamp


def folded(events: Sequence[Any], moment: datetime, axis: str = RECORDED) -> int:
    """How many events the state at ``moment`` is built from: the longest run from version 1 on that all count.

    An aggregate is rebuilt in version order only (each event is applied to the state the ones
    before it left: a meeting held needs its scheduling, a disclosure its request), so the state
    is that after the last event of the longest version prefix lying at or before ``moment``.
    On the recording axis that is every event recorded by then. On the business axis an event
    recorded after one dated later, but itself dated on or before the date (entered late and
    back-dated), is listed in the narrative yet not folded into the state (``not_in_state``):
    folding it in without the events recorded before it would show a state the case never had
    and no rule ever checked. The state shown is always one the log really held.
    """
    count = 0
    for event in events:
        if not _counts(event, moment, axis):
            break
        count += 1
    return count


def case_state_at(events: Sequence[Any], moment: datetime, axis: str = RECORDED) -> Case | None:
    """The case rebuilt from the events up to ``moment`` on the axis (None: not yet referred); see ``folded``."""
    from eventsourcing.application import project_aggregate

    upto = list(events[: folded(events, moment, axis)])
    return project_aggregate(None, upto) if upto else None


# --- the narrative --------------------------------------------------------------------------------------


def _event_name(event: Any) -> str:
    """``Referred`` for a Case event; ``Erasure.Recorded`` for a record of another aggregate."""
    qualname = type(event).__qualname__
    owner, _, name = qualname.rpartition(".")
    return name if owner in ("", "Case") else qualname


ERASURE_TOPIC = "%:Erasure.Recorded"


def erasure_records(app: Any, case_id: UUID) -> list[Any]:
    """The erasure records (their own aggregate) about this case; only those rows are decrypted."""
    from eventsourcing.persistence import StoredEvent

    with app.store.db.transaction(commit=False) as tx:
        rows = tx.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events WHERE topic LIKE ?",
            (ERASURE_TOPIC,),
        ).fetchall()
    found = []
    for oid, version, topic, state in rows:
        stored = StoredEvent(
            originator_id=UUID(str(oid)), originator_version=int(version), topic=topic, state=bytes(state)
        )
        try:
            event = app.mapper.to_domain_event(stored)
        except Exception:  # noqa: S112 - a damaged row is the verifier's business, not the replay's
            continue
        if getattr(event, "case_id", None) == case_id:
            found.append(event)
    return found


def _erased_by(records: Iterable[Any], moment: datetime, axis: str = RECORDED) -> set[str]:
    """Ids of the persons whose erasure lies at or before ``moment`` on the axis."""
    return {str(p) for r in records if _counts(r, moment, axis) for p in getattr(r, "persons", ())}


def _mark_erased(doc: dict[str, Any] | None, erased: set[str], refs: dict[str, str]) -> dict[str, Any] | None:
    """Erasure is a fact of the keyring, not of the case's events: flag those members in the view."""
    if doc is None or not erased:
        return doc
    erased_refs = {refs.get(pid, pid) for pid in erased}
    for member in doc.get("members", []):
        if member.get("person") in erased_refs:
            member["erased"] = True
    return doc


class _Narrator:
    def __init__(self, setup: Any, profile: Any, opener: Opener, visibility: Visibility, refs: dict[str, str]) -> None:
        self.setup = setup
        self.profile = profile
        self.opener = opener
        self.visibility = visibility
        self.refs = refs
        self.grants = set(profile.auditors.sees)
        self.requests: dict[str, dict[str, Any]] = {}

    def value(self, value: Any) -> Any:
        if isinstance(value, Sealed):
            return self.opener(value)
        if isinstance(value, UUID):
            return self.refs.get(str(value), str(value))
        if isinstance(value, dict):
            return {str(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return _iso(value)

    def personal(self, value: Any) -> Any:
        """A free-text field: sealed now, plain in older records; filtered either way."""
        return self.opener(value)

    def who(self, user_id: str | None) -> dict[str, Any]:
        if not user_id:
            return {"by": None, "role": None, "role_nl": None, "organisation": None}
        user = self.setup.user(user_id)
        if user is None:
            return {"by": user_id, "role": "unknown", "role_nl": "onbekend", "organisation": None}
        return {
            "by": user_id,
            "role": str(user.role),
            "role_nl": ROLE_NAMES_NL.get(Role(user.role), str(user.role)),
            "organisation": user.organisation,
        }

    def entry(self, event: Any) -> dict[str, Any]:
        name = _event_name(event)
        english, dutch = TERMS.get(name, (name, name))
        data = {k: v for k, v in vars(event).items() if k not in _INTERNAL}
        by = getattr(event, "by", None) or getattr(event, "registered_by", None)
        business = next((getattr(event, k) for k in _BUSINESS_DATES if getattr(event, k, None) is not None), None)
        entry: dict[str, Any] = {
            "version": event.originator_version if "." not in name else None,
            "record": name if "." in name else f"Case.{name}",
            "recorded_at": _iso(event.timestamp),
            "business_date": _iso(business),
            "in_state": True if "." not in name else None,  # see replay_case: False when listed but not folded
            "event": name,
            "what": f"{english} ({dutch})",
            **self.who(by),
        }
        if name == "Referred":
            data.pop("case_id", None)
            data["members"] = [self.refs.get(str(m["person_id"]), str(m["person_id"])) for m in data["members"]]
            data["problems"] = sorted(data["problems"])  # life domains; the texts are in the state
            data.pop("reason", None)
        if name == "MemberAdded":
            data["member"] = self.refs.get(str(data["member"]["person_id"]), str(data["member"]["person_id"]))
        if name == "InformationRequested":
            self.requests[data["request_id"]] = {**data, "by": by}
            entry["purpose"] = self.personal(data.pop("purpose"))
            entry["legal_basis"] = data.pop("legal_basis")
            entry["to"] = data.get("partner")
        if name in ("InformationDisclosed", "InformationDeclined"):
            request = self.requests.get(data["request_id"], {})
            entry["purpose"] = self.personal(request.get("purpose"))
            entry["legal_basis"] = request.get("legal_basis")
            entry["partner"] = request.get("partner")
            requester = request.get("by")
            role = f", {self.who(requester)['role']}" if requester else ""
            entry["to"] = f"{self.profile.organisation_id} (requested by {requester}{role})"
        if name == "InformationDisclosed":
            entry["partner_legal_basis"] = data.pop("partner_legal_basis", "") or None
            items = data.pop("items", [])
            if "disclosure_trail" in self.grants:
                entry["disclosed"] = [
                    {
                        "category": i["category"],
                        "about": self.refs.get(str(i["subject"]), "huishouden")
                        if i["subject"] is not None
                        else "huishouden",
                        **({"content": self.value(i["content"])} if self.visibility.personal_data else {}),
                    }
                    for i in items
                ]
            else:
                entry["disclosed"] = f"{len(items)} item(s); the profile does not grant auditors the disclosure trail"
        for withheld in _WITHHELD.get(name, ()):
            if withheld in data and "withheld_items" not in self.grants:
                data[withheld] = REDACTED
        entry["details"] = {k: self.value(v) for k, v in data.items()}
        return entry


def narrate(
    events: Iterable[Any],
    setup: Any,
    profile: Any,
    opener: Opener,
    visibility: Visibility,
    refs: dict[str, str],
    history: Iterable[Any] = (),
) -> list[dict[str, Any]]:
    """The chronological narrative of ``events`` (one entry each, in order).

    ``history``: the case's other events, for context a window needs (e.g. the request a
    disclosure answers, with its purpose and legal basis).
    """
    narrator = _Narrator(setup, profile, opener_for(visibility, opener), visibility, refs)
    for event in history:
        if _event_name(event) == "InformationRequested":
            narrator.requests[event.request_id] = {
                "purpose": event.purpose,
                "legal_basis": event.legal_basis,
                "partner": event.partner,
                "by": event.by,
            }
    return [narrator.entry(e) for e in events]


def _refs(events: Sequence[Any]) -> dict[str, str]:
    """Person id -> person ref, from every member the case ever had (by the latest event)."""
    final = case_state_at(events, datetime.max.replace(tzinfo=UTC))
    return {} if final is None else {str(m.person_id): m.ref for m in final.members.values()}


# --- access trail ----------------------------------------------------------------------------------------


def access_trail(app: Any, case_id: UUID, until: datetime, since: datetime | None = None) -> list[dict[str, Any]]:
    """Who processed the case's data, when, how and on what ground (from the access log)."""
    traces, _failed = access_traces_of_case(app.store.db, app.mapper.to_domain_event, case_id)
    out = []
    for trace_id in traces:
        trace = app.repository.get(trace_id)
        if trace.started_at > until or (since is not None and trace.started_at <= since):
            continue
        out.append(
            {
                "at": _iso(trace.started_at),
                "name": trace.name,
                "by": trace.actor,
                "on_behalf_of": trace.on_behalf_of,
                "role": trace.role,
                "organisation": trace.organisation,
                "action": trace.action,
                "activity": trace.activity,
                "outcome": trace.outcome,
                "reason": trace.reason or None,
                "subjects": len(trace.subjects),
                "trace_id": trace.trace_id,
            }
        )
    return sorted(out, key=lambda r: r["at"])


# --- authorisation -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRef:
    """A case known by id and number only, resolved without decrypting anything.

    Enough for authorisation and logging (``Session.deny`` and ``case_visibility`` read no
    more for auditors), so a bundle can be refused or made even when rows are damaged.
    """

    id: UUID
    case_number: str


def resolve_case(session: Any, ref: str) -> CaseRef:
    """The case a number or id names, from the reference index (no event is decrypted)."""
    found = session.refs.resolve(ref, "case")
    if found is None:
        raise NotFound(f"unknown case {ref}")
    case_id = found[0]
    with session.app.store.db.transaction(commit=False) as tx:
        number = tx.scalar("SELECT ref FROM regie_refs WHERE kind = 'case' AND aggregate_id = ?", (str(case_id),))
    return CaseRef(case_id, str(number or ref))


def require_auditor(session: Any, name: str, case: Case | CaseRef | None = None) -> Visibility:
    """Auditors only; the refusal is logged. Returns what the profile lets auditors see."""
    actor = session.actor
    if actor.role != Role.AUDITOR:
        session.deny(name, AUDIT_ACTIVITY, Action.READ, f"only auditors may run {name}; you are a {actor.role}", case)
    if case is None:
        return Visibility(sections=FULL_SECTIONS, personal_data="personal_data" in session.profile.auditors.sees)
    visibility = case_visibility(actor, case, session.profile)  # type: ignore[arg-type]
    if isinstance(visibility, Refusal):
        session.deny(name, AUDIT_ACTIVITY, Action.READ, visibility.reason, case)
    assert not isinstance(visibility, Refusal)
    return visibility


def _subjects(case: Case, visibility: Visibility) -> list[UUID]:
    return [m.person_id for m in case.members.values()] if visibility.personal_data else []


# --- replay and diff -----------------------------------------------------------------------------------------


def _axis_label(axis: str) -> str:
    english, dutch = AXES[axis]
    return f"{english} ({dutch})"


def _other(axis: str) -> str:
    return BUSINESS if axis == RECORDED else RECORDED


def _moment(moment: datetime, axis: str) -> str:
    """How the moment is shown: the instant by recording time, only its date by business date."""
    return moment.astimezone(UTC).date().isoformat() if axis == BUSINESS else _iso(moment)


def _mark_unfolded(narrative: list[dict[str, Any]], unfolded: Iterable[int]) -> None:
    left_out = set(unfolded)
    for entry in narrative:
        if entry["version"] in left_out:
            entry["in_state"] = False


def replay_case(
    session: Any, case_ref: str, as_of: datetime, *, axis: str = RECORDED, with_access: bool = False
) -> dict[str, Any]:
    """The case as it stood at ``as_of`` on the time axis, with the narrative up to then. Auditors only; logged first.

    ``axis`` ``recorded`` (registratietijd): the events recorded by ``as_of``, in recording
    order; the state is what the log held then. ``business`` (feitelijke datum): the events
    dated on or before ``as_of``'s UTC date (``business_day``), in date order; the state is
    built by the rule of ``folded``: events dated by then but recorded after an event dated
    later are listed, flagged ``in_state: false`` and named in ``not_in_state``, not folded.

    ``other_axis`` counts the records the other axis would show and this one does not (e.g.
    events dated on or before the date but recorded later), with a ``hint`` when there are any.
    The access log (``with_access``) has no business dates: it is always by recording time.
    """
    _check_axis(axis)
    case = session.case(case_ref)
    visibility = require_auditor(session, "audit.replay", case)
    session.log_read("audit.replay", AUDIT_ACTIVITY, Action.READ, case.id, _subjects(case, visibility))
    app = session.app
    events = case_events(app, case.id)
    erasures = erasure_records(app, case.id)
    count = folded(events, as_of, axis)
    state = case_state_at(events, as_of, axis)
    opener = keyring_opener(app.store.keyring)
    refs = _refs(events)
    upto = [e for e in events if _counts(e, as_of, axis)]
    told = sorted(upto + [r for r in erasures if _counts(r, as_of, axis)], key=_order(axis))
    unfolded = [e.originator_version for e in upto[count:]]
    other = _other(axis)
    missed = [r for r in [*events, *erasures] if _counts(r, as_of, other) and not _counts(r, as_of, axis)]
    rendered = None if state is None else render_case(state, opener, visibility)
    narrative = narrate(told, app.setup(), session.profile, opener, visibility, refs, events)
    _mark_unfolded(narrative, unfolded)
    result: dict[str, Any] = {
        "case": case.case_number,
        "case_id": str(case.id),
        "as_of": _moment(as_of, axis),
        "axis": axis,
        "axis_label": _axis_label(axis),
        "personal_data": visibility.personal_data,
        "events": len(upto),
        "state_version": count or None,
        "not_in_state": unfolded,
        "other_axis": {"axis": other, "events": len(missed)},
        "hint": _replay_hint(len(missed), as_of, axis),
        "state": _mark_erased(rendered, _erased_by(erasures, as_of, axis), refs),
        "narrative": narrative,
    }
    if with_access:
        result["access_log"] = _access(session, case.id, as_of)
    return result


def _replay_hint(missed: int, as_of: datetime, axis: str) -> str | None:
    if not missed:
        return None
    day = as_of.astimezone(UTC).date().isoformat()
    if axis == RECORDED:
        return (
            f"{missed} event(s) dated on or before {day} were recorded after {_iso(as_of)}; "
            f"replayed by {_axis_label(BUSINESS)} they count"
        )
    return (
        f"{missed} event(s) recorded by {_iso(as_of)} are dated after {day}; "
        f"replayed by {_axis_label(RECORDED)} they count"
    )


def _access(session: Any, case_id: UUID, until: datetime, since: datetime | None = None) -> Any:
    if "access_log" not in session.profile.auditors.sees:
        return "the profile does not grant auditors the access log"
    return access_trail(session.app, case_id, until, since)


def _flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists to ``path -> value``; list items keyed by their id where they have one."""
    out: dict[str, Any] = {}
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(doc, list) and not doc:
        return out  # an empty list says nothing a later non-empty one does not
    elif isinstance(doc, list) and all(isinstance(i, dict) for i in doc):
        for index, item in enumerate(doc):
            ident = next(
                (
                    item[k]
                    for k in ("request", "measure", "goal", "meeting", "escalation", "person", "revision")
                    if k in item
                ),
                index,
            )
            out.update(_flatten(item, f"{prefix}[{ident}]"))
    else:
        out[prefix] = doc
    return out


def diff_states(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Field-level differences between two rendered case states, in path order."""
    a, b = _flatten(before or {}), _flatten(after or {})
    changes = []
    for path in sorted(set(a) | set(b)):
        if a.get(path, _MISSING) != b.get(path, _MISSING):
            changes.append({"path": path, "before": a.get(path), "after": b.get(path)})
    return changes


_MISSING = object()


def diff_case(
    session: Any, case_ref: str, t1: datetime, t2: datetime, *, axis: str = RECORDED, with_access: bool = False
) -> dict[str, Any]:
    """What changed between ``t1`` and ``t2`` on the time axis: the events in (t1, t2] and a field-level diff.

    The two states are built as ``replay_case`` builds them (see ``folded``); on the business
    axis the window is by date, and ``not_in_state`` names, per end, the events dated by then
    that its state leaves out. ``other_axis`` counts the records in the window on the other axis
    but not on this one (e.g. dated in it but recorded outside it).
    """
    _check_axis(axis)
    if t2 < t1:
        t1, t2 = t2, t1
    case = session.case(case_ref)
    visibility = require_auditor(session, "audit.diff", case)
    session.log_read("audit.diff", AUDIT_ACTIVITY, Action.READ, case.id, _subjects(case, visibility))
    app = session.app
    events = case_events(app, case.id)
    erasures = erasure_records(app, case.id)
    opener = keyring_opener(app.store.keyring)
    refs = _refs(events)
    rendered = []
    unfolded: dict[str, list[int]] = {}
    for end, moment in (("from", t1), ("to", t2)):
        state = case_state_at(events, moment, axis)
        doc = None if state is None else render_case(state, opener, visibility)
        rendered.append(_mark_erased(doc, _erased_by(erasures, moment, axis), refs))
        upto = [e for e in events if _counts(e, moment, axis)]
        unfolded[end] = [e.originator_version for e in upto[folded(events, moment, axis) :]]

    def within(record: Any, on: str) -> bool:
        return _counts(record, t2, on) and not _counts(record, t1, on)

    records = [*events, *erasures]
    between = sorted((r for r in records if within(r, axis)), key=_order(axis))
    other = _other(axis)
    missed = sum(1 for r in records if within(r, other) and not within(r, axis))
    narrative = narrate(between, app.setup(), session.profile, opener, visibility, refs, events)
    _mark_unfolded(narrative, unfolded["to"])
    result: dict[str, Any] = {
        "case": case.case_number,
        "case_id": str(case.id),
        "from": _moment(t1, axis),
        "to": _moment(t2, axis),
        "axis": axis,
        "axis_label": _axis_label(axis),
        "personal_data": visibility.personal_data,
        "not_in_state": unfolded,
        "other_axis": {"axis": other, "events": missed},
        "hint": _diff_hint(missed, axis),
        "narrative": narrative,
        "changes": diff_states(rendered[0], rendered[1]),
    }
    if with_access:
        result["access_log"] = _access(session, case.id, t2, t1)
    return result


def _diff_hint(missed: int, axis: str) -> str | None:
    if not missed:
        return None
    if axis == RECORDED:
        return f"{missed} event(s) dated in this window were recorded outside it; by {_axis_label(BUSINESS)} they count"
    return f"{missed} event(s) recorded in this window are dated outside it; by {_axis_label(RECORDED)} they count"
