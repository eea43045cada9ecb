"""Loading and checking municipality profile files (gemeenteprofielen, TOML).

Every problem in a profile file is reported on its own line as
``<file>: <field path>: <plain-language message>``, so that whoever edits a
profile can fix all of them in one go instead of one per run.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from casusregie.adapters.render.case_letter_templates import text_problems
from casusregie.domain.errors import ValidationFailed
from casusregie.domain.profile import Profile, ProfileInvalid

__all__ = [
    "ALIASES",
    "PROFILE_DIR",
    "ProfileError",
    "builtin_profiles",
    "load_profile",
    "load_profile_data",
    "load_profile_text",
    "resolve_profile",
]

#: The shipped profiles live beside this module.
PROFILE_DIR = Path(__file__).resolve().parent / "profiles"

#: Short names for the shipped profiles.
ALIASES: dict[str, str] = {
    "amersfoort": "amersfoort-achter-de-voordeur",
    "nijmegen": "nijmegen-regieteams",
    "nieuwegein": "nieuwegein-cmpg",
    "utrecht": "utrecht-extreme-woonoverlast",
    "zwolle": "zwolle-bijzondere-doelgroepen",
}


class ProfileError(ValidationFailed, ValueError):
    """A profile file that cannot be used; ``problems`` holds one readable line each.

    As an error it reads as one line (the first problem and how many more), because a
    command's failure is one line; `regie profile check` prints the whole list.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = len(problems) - 1
        summary = problems[0] if problems else "invalid profile"
        if more:
            summary += f" (and {more} more problem{'s' if more > 1 else ''}; `regie profile check FILE` lists them all)"
        super().__init__(summary)


def load_profile_text(text: str, source: str = "<profile>") -> Profile:
    """Parse and check a profile from TOML text; ``source`` names it in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError([_toml_problem(source, exc)]) from None
    return load_profile_data(data, source)


def load_profile_data(data: Mapping[str, Any], source: str = "<profile>") -> Profile:
    """Check already-parsed profile data (a TOML document as a dict)."""
    try:
        return Profile.model_validate(dict(data))
    except ValidationError as exc:
        raise ProfileError(_validation_problems(source, exc)) from None


def load_profile(path: str | Path) -> Profile:
    """Load a profile file."""
    return _read_and_load(Path(path))[0]


def builtin_profiles() -> dict[str, Path]:
    """The shipped profiles: profile id (the file name without ``.toml``) -> path."""
    return {p.stem: p for p in sorted(PROFILE_DIR.glob("*.toml"))}


def resolve_profile(name_or_path: str) -> tuple[Profile, str]:
    """A profile by built-in id, short alias (``"utrecht"``) or file path.

    Returns the profile and its exact TOML text, so the store can keep the
    text it was initialised with.
    """
    builtin = builtin_profiles()
    profile_id = ALIASES.get(name_or_path.strip().lower(), name_or_path)
    if profile_id in builtin:
        return _read_and_load(builtin[profile_id])
    path = Path(name_or_path)
    if _is_file(path):
        return _read_and_load(path)
    known = ", ".join([*sorted(builtin), *sorted(ALIASES)])
    raise ProfileError([f"{name_or_path}: not a built-in profile or alias ({known}) and no such profile file"])


def _is_file(path: Path) -> bool:
    """Whether ``path`` names a file; a name no file can have (far too long, a NUL) names none."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _read_and_load(path: Path) -> tuple[Profile, str]:
    if "\x00" in str(path):
        raise ProfileError([f"{path}: a file name cannot contain a NUL character"])
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ProfileError([f"{path}: file not found"]) from None
    except UnicodeDecodeError as exc:
        raise ProfileError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    except OSError as exc:
        raise ProfileError([f"{path}: cannot be read ({exc.strerror or exc})"]) from None
    if not text.strip():
        raise ProfileError([f"{path}: the file is empty; a profile is a TOML file (see `regie profile list`)"])
    if "\x00" in text:
        raise ProfileError([f"{path}: holds NUL bytes; a profile is a TOML text file"])
    profile = load_profile_text(text, str(path))
    # The letters' texts are checked against the wording they replace where a profile file is read
    # (`init`, `profile check`), not when a store opens the profile it keeps: a later version whose
    # wording changed must not make a store unusable (`regie letter` refuses a text it cannot fill in).
    letter_problems = text_problems(profile.letters.texts)
    if letter_problems:
        raise ProfileError([f"{path}: letters.texts.{key}: {message}" for key, message in letter_problems])
    return profile, text


# -- TOML syntax errors ------------------------------------------------------

_TOML_AT = re.compile(r"^(?P<msg>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)$")
_TOML_END = re.compile(r"^(?P<msg>.*?)\s*\(at end of document\)$")


def _toml_problem(source: str, exc: tomllib.TOMLDecodeError) -> str:
    text = str(exc)
    if match := _TOML_AT.match(text):
        where = f"line {match['line']}, column {match['col']}"
        return f"{source}: {where}: TOML syntax error: {match['msg']}"
    if match := _TOML_END.match(text):
        return f"{source}: end of file: TOML syntax error: {match['msg']}"
    return f"{source}: TOML syntax error: {text}"


# -- pydantic errors in plain language -----------------------------------------

_TYPE_NAMES: dict[str, str] = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "dict_type": "a table",
}


def _validation_problems(source: str, exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        cross = (error.get("ctx") or {}).get("error")
        if isinstance(cross, ProfileInvalid):
            lines.extend(f"{source}: {path}: {message}" for path, message in cross.problems)
            continue
        lines.append(f"{source}: {_path(loc)}: {_message(error, loc)}")
    return lines


def _path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(profile)"


def _message(error: Mapping[str, Any], loc: tuple[int | str, ...]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required field missing"
    if kind == "extra_forbidden":
        return _unknown_field(loc)
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}, got {_describe(error.get('input'))}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {_describe(error.get('input'))}"
    if kind == "greater_than":
        return f"must be greater than {ctx.get('gt')}, got {_describe(error.get('input'))}"
    if kind == "string_pattern_mismatch":
        return _pattern_message(loc, error.get("input"))
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    return str(error.get("msg", kind)).removeprefix("Value error, ")


def _pattern_message(loc: tuple[int | str, ...], value: object) -> str:
    names = [part for part in loc if isinstance(part, str)]
    if names and names[-1] == "seed":
        return f"must be a three-digit seed number such as '003', got {_describe(value)}"
    if isinstance(value, str) and not value.strip():
        return "must not be empty"
    return (
        "must be a lowercase id of letters and digits joined by '-' or '.' "
        f"(like 'politie.meldingen'), got {_describe(value)}"
    )


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"text {shown!r}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "nothing"
    return type(value).__name__


def _unknown_field(loc: tuple[int | str, ...]) -> str:
    name = str(loc[-1])
    model = _model_at(loc[:-1])
    if model is None:
        return f"unknown field {name!r}"
    fields = list(model.model_fields)
    close = difflib.get_close_matches(name, fields, n=1, cutoff=0.6)
    if close:
        return f"unknown field {name!r} (did you mean {close[0]!r}?)"
    return f"unknown field {name!r} (allowed here: {', '.join(fields)})"


def _model_at(loc: Iterable[int | str]) -> type[BaseModel] | None:
    """The model class that validates the value at ``loc`` inside a profile."""
    annotation: Any = Profile
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(part, int):
            args = typing.get_args(annotation)
            if typing.get_origin(annotation) is not list or not args:
                return None
            annotation = args[0]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part)
            if field is None:
                return None
            annotation = field.annotation
        else:
            return None
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _unwrap(annotation: Any) -> Any:
    # Strip `X | None` and Annotated[...] so only the model or list type remains.
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return annotation
