"""The period report (periodieke rapportage): counts only, never names.

"Think beforehand about what you want to know afterwards" (seed 002, Tilburg): referrals,
cases taken on and declined, open at the end of the period, closed by outcome, the median
duration of closed cases, escalations per level, deadlines met and missed, and overdue items
at the end date.

And the results (seed 003, 004): how the neighbours and the partners judged each case that
ended in the period, and how many ended within the profile's result target (Zwolle: within two
years). A case closed, reopened and closed again is one ended case, with its last closure; its
duration runs from the take-on (the start of the direction, as the profile's minimum guidance
is counted) to that last closure. Deadlines include the data-subject requests (AVG art. 12(3):
a month, or the extended deadline where it was extended in time).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median
from typing import Any

from casusregie.domain.calendar import add_calendar_months
from casusregie.domain.case import Case
from casusregie.domain.closure import Judgement
from casusregie.domain.errors import ValidationFailed
from casusregie.projections.worklist import items_for

JUDGEMENTS = tuple(str(j) for j in Judgement)
SUBJECT_REQUEST = "subject-request"  # the deadline kind of a data-subject request (inzage and the other rights)


@dataclass(frozen=True)
class RequestDates:
    """The dates of one data-subject request that the report counts (no reference, no person)."""

    kind: str
    received_on: date
    due_on: date  # the deadline in force: extended where the request was extended
    extended: bool
    decided_on: date | None

    @classmethod
    def from_row(cls, kind: str, received: str, due: str, extended: Any, decided: str | None) -> RequestDates:
        return cls(
            kind,
            date.fromisoformat(received),
            date.fromisoformat(due),
            bool(extended),
            date.fromisoformat(decided) if decided else None,
        )


def _within(day: date | None, start: date, end: date) -> bool:
    return day is not None and start <= day <= end


def _open_on(case: Case, day: date) -> bool:
    """Was the case referred and not yet declined or closed on ``day``?"""
    if case.referred_on > day:
        return False
    if case.decision is not None and not case.decision["taken_on"] and case.decision["on"] <= day:
        return False
    marks = sorted([(c.closed_on, "closed") for c in case.closures] + [(r["on"], "reopened") for r in case.reopenings])
    marks = [m for m in marks if m[0] <= day]
    return not marks or marks[-1][1] == "reopened"


def _ending_closure(case: Case, start: date, end: date) -> Any:
    """The closure that ended the case within the period, if it stayed closed to the period's end.

    A case closed, reopened and closed again is one closed case, counted with its last closure; a
    case closed and reopened within the period did not end in it.
    """
    if _open_on(case, end):
        return None
    closures = [c for c in case.closures if c.closed_on <= end]
    last = closures[-1] if closures else None
    return last if last is not None and last.closed_on >= start else None


def _deadlines(case: Case) -> Iterator[tuple[str, date, date]]:
    """(kind, due, done) of each deadline of the case that was met or missed by acting."""
    if case.decision is not None and case.decision.get("due") is not None:
        yield "intake", case.decision["due"], case.decision["on"]
    consent = case.corporation_consent
    if consent is not None and consent.get("due_on") is not None and consent.get("answered_on") is not None:
        yield "corporation-consent", consent["due_on"], consent["answered_on"]
    for request in case.requests.values():
        if request.due_on is not None and request.answered_on is not None:
            yield "information", request.due_on, request.answered_on
    if case.letter is not None and case.letter.get("due") is not None:
        yield "letter", case.letter["due"], case.letter["on"]


def deadline_compliance(
    cases: list[Case], start: date, end: date, requests: Sequence[RequestDates] = ()
) -> dict[str, dict[str, int]]:
    """Per kind of deadline: how many were met on time and how many late, counted when the act was done.

    A data-subject request is on time when decided by its deadline, the extended one where it was
    extended (AVG art. 12(3)).
    """
    counts: dict[str, dict[str, int]] = {}
    done_by = [(kind, due, done) for case in cases for kind, due, done in _deadlines(case)]
    done_by += [(SUBJECT_REQUEST, r.due_on, r.decided_on) for r in requests if r.decided_on is not None]
    for kind, due, done in done_by:
        if _within(done, start, end):
            row = counts.setdefault(kind, {"on_time": 0, "late": 0})
            row["on_time" if done <= due else "late"] += 1
    return dict(sorted(counts.items()))


def percent(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, to one decimal; none of nothing."""
    return round(100 * part / whole, 1) if whole else None


def _days(value: float | None) -> float | int | None:
    """A median of an even count is a half day at most: 224, not 224.0, beside 86."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(value, 1)


def _taken_on(case: Case) -> date | None:
    return case.decision["on"] if case.decision is not None and case.decision["taken_on"] else None


def _judgements(closures: list[Any]) -> dict[str, dict[str, int]]:
    """Per judge (the neighbours, the partners): how many cases they judged improved, unchanged, ..."""
    out: dict[str, dict[str, int]] = {}
    for judge, attribute in (("neighbours", "judgement_neighbours"), ("partners", "judgement_partners")):
        counts = Counter(str(getattr(c, attribute) or "unknown") for c in closures)
        out[judge] = {j: counts.pop(j, 0) for j in JUDGEMENTS} | dict(sorted(counts.items()))
    return out


def _result_target(
    ended: list[tuple[Case, Any]], open_at_end: list[Case], end: date, months: int | None
) -> dict[str, Any] | None:
    """How many ended cases ended within ``months`` of their take-on; none where the profile has no target."""
    if not months:
        return None
    within = beyond = 0
    for case, closure in ended:
        started = _taken_on(case) or case.referred_on  # a closed case was taken on; older records may lack it
        if closure.closed_on <= add_calendar_months(started, months):
            within += 1
        else:
            beyond += 1
    still_open = sum(
        1 for c in open_at_end if (started := _taken_on(c)) is not None and add_calendar_months(started, months) < end
    )
    return {
        "months": months,
        "measured_from": "take-on",
        "closed_within": within,
        "closed_beyond": beyond,
        "closed_within_percent": percent(within, within + beyond),
        "open_beyond_at_end": still_open,
    }


def _subject_requests(requests: Sequence[RequestDates], start: date, end: date) -> dict[str, int]:
    decided = [r for r in requests if _within(r.decided_on, start, end)]
    return {
        "received": sum(1 for r in requests if _within(r.received_on, start, end)),
        "decided": len(decided),
        "extended": sum(1 for r in decided if r.extended),
    }


def period_report(
    cases: list[Case],
    start: date,
    end: date,
    municipality: str,
    *,
    requests: Sequence[RequestDates] = (),
    result_target_months: int | None = None,
) -> dict[str, Any]:
    """Aggregate figures over the cases (and the data-subject requests) for the period [start, end]."""
    referred = [c for c in cases if _within(c.referred_on, start, end)]
    decided = [c for c in cases if c.decision is not None and _within(c.decision["on"], start, end)]
    ended = [(c, closure) for c in cases if (closure := _ending_closure(c, start, end)) is not None]
    reopened = [c for c in cases if any(_within(r["on"], start, end) for r in c.reopenings)]
    open_at_end = [c for c in cases if _open_on(c, end)]
    durations = [(closure.closed_on - c.referred_on).days for c, closure in ended]
    escalations = Counter(
        f"{e.level} {e.level_name}" for c in cases for e in c.escalations.values() if _within(e.raised_on, start, end)
    )
    overdue = Counter(
        item.kind for c in cases if c.referred_on <= end for item in items_for(c, municipality) if item.overdue(end)
    )
    overdue[SUBJECT_REQUEST] += sum(
        1 for r in requests if r.received_on <= end and r.due_on < end and (r.decided_on is None or r.decided_on > end)
    )
    overdue = +overdue  # drop a zero count
    deadlines = deadline_compliance(cases, start, end, requests)
    return {
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "referrals": len(referred),
        "taken_on": sum(1 for c in decided if c.decision and c.decision["taken_on"]),
        "declined": sum(1 for c in decided if c.decision and not c.decision["taken_on"]),
        "open_at_end": len(open_at_end),
        "closed": len(ended),
        "closed_by_outcome": dict(sorted(Counter(closure.outcome for _, closure in ended).items())),
        "reopened": len(reopened),
        "median_duration_days": _days(median(durations) if durations else None),
        "judgements_at_closure": _judgements([closure for _, closure in ended]),
        "result_target": _result_target(ended, open_at_end, end, result_target_months),
        "escalations_by_level": dict(sorted(escalations.items())),
        "deadlines": deadlines,
        "deadlines_on_time_percent": {k: percent(v["on_time"], v["on_time"] + v["late"]) for k, v in deadlines.items()},
        "subject_requests": _subject_requests(requests, start, end),
        "overdue_at_end": dict(sorted(overdue.items())),
        "overdue_total": sum(overdue.values()),
    }


# --- the periods of a chart, and the report as rows (CSV) ----------------------------------------------


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def periods_between(start: date, end: date, most: int = 36) -> list[tuple[date, date]]:
    """The calendar months of [start, end] (the first and last cut to the period), oldest first.

    A period of more than ``most`` months is cut in quarters, and one of more than ``most``
    quarters in years, so a chart over a long period stays readable; more than ``most`` years
    is refused (each period is a report over every case: the work stays bounded).
    """
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    if months > most * 12:
        raise ValidationFailed(f"a chart covers at most {most} years, not {start} to {end}")
    step = 1 if months <= most else 3 if months <= most * 3 else 12
    out: list[tuple[date, date]] = []
    first = start.replace(day=1)
    if step == 3:
        first = first.replace(month=(first.month - 1) // 3 * 3 + 1)
    elif step == 12:
        first = first.replace(month=1)
    while first <= end:
        following = first
        for _ in range(step):
            following = _next_month(following)
        out.append((max(first, start), min(following - timedelta(days=1), end)))
        first = following
    return out


def report_rows(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """The report flattened to (figure, value) rows, the figure named by its path: ``deadlines.intake.late``."""
    rows: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += report_rows(value, f"{name}.")
        else:
            rows.append((name, "" if value is None else str(value)))
    return rows


def _cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (a profile's level name is text someone typed)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def report_csv(data: dict[str, Any]) -> str:
    """The report as CSV: a header ``figure,value``, then one row per figure."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["figure", "value"])
    for name, value in report_rows(data):
        writer.writerow([_cell(name), _cell(value)])
    return out.getvalue()
