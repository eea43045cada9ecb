"""Commands: one pydantic model per action a user can take, and its handler.

Every command declares the processing activity (verwerkingsactiviteit, AVG art. 30) it
performs and the kind of action it is; the session refuses a command whose activity the
store's register does not contain. Models validate input before anything is read or
written, so bad input never leaves a trace in the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, ClassVar, Self, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.fields import FieldInfo

from casusregie.domain.access import Action
from casusregie.domain.text import texts_in, unsafe_character


class _FreeText:
    """Marks a field whose text may span lines (a note, a reason); every other string is one line."""

    def __repr__(self) -> str:
        return "free text"


FREE_TEXT = _FreeText()
Text = Annotated[str, FREE_TEXT]


def _spans_lines(field: FieldInfo) -> bool:
    def marked(annotation: Any) -> bool:
        if FREE_TEXT in getattr(annotation, "__metadata__", ()):
            return True
        return any(marked(arg) for arg in get_args(annotation))

    return FREE_TEXT in field.metadata or marked(field.annotation)


_RULES: dict[type, tuple[tuple[str, bool], ...]] = {}
_DATES: dict[type, tuple[str, ...]] = {}
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # a date as written: never a number (pydantic reads 0 as 1970)


def _mentions_date(annotation: Any) -> bool:
    if annotation is date:
        return True
    return any(_mentions_date(arg) for arg in get_args(annotation))


def _date_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of a model that hold a date (or an optional one); worked out once per model."""
    found = _DATES.get(model)
    if found is None:
        found = _DATES[model] = tuple(n for n, info in model.model_fields.items() if _mentions_date(info.annotation))
    return found


def _line_rules(model: type[BaseModel]) -> tuple[tuple[str, bool], ...]:
    """(field, may span lines) for every field of a model; worked out once per model."""
    rules = _RULES.get(model)
    if rules is None:
        rules = _RULES[model] = tuple((name, _spans_lines(info)) for name, info in model.model_fields.items())
    return rules


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\r\n", "\n") if "\r" in value else value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class Input(BaseModel):
    """Base of every model of user input (commands and their parts).

    No string may hold a control character or a character that reorders text on screen
    (see ``domain.text``); only fields typed ``Text`` may hold line breaks. Windows line
    ends are read as plain line breaks.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _plain_line_ends(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in _date_fields(cls):
                value = data.get(name)
                if isinstance(value, int | float) or (isinstance(value, str) and not ISO_DAY.fullmatch(value)):
                    # pydantic would read 0 or "0" as a Unix time (1 January 1970): a date is written out
                    raise ValueError(f"{name}: a date is written YYYY-MM-DD, not {str(value)[:20]!r}")
        return _plain(data)

    @model_validator(mode="after")
    def _printable(self) -> Self:
        for name, multiline in _line_rules(type(self)):
            value = getattr(self, name)
            texts = (value,) if type(value) is str else texts_in(value) if isinstance(value, dict | list) else ()
            for text in texts:
                found = unsafe_character(text, multiline=multiline)
                if found is not None:
                    raise ValueError(f"{name} holds {found}; only plain text is accepted")
        return self


class Command(Input):
    """Base of every command model."""

    name: ClassVar[str]
    activity: ClassVar[str]
    action: ClassVar[Action]


class CaseCommand(Command):
    """A command on one case, addressed by its case number or id."""

    case: str = Field(min_length=1, description="case number (e.g. C7KQ2MX) or id")
    on: date = Field(default_factory=date.today, description="the business date of the action")


@dataclass(frozen=True)
class Result:
    """What a handler reports back: one line for people, data for --json."""

    message: str
    data: dict[str, Any] = field(default_factory=dict)


C = TypeVar("C", bound=Command)
Handler = Callable[[Any, Any], Result]
HANDLERS: dict[type[Command], Handler] = {}


def handles(command_type: type[C]) -> Callable[[Callable[[Any, C], Result]], Callable[[Any, C], Result]]:
    """Register the handler of one command type."""

    def register(func: Callable[[Any, C], Result]) -> Callable[[Any, C], Result]:
        if command_type in HANDLERS:
            raise RuntimeError(f"{command_type.__name__} has two handlers")
        HANDLERS[command_type] = func
        return func

    return register
