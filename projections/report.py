"""The period report (periodieke rapportage): counts only, never names.

"Think beforehand about what you want to know afterwards" (seed 002, Tilburg): referrals,
cases taken on and declined, open at the end of the period, closed by outcome, the median
duration of closed cases, escalations per level, deadlines met and missed, and overdue items
at the end date.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from statistics import median
from typing import Any

from casusregie.domain.case import Case
from casusregie.projections.worklist import items_for


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


def deadline_compliance(cases: list[Case], start: date, end: date) -> dict[str, dict[str, int]]:
    """Per kind of deadline: how many were met on time and how many late, counted when the act was done."""
    counts: dict[str, dict[str, int]] = {}
    for case in cases:
        for kind, due, done in _deadlines(case):
            if _within(done, start, end):
                row = counts.setdefault(kind, {"on_time": 0, "late": 0})
                row["on_time" if done <= due else "late"] += 1
    return dict(sorted(counts.items()))


def _days(value: float | None) -> float | int | None:
    """A median of an even count is a half day at most: 224, not 224.0, beside 86."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(value, 1)


def period_report(cases: list[Case], start: date, end: date, municipality: str) -> dict[str, Any]:
    """Aggregate figures over the cases for the period [start, end]."""
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
        "escalations_by_level": dict(sorted(escalations.items())),
        "deadlines": deadline_compliance(cases, start, end),
        "overdue_at_end": dict(sorted(overdue.items())),
        "overdue_total": sum(overdue.values()),
    }
