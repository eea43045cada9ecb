"""The period report's shape in the API (``GET /period-reports``): counts only, never names."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Period(_Model):
    from_: str = Field(alias="from", description="first day (YYYY-MM-DD)")
    to: str = Field(description="last day (YYYY-MM-DD)")


class DeadlineCount(_Model):
    on_time: int
    late: int


class Judgements(_Model):
    """Per judge, how many of the cases that ended were judged improved, unchanged, worsened or unknown."""

    neighbours: dict[str, int]
    partners: dict[str, int]


class ResultTarget(_Model):
    """The cases that ended within the profile's result target (e.g. Zwolle: 24 months), counted from the take-on."""

    months: int
    measured_from: Literal["take-on"]
    closed_within: int
    closed_beyond: int
    closed_within_percent: float | None
    open_beyond_at_end: int = Field(description="cases still open at the end, taken on longer ago than the target")


class SubjectRequests(_Model):
    """Data-subject requests: received and decided in the period, and how many of those decided were extended."""

    received: int
    decided: int
    extended: int


class PeriodReport(_Model):
    """Figures for a period. A case closed, reopened and closed again counts once, with its last closure."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    period: Period
    referrals: int
    taken_on: int
    declined: int
    open_at_end: int
    closed: int
    closed_by_outcome: dict[str, int]
    reopened: int
    median_duration_days: int | float | None = Field(description="from the referral to the (last) closure")
    judgements_at_closure: Judgements
    result_target: ResultTarget | None = Field(description="null where the profile sets no result target")
    escalations_by_level: dict[str, int]
    deadlines: dict[str, DeadlineCount] = Field(
        description="per kind (intake, corporation-consent, information, letter, subject-request), counted when done"
    )
    deadlines_on_time_percent: dict[str, float | None]
    subject_requests: SubjectRequests
    overdue_at_end: dict[str, int]
    overdue_total: int
