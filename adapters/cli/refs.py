"""References on the command line (a case number, a request, a person): text, or a usage error.

A read command looks its reference up in the database as it was typed. A reference is
generated from letters and digits, so one holding a control character, a line break or a
lone surrogate (how Python hands over command-line bytes that are not UTF-8, which no
database driver can encode) can only be a mistake: it is refused while the command line is
parsed, in one line, instead of failing inside the driver.
"""

from __future__ import annotations

from typing import Any

import click

from casusregie.domain.text import unsafe_character


class Reference(click.ParamType):
    name = "ref"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        found = unsafe_character(text, multiline=False)
        if found is not None:
            self.fail(f"{text!r} is not a reference: it holds {found}", param, ctx)  # repr: shown escaped
        return text


REF = Reference()
