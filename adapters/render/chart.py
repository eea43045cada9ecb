"""The period report as a chart over time (PNG or SVG), drawn with matplotlib's Agg canvas.

Per month (or quarter, or year: ``projections.report.periods_between``) the referrals, the
cases taken on and the cases closed as bars, and the cases open at each period's end as a
line. Counts only, like the report itself. The figure is built without pyplot (no global
state, safe in the web server's threads) and rendered into memory: the caller writes it with
``adapters.files`` (atomic, 0600) or sends it.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

FORMATS = {".png": "png", ".svg": "svg"}
MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}

ENGLISH = {
    "title": "Cases {start} to {end}",
    "referrals": "referrals",
    "taken_on": "taken on",
    "closed": "closed",
    "open_at_end": "open at the end",
    "count": "cases",
    "months": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
DUTCH = {
    "title": "Casussen {start} t/m {end}",
    "referrals": "aanmeldingen",
    "taken_on": "in regie genomen",
    "closed": "afgesloten",
    "open_at_end": "lopend aan het eind",
    "count": "casussen",
    "months": ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"),
}
BARS = ("referrals", "taken_on", "closed")
COLOURS = {"referrals": "#4b6ea8", "taken_on": "#3a8a5c", "closed": "#8c6d2c", "open_at_end": "#b3261e"}


def chart_format(name: str) -> str:
    """The format a file name asks for: ``png`` or ``svg`` (by its extension)."""
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    found = FORMATS.get(suffix)
    if found is None:
        raise ValueError(f"a chart is a .png or .svg file, not {name!r}")
    return found


def _label(first: date, last: date, months: tuple[str, ...]) -> str:
    if first.year == last.year and first.month == last.month:
        return f"{months[first.month - 1]} {first.year % 100:02d}"
    if first.year == last.year and first.month == 1 and last.month == 12:
        return str(first.year)
    return f"{months[first.month - 1]}–{months[last.month - 1]} {last.year % 100:02d}"


def render_chart(
    periods: list[tuple[date, date]], reports: list[dict[str, Any]], fmt: str, words: dict[str, Any] = ENGLISH
) -> bytes:
    """The chart of ``reports`` (one per period) as PNG or SVG bytes."""
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"unknown chart format {fmt!r}")
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported when a chart is asked for: it is slow
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    count = len(periods)
    figure = Figure(figsize=(min(max(6.0, 0.45 * count + 2.5), 16.0), 4.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(count))
    width = 0.8 / len(BARS)
    for i, key in enumerate(BARS):
        shift = (i - (len(BARS) - 1) / 2) * width
        axes.bar([p + shift for p in positions], [int(r[key]) for r in reports], width, label=words[key],
                 color=COLOURS[key])  # fmt: skip
    axes.plot(positions, [int(r["open_at_end"]) for r in reports], marker="o", linewidth=2,
              label=words["open_at_end"], color=COLOURS["open_at_end"])  # fmt: skip
    axes.set_xticks(positions, [_label(first, last, words["months"]) for first, last in periods])
    if count > 12:
        axes.tick_params(axis="x", labelrotation=60)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(bottom=0)
    axes.set_ylabel(words["count"])
    if periods:
        start, end = periods[0][0], periods[-1][1]
        axes.set_title(words["title"].format(start=start.isoformat(), end=end.isoformat()))
    axes.spines[["top", "right"]].set_visible(False)
    figure.legend(loc="outside lower center", fontsize="small", frameon=False, ncols=len(BARS) + 1)
    out = io.BytesIO()
    # no creation date or software in the file: the same report draws the same bytes
    metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None}
    figure.savefig(out, format=fmt, metadata=metadata)
    return out.getvalue()
