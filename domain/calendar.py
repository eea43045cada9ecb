"""Deadline arithmetic (termijnberekening), pure and deterministic.

Which rule applies when:

* **Profile deadlines** (termijnen from a municipality profile: intake decision,
  corporation consent, information request, ...) are a :class:`DeadlineRule` and
  go through :func:`due_date`. ``unit = "calendar"`` counts every day;
  ``unit = "working"`` counts only working days (werkdagen): not Saturday, not
  Sunday and not a Dutch public holiday. Counting starts the day after ``start``,
  so a 5-working-day deadline set on a Friday ends the next Friday.
* **Periods in months** use :func:`add_calendar_months`, following EU Regulation
  1182/71 art. 3(2)(c): the period ends on the same day-number in the target
  month, or on that month's last day when it has no such day. The AVG art. 12(3)
  term for answering a data-subject request (one month from receipt, extendable
  by two further months) is ``add_calendar_months(received, 1)`` (or ``3``).
* **Periods in weeks** use :func:`add_weeks`. The Awb art. 6:7 objection term
  (bezwaartermijn) of six weeks is ``add_weeks(sent, 6)``, which equals
  ``due_date(sent, DeadlineRule(days=42, unit="calendar"))``.

A period that ends on a Saturday, Sunday or holiday is *not* moved here; where
the law moves it to the next working day (Algemene termijnenwet art. 1, EU
Regulation 1182/71 art. 3(4)) the caller applies :func:`next_working_day`.

Holidays come from the ``holidays`` library's Dutch public calendar
(Nieuwjaarsdag, Goede Vrijdag, Pasen, Koningsdag, Hemelvaartsdag, Pinksteren,
Kerstmis, and Bevrijdingsdag in lustrum years, as most collective agreements
have it), computed once per year.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

from casusregie.domain.profile import DeadlineRule

__all__ = [
    "add_calendar_months",
    "add_weeks",
    "due_date",
    "holidays_in",
    "is_working_day",
    "next_working_day",
]

_ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=256)
def holidays_in(year: int) -> frozenset[date]:
    """Dutch public holidays (feestdagen) in ``year``."""
    return frozenset(holidays.country_holidays("NL", years=year).keys())


def is_working_day(d: date) -> bool:
    """Whether ``d`` is a working day (werkdag): Monday to Friday, not a holiday."""
    return d.weekday() < 5 and d not in holidays_in(d.year)


def next_working_day(d: date) -> date:
    """The first working day on or after ``d`` (``d`` itself if it is one).

    This is the roll-forward of the Algemene termijnenwet and EU Regulation
    1182/71 art. 3(4): a term ending on a non-working day ends on the next
    working day instead.
    """
    while not is_working_day(d):
        d += _ONE_DAY
    return d


def due_date(start: date, rule: DeadlineRule) -> date:
    """The last day of a deadline (termijn) of ``rule`` counted from ``start``.

    ``start`` itself is never counted: calendar days end ``rule.days`` days
    later, working days end on the ``rule.days``-th working day after ``start``.
    """
    if rule.unit == "calendar":
        return start + timedelta(days=rule.days)
    d, remaining = start, rule.days
    while remaining:
        d += _ONE_DAY
        if is_working_day(d):
            remaining -= 1
    return d


def add_calendar_months(start: date, months: int) -> date:
    """``start`` plus ``months`` calendar months (EU Regulation 1182/71 art. 3(2)(c)).

    Ends on the same day-number in the target month, or on its last day when
    the month is shorter: 31 January + 1 month is 28 February (29 in a leap
    year); 30 November + 3 months is the end of February.
    """
    year, month0 = divmod(start.year * 12 + (start.month - 1) + months, 12)
    return date(year, month0 + 1, min(start.day, _days_in_month(year, month0 + 1)))


def _days_in_month(year: int, month: int) -> int:
    # Computed here rather than with the stdlib calendar module, whose name this module shares.
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return (first_of_next - _ONE_DAY).day


def add_weeks(start: date, weeks: int) -> date:
    """``start`` plus ``weeks`` weeks: the same weekday, ``weeks`` weeks on."""
    return start + timedelta(weeks=weeks)
