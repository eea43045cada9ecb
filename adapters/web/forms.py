"""Forms made from the command models: every command of the operations table is a form.

A form's fields follow the model's (a date is a date field, a choice a list of options, free
text a text area, a list one line per item, the members of a household a few rows), and what
is sent is read back into the same dictionary the API takes as its body, then validated by
the same model: a form refuses what the API refuses, with the same reasons.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from casusregie.adapters.web.labels import label, value
from casusregie.commands.base import FREE_TEXT
from casusregie.privacy_audit.decision_document import UAVG_41_GROUNDS, WBP_43_GROUNDS

ROWS = 4  # blank rows offered for a list of records (household members, disclosed items)


@dataclass
class FormField:
    name: str  # the form's field name, e.g. members-0-name
    label: str
    kind: str  # text, textarea, date, number, checkbox, select, lines, group
    required: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)
    value: str = ""
    rows: list[list[FormField]] = field(default_factory=list)  # a group: its rows of sub-fields
    fixed: bool = False  # given by the page that links here (a case number): shown, not editable

    @property
    def dom_id(self) -> str:
        return "veld-" + self.name


def _plain(annotation: Any) -> tuple[Any, bool]:
    """The annotation without Optional, and whether None was allowed."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return (args[0] if len(args) == 1 else annotation), len(args) < len(get_args(annotation))
    return annotation, False


def _free_text(info: FieldInfo, annotation: Any) -> bool:
    def marked(a: Any) -> bool:
        return FREE_TEXT in getattr(a, "__metadata__", ()) or any(marked(x) for x in get_args(a))

    return FREE_TEXT in info.metadata or marked(annotation) or marked(info.annotation)


#: Fields that take a file: the form uploads it, the command receives it as base64 (as over the API).
FILE_FIELDS = frozenset({"content_base64"})


def _kind(annotation: Any, info: FieldInfo) -> tuple[str, list[tuple[str, str]]]:
    base, _ = _plain(annotation)
    origin = get_origin(base)
    if base is bool:
        return "checkbox", []
    if base is date:
        return "date", []
    if base is int:
        return "number", []
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return "select", [(str(m.value), value(m.value)) for m in base]
    if origin is Literal:
        return "select", [(str(a), value(a)) for a in get_args(base)]
    if origin is list and get_args(base) and get_args(base)[0] is str:
        return "lines", []
    if (
        origin is list
        and get_args(base)
        and isinstance(get_args(base)[0], type)
        and issubclass(get_args(base)[0], BaseModel)
    ):
        return "group", []
    if isinstance(base, type) and issubclass(base, BaseModel):
        return "record", []
    if origin is dict:
        return "domains", []
    return ("textarea" if _free_text(info, annotation) else "text"), []


Choices = Mapping[str, list[tuple[str, str]]]  # field name -> (value, label): what the profile offers


def choices_of(profile: Any, directors: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """The profile's own lists, where a field takes one of them: partners, life domains, intake criteria;
    and the store's active case directors (user, team)."""
    partners = [(p.id, p.name) for p in profile.partners]
    organisations = [(profile.organisation_id, profile.organisation_name), *partners]
    domains = [(d, d) for d in profile.life_domains]
    named = {"director": [(user, f"{user} (team {team})" if team else user) for user, team in directors]}
    return {
        **(named if directors else {}),  # without the list (not a director's form), a director is typed
        "referring_org": partners,
        "partner": partners,
        "home_corporation": [(p.id, p.name) for p in profile.partners if p.housing_corporation],
        "owner": organisations,
        "organisation": organisations,
        "handover_to": organisations,
        "participants": organisations,
        "attended": organisations,
        "life_domain": domains,
        "criteria": [(c.id, c.text) for c in profile.intake.criteria],
        "categories": [(c.id, f"{c.name} ({c.id})") for c in profile.categories],
        "category": [(c.id, f"{c.name} ({c.id})") for c in profile.categories],
        "level": [(str(e.level), f"{e.level}: {e.name}") for e in profile.escalation],
        # per command where the field name alone says too little
        "request.withhold:ground": [
            *((k, f"art. 41 lid 1 sub {k} UAVG: {text}") for k, text in UAVG_41_GROUNDS.items()),
            *(
                (f"wbp:{k}", f"art. 43 sub {k} Wbp (verwerking vóór 25 mei 2018): {text}")
                for k, text in WBP_43_GROUNDS.items()
            ),
        ],
    }


def _with_choices(kind: str, name: str, choices: Choices, command: str = "") -> tuple[str, list[tuple[str, str]]]:
    found = choices.get(f"{command}:{name}") if command else None
    if found is None:
        found = None if any(k.endswith(f":{name}") for k in choices) else choices.get(name)
    if found is None or kind not in ("text", "lines", "number"):
        return kind, []
    return ("multi" if kind == "lines" else "select"), list(found)


def fields_of(
    model: type[BaseModel],
    given: Mapping[str, str],
    *,
    fixed: set[str],
    life_domains: list[str],
    prefix: str = "",
    choices: Choices | None = None,
) -> list[FormField]:
    """The form of ``model``, filled with what was ``given`` (the sent form, or the query of a link)."""
    out: list[FormField] = []
    for name, info in model.model_fields.items():
        kind, options = _kind(info.annotation, info)
        if choices and not options:
            kind, options = _with_choices(kind, name, choices, str(getattr(model, "name", "")))
        if name in FILE_FIELDS:
            out.append(FormField(prefix + name, label(name), "file", info.is_required()))
            continue
        _, optional = _plain(info.annotation)
        required = info.is_required() and not optional
        full = prefix + name
        if kind == "multi":
            rows = [
                [
                    FormField(f"{full}-{v}", shown, "checkbox", value=given.get(f"{full}-{v}", ""))
                    for v, shown in options
                ]
            ]
            out.append(FormField(full, label(name), "group", required, rows=rows))
            continue
        if kind == "group":
            sub = get_args(_plain(info.annotation)[0])[0]
            rows = [
                fields_of(sub, given, fixed=set(), life_domains=life_domains, prefix=f"{full}-{i}-")
                for i in range(ROWS)
            ]
            out.append(FormField(full, label(name), "group", required, rows=rows))
            continue
        if kind == "record":
            sub = _plain(info.annotation)[0]
            rows = [fields_of(sub, given, fixed=set(), life_domains=life_domains, prefix=f"{full}-")]
            out.append(FormField(full, label(name), "group", required, rows=rows))
            continue
        if kind == "domains":
            rows = [
                [
                    FormField(f"{full}-{d}", d, "textarea", False, value=given.get(f"{full}-{d}", ""))
                    for d in life_domains
                ]
            ]
            out.append(FormField(full, label(name), "group", required, rows=rows))
            continue
        if kind == "select":  # a choice is made, never left at whatever came first
            options = [("", "(geen)" if not required else "Kies…"), *options]
        default = info.get_default(call_default_factory=True) if not info.is_required() else None
        shown = given.get(full)
        if shown is None:
            shown = _shown_default(default, kind)
        out.append(FormField(full, label(name), kind, required, options, shown, fixed=name in fixed and bool(shown)))
    return out


def _shown_default(default: Any, kind: str) -> str:
    """A field's default as the form shows it: a list one item per line, a choice by its value."""
    if kind == "checkbox":
        return "on" if default is True else ""
    if default is None:
        return ""
    if isinstance(default, list | tuple):
        return "\n".join(str(v) for v in default)
    return str(getattr(default, "value", default))


def _value(kind: str, raw: str) -> Any:
    if kind == "lines":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    return raw


def parse(
    model: type[BaseModel],
    form: Mapping[str, str],
    *,
    life_domains: list[str],
    prefix: str = "",
    choices: Choices | None = None,
) -> dict[str, Any]:
    """What was sent, as the API's body: empty fields left out (their defaults apply, or "required")."""
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        kind, options = _kind(info.annotation, info)
        if choices and not options:
            kind, options = _with_choices(kind, name, choices, str(getattr(model, "name", "")))
        full = prefix + name
        if kind == "multi":
            picked = [v for v, _ in options if form.get(f"{full}-{v}") == "on"]
            if picked:
                data[name] = picked
        elif kind == "checkbox":
            data[name] = form.get(full) == "on"
        elif kind == "group":
            sub = get_args(_plain(info.annotation)[0])[0]
            kept = [
                parse(sub, form, life_domains=life_domains, prefix=f"{full}-{i}-")
                for i in range(ROWS)
                if _filled(sub, form, f"{full}-{i}-")
            ]
            if kept:
                data[name] = kept
        elif kind == "record":
            sub = _plain(info.annotation)[0]
            if _filled(sub, form, f"{full}-"):
                data[name] = parse(sub, form, life_domains=life_domains, prefix=f"{full}-")
        elif kind == "domains":
            found = {d: form[f"{full}-{d}"].strip() for d in life_domains if form.get(f"{full}-{d}", "").strip()}
            if found:
                data[name] = found
        else:
            raw = form.get(full, "")
            if raw.strip():
                data[name] = _value(kind, raw)
    return data


def _filled(model: type[BaseModel], form: Mapping[str, str], prefix: str) -> bool:
    """Whether a row of a record was filled in: something typed, not only a choice left at its default."""
    typed = ("text", "textarea", "date", "number", "lines")
    return any(
        _kind(info.annotation, info)[0] in typed and form.get(prefix + name, "").strip()
        for name, info in model.model_fields.items()
    )


DUTCH = {
    "missing": "Vul dit veld in",
    "string_too_short": "Vul dit veld in",
    "too_short": "Vul dit veld in",
    "date_from_datetime_parsing": "Geef een datum (dag, maand, jaar)",
    "date_parsing": "Geef een datum (dag, maand, jaar)",
    "int_parsing": "Geef een heel getal",
    "enum": "Kies een van de mogelijkheden",
    "literal_error": "Kies een van de mogelijkheden",
}


@dataclass(frozen=True)
class FieldError:
    target: str  # the dom id the summary links to ("" for the form as a whole)
    message: str


def errors_of(exc_errors: list[dict[str, Any]], fields: list[FormField]) -> list[FieldError]:
    """pydantic's errors, tied to the form's fields; the API's reason beside the Dutch one where it adds to it."""
    names = {f.name for f in _flat(fields)}
    out = []
    for error in exc_errors[:20]:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "__root__")]
        name = "-".join(loc)
        while name and name not in names and "-" in name:
            name = name.rsplit("-", 1)[0]
        if name not in names:
            name = next((n for n in names if n.startswith(name + "-")), "") if name else ""
        reason = str(error.get("msg", "ongeldig")).removeprefix("Value error, ")
        dutch = DUTCH.get(str(error.get("type", "")))
        message = f"{dutch} ({reason})" if dutch and dutch != "Vul dit veld in" else (dutch or reason)
        out.append(
            FieldError("veld-" + name if name else "", f"{_label_of(name, fields)}: {message}" if name else message)
        )
    return out


def _flat(fields: list[FormField]) -> list[FormField]:
    out = []
    for f in fields:
        out.append(f)
        for row in f.rows:
            out.extend(_flat(row))
    return out


def _label_of(name: str, fields: list[FormField]) -> str:
    """The field's label; in a row of a group, with the row's number (``Gezinsleden 2: Naam``)."""
    for f in fields:
        for number, row in enumerate(f.rows, start=1):
            for sub in row:
                if sub.name == name:
                    return f"{f.label} {number}: {sub.label}" if len(f.rows) > 1 else f"{f.label}: {sub.label}"
        if f.name == name:
            return f.label
    return name
