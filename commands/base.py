"""Commands: one pydantic model per action a user can take, and its handler.

Every command declares the processing activity (verwerkingsactiviteit, AVG art. 30) it
performs and the kind of action it is; the session refuses a command whose activity the
store's register does not contain. Models validate input before anything is read or
written, so bad input never leaves a trace in the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from casusregie.domain.access import Action


class Command(BaseModel):
    """Base of every command model."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

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
