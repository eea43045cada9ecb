"""Printing for people: nothing a user typed can steer the terminal.

Names and free text come from other users (a referring partner, a colleague), so printing
them raw would let one user hide or rewrite text in another's terminal with escape
sequences, carriage returns or bidirectional overrides. Every human-facing line goes
through :func:`printable`: the rich console by a render hook (so tables and styled text are
covered however they are built), plain lines by :func:`echo`, JSON by :func:`json_text`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console, ConsoleOptions, RenderableType, RenderHook, RenderResult
from rich.segment import Segment
from rich.table import Table

from casusregie.domain.text import UNSAFE, json_escaped


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control or reordering character shown as a visible escape (``\\x1b``)."""
    return UNSAFE.sub(_escape, text)


def json_text(data: Any) -> str:
    """JSON for --json: readable Unicode, but never a raw control or bidi character (escaped as \\uXXXX)."""
    return json_escaped(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def echo(text: str = "", *, err: bool = False) -> None:
    """``click.echo`` for lines that may hold user text.

    On stderr a message is one line, whatever it quotes: a line break in a name someone typed
    (``unknown request a<newline>b``) is shown as ``\\n``, so scripts and people see one error.
    """
    shown = printable(text)
    click.echo(shown.replace("\n", "\\n") if err else shown, err=err)


class _Printable:
    """Wraps a renderable: its rendered text segments are made printable; rich's own styling stays."""

    def __init__(self, inner: RenderableType) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for segment in console.render(self.inner, options):
            if segment.control or not segment.text:
                yield segment
            else:
                yield Segment(printable(segment.text), segment.style)


class PrintableHook(RenderHook):
    """A console render hook that passes every renderable through :class:`_Printable`."""

    def process_renderables(self, renderables: Sequence[RenderableType]) -> list[RenderableType]:
        return [_Printable(r) for r in renderables]


def safe_console(**options: Any) -> Console:
    """A rich console that never interprets markup and never prints control characters."""
    console = Console(highlight=False, markup=False, emoji=False, **options)
    console.push_render_hook(PrintableHook())
    return console


def folding_table(*headers: str, **options: Any) -> Table:
    """A rich table whose cells wrap onto more lines rather than being cut off with "…".

    A trail or an access log that hides the end of a time, an activity or a name is not a
    record anyone can rely on, however narrow the terminal.
    """
    shown = Table(**options)
    for header in headers:
        shown.add_column(header, overflow="fold")
    return shown
