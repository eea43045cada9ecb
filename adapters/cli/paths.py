"""File and folder options whose worst value is one clear message, never an internal error.

click's ``Path`` looks the name up with ``os.stat``, and a NUL character makes that raise
``ValueError``, which click does not expect (exit 3). Names a file read from can never hold
are refused while the command line is parsed. Names a command writes to are handed over as
typed, not as ``Path``: ``Path("")`` is ``.``, which would turn "no name given" into "the
working directory"; the command checks them (``adapters.files.check_output_path``,
``check_output_folder``) before it reads or logs anything.
"""

from __future__ import annotations

import os
from typing import Any

import click


class InputPath(click.Path):
    """A file or folder to read: an empty name or one with a NUL character is a usage error."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = os.fsdecode(value) if isinstance(value, str | bytes | os.PathLike) else str(value)
        if not text.strip():
            self.fail("no file name given", param, ctx)
        if "\x00" in text:
            self.fail("a file name cannot contain a NUL character", param, ctx)
        return super().convert(value, param, ctx)


class OutputPath(click.Path):
    """A file or folder to write: passed on as typed (a ``str``), for the command to check."""

    def __init__(self, *, file_okay: bool = True, dir_okay: bool = True) -> None:
        super().__init__(file_okay=file_okay, dir_okay=dir_okay, path_type=str)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return os.fsdecode(value) if isinstance(value, str | bytes | os.PathLike) else str(value)
