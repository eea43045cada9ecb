"""The manager's and the beheerder's pages: caseload, the period report with a chart over time, and the users.

The chart is drawn on the server as SVG (no script, prints as it shows); the table under it holds the
same figures, for who does not see the chart. The period's figures download as CSV, and its chart over
the months as SVG or PNG (``adapters.render.chart``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from casusregie.adapters.render.chart import DUTCH, MEDIA_TYPES, render_chart
from casusregie.commands.session import Session
from casusregie.commands.users import user_directory
from casusregie.domain.errors import NotFound, ValidationFailed
from casusregie.projections.reader import Reader
from casusregie.projections.report import periods_between, report_csv

if TYPE_CHECKING:
    from casusregie.adapters.web.app import Web
    from casusregie.adapters.web.sessions import WebSession

MONTHS = 12
SHORT = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def months_until(end: date, count: int = MONTHS) -> list[tuple[date, date]]:
    """The ``count`` calendar months up to and including the month of ``end``, oldest first."""
    out: list[tuple[date, date]] = []
    first = end.replace(day=1)
    for _ in range(count):
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        out.append((first, min(last, end)))
        first = (first - timedelta(days=1)).replace(day=1)
    return out[::-1]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    value: int


@dataclass(frozen=True)
class Chart:
    """Two series of bars per month, scaled into a fixed drawing box."""

    width: int
    height: int
    labels: list[tuple[float, str]]
    series: list[tuple[str, str, list[Bar]]]  # (name, css class, bars)
    top: int


def chart(periods: list[tuple[date, date]], reports: list[dict[str, Any]]) -> Chart:
    width, height, left, bottom = 720, 240, 40, 30
    open_cases = [int(r["open_at_end"]) for r in reports]
    overdue = [int(r["overdue_total"]) for r in reports]
    top = max([*open_cases, *overdue, 1])
    slot = (width - left) / max(len(reports), 1)
    scale = (height - bottom - 10) / top
    bars: dict[str, list[Bar]] = {"open": [], "overdue": []}
    for i, (o, d) in enumerate(zip(open_cases, overdue, strict=True)):
        x = left + i * slot + slot * 0.15
        for name, value, shift in (("open", o, 0.0), ("overdue", d, slot * 0.35)):
            h = value * scale
            bars[name].append(Bar(x + shift, height - bottom - h, h, value))
    labels = [
        (left + i * slot + slot / 2, f"{SHORT[start.month - 1]} {start.year % 100:02d}")
        for i, (start, _) in enumerate(periods)
    ]
    return Chart(
        width,
        height,
        labels,
        [("Lopende casussen aan het eind van de maand", "regie-bar--open", bars["open"]),
         ("Termijnen overschreden", "regie-bar--late", bars["overdue"])],
        top,
    )  # fmt: skip


def _day(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ValidationFailed(f"{text[:20]!r} is geen datum (JJJJ-MM-DD)") from None


def period(request: Request, today: date) -> tuple[date, date]:
    """The period asked for (``van``, ``tot``): this year so far unless given."""
    start = _day(request.query_params.get("van"), today.replace(month=1, day=1))
    end = _day(request.query_params.get("tot"), today)
    if end < start:
        raise ValidationFailed("de einddatum ligt voor de begindatum")
    return start, end


DOWNLOADS = ("cijfers.csv", "grafiek.svg", "grafiek.png")


def routes(web: Web) -> list[Route]:
    async def report(request: Request) -> Response:
        today = date.today()

        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            start, end = period(request, today)
            reader = Reader(regie)
            load = reader.caseload()
            figures = reader.report(start, end)
            periods = months_until(today)
            series = reader.report_series(periods)
            return web.render(
                "rapportage.html",
                **web.frame(
                    regie, session, title="Caseload en rapportage", nav="rapportage", load=load, figures=figures,
                    start=start, end=end, chart=chart(periods, series), series=list(zip(periods, series, strict=True)),
                ),
            )  # fmt: skip

        return await web.page(request, "report", work)

    async def users(request: Request) -> Response:
        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            rows = user_directory(regie)
            profile = regie.profile
            return web.render(
                "gebruikers.html",
                **web.frame(
                    regie, session, title="Gebruikers", nav="gebruikers", rows=rows, profile=profile,
                    done=web.done_title(request),
                ),
            )  # fmt: skip

        return await web.page(request, "user.list", work)

    async def download(request: Request) -> Response:
        """The period's figures as CSV, or its chart over the months as SVG or PNG (a download)."""
        today = date.today()
        kind = request.path_params["kind"]

        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            if kind not in DOWNLOADS:
                raise NotFound(f"geen download {kind[:40]!r}; wel: {', '.join(DOWNLOADS)}")
            start, end = period(request, today)
            name = f"rapportage-{start.isoformat()}-{end.isoformat()}"
            reader = Reader(regie)
            if kind == "cijfers.csv":
                body, media, name = report_csv(reader.report(start, end)).encode("utf-8"), "text/csv", name + ".csv"
            else:
                fmt = kind.removeprefix("grafiek.")
                periods = periods_between(start, end)
                body = render_chart(periods, reader.report_series(periods), fmt, DUTCH)
                media, name = MEDIA_TYPES[fmt], f"{name}.{fmt}"
            disposition = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
            return Response(body, media_type=media, headers=disposition)

        return await web.page(request, "report", work)

    return [
        Route("/rapportage", report),
        Route("/rapportage/{kind:str}", download),
        Route("/gebruikers", users),
    ]
