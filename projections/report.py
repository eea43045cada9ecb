"""The period report (periodieke rapportage): counts only, never names.

"Think beforehand about what you want to know afterwards" (seed 002, Tilburg): referrals,
cases taken on and declined, open at the end of the period, closed by outcome, the median
duration of closed cases, escalations per level and overdue items at the end date.
"""

from __future__ import annotations

from collections import Counter
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


def period_report(cases: list[Case], start: date, end: date, municipality: str) -> dict[str, Any]:
    """Aggregate figures over the cases for the period [start, end]."""
    referred = [c for c in cases if _within(c.referred_on, start, end)]
    decided = [c for c in cases if c.decision is not None and _within(c.decision["on"], start, end)]
    closures = [(c, cl) for c in cases for cl in c.closures if _within(cl.closed_on, start, end)]
    open_at_end = [c for c in cases if _open_on(c, end)]
    durations = [(cl.closed_on - c.referred_on).days for c, cl in closures]
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
        "closed": len(closures),
        "closed_by_outcome": dict(sorted(Counter(cl.outcome for _, cl in closures).items())),
        "median_duration_days": median(durations) if durations else None,
        "escalations_by_level": dict(sorted(escalations.items())),
        "overdue_at_end": dict(sorted(overdue.items())),
        "overdue_total": sum(overdue.values()),
    }
