"""Deadline arithmetic (termijnberekening): working days, holidays, calendar months."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casusregie.domain.calendar import (
    add_calendar_months,
    add_weeks,
    due_date,
    holidays_in,
    is_working_day,
    next_working_day,
)
from casusregie.domain.profile import DeadlineRule

MON, FRI, SAT, SUN = 0, 4, 5, 6


def working(days: int) -> DeadlineRule:
    return DeadlineRule(days=days, unit="working")


def calendar_days(days: int) -> DeadlineRule:
    return DeadlineRule(days=days, unit="calendar")


# -- hard facts about 2026 that the tests below rely on -------------------------------


def test_2026_holiday_facts() -> None:
    koningsdag, easter_monday, good_friday = date(2026, 4, 27), date(2026, 4, 6), date(2026, 4, 3)
    assert koningsdag.weekday() == MON
    assert easter_monday.weekday() == MON
    assert good_friday.weekday() == FRI
    assert {koningsdag, easter_monday, date(2026, 12, 25), date(2026, 12, 26)} <= holidays_in(2026)
    # Bevrijdingsdag counts only in lustrum years in the calendar used here.
    assert date(2026, 5, 5) not in holidays_in(2026)
    assert date(2025, 5, 5) in holidays_in(2025)


def test_is_working_day() -> None:
    assert is_working_day(date(2026, 3, 6))  # Friday
    assert not is_working_day(date(2026, 3, 7))  # Saturday
    assert not is_working_day(date(2026, 3, 8))  # Sunday
    assert not is_working_day(date(2026, 4, 27))  # Koningsdag
    assert not is_working_day(date(2026, 4, 6))  # Tweede paasdag
    assert not is_working_day(date(2026, 12, 25))  # Eerste kerstdag
    assert not is_working_day(date(2027, 1, 1))  # Nieuwjaarsdag


def test_next_working_day_rolls_forward_only_when_needed() -> None:
    assert next_working_day(date(2026, 3, 6)) == date(2026, 3, 6)
    assert next_working_day(date(2026, 3, 7)) == date(2026, 3, 9)
    assert next_working_day(date(2026, 4, 25)) == date(2026, 4, 28)  # Sat, Sun, Koningsdag
    assert next_working_day(date(2026, 12, 25)) == date(2026, 12, 28)


# -- working days ---------------------------------------------------------------------


def test_five_working_days_from_friday_is_next_friday() -> None:
    assert due_date(date(2026, 3, 6), working(5)) == date(2026, 3, 13)


def test_working_days_skip_the_weekend() -> None:
    assert due_date(date(2026, 3, 6), working(1)) == date(2026, 3, 9)
    assert due_date(date(2026, 3, 7), working(1)) == date(2026, 3, 9)
    assert due_date(date(2026, 3, 8), working(3)) == date(2026, 3, 11)


def test_working_days_skip_koningsdag() -> None:
    # Fri 24 April: Sat, Sun, Koningsdag Mon 27 skipped; Tue 28 .. Fri 1 May, Mon 4 May.
    assert due_date(date(2026, 4, 24), working(5)) == date(2026, 5, 4)


def test_working_days_skip_easter_monday() -> None:
    assert due_date(date(2026, 4, 3), working(1)) == date(2026, 4, 7)


def test_working_days_skip_christmas() -> None:
    # Wed 23 Dec: Thu 24 (1), Fri 25 and Sat 26 (Kerst) and Sun skipped, Mon 28 (2), Tue 29 (3).
    assert due_date(date(2026, 12, 23), working(3)) == date(2026, 12, 29)


def test_calendar_days_count_every_day() -> None:
    assert due_date(date(2026, 3, 6), calendar_days(3)) == date(2026, 3, 9)
    assert due_date(date(2026, 4, 24), calendar_days(5)) == date(2026, 4, 29)


def test_awb_six_weeks() -> None:
    sent = date(2026, 3, 4)
    assert add_weeks(sent, 6) == date(2026, 4, 15)
    assert due_date(sent, calendar_days(42)) == add_weeks(sent, 6)


# -- calendar months (EU Regulation 1182/71 art. 3(2)(c)) -----------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 1, 15), 1, date(2026, 2, 15)),
        (date(2026, 12, 31), 1, date(2027, 1, 31)),
        (date(2026, 1, 31), 3, date(2026, 4, 30)),
        (date(2026, 5, 31), -3, date(2026, 2, 28)),
        (date(2026, 2, 28), 12, date(2027, 2, 28)),
    ],
)
def test_add_calendar_months(start: date, months: int, expected: date) -> None:
    assert add_calendar_months(start, months) == expected


# -- properties -----------------------------------------------------------------------

dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))


@given(dates, st.integers(min_value=1, max_value=60))
def test_working_due_date_is_a_later_working_day(start: date, days: int) -> None:
    due = due_date(start, working(days))
    assert due > start
    assert is_working_day(due)
    between = [start + timedelta(days=i) for i in range(1, (due - start).days + 1)]
    assert sum(is_working_day(d) for d in between) == days


@given(dates, st.integers(min_value=1, max_value=60))
def test_working_due_date_is_monotone_in_days(start: date, days: int) -> None:
    assert due_date(start, working(days)) < due_date(start, working(days + 1))


@given(dates, st.integers(min_value=1, max_value=400))
def test_calendar_due_date_is_exactly_n_days_later(start: date, days: int) -> None:
    assert (due_date(start, calendar_days(days)) - start).days == days


@given(dates)
def test_next_working_day_is_the_first_on_or_after(d: date) -> None:
    result = next_working_day(d)
    assert result >= d
    assert is_working_day(result)
    assert not any(is_working_day(d + timedelta(days=i)) for i in range((result - d).days))


@given(dates, st.integers(min_value=-120, max_value=120))
def test_add_calendar_months_lands_in_the_right_month(start: date, months: int) -> None:
    result = add_calendar_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assert result.day <= start.day
    if result.day < start.day:
        # Only a month too short for the day-number ends early, and then on its last day.
        assert (result + timedelta(days=1)).month != result.month
