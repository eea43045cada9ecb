"""Municipality profiles (gemeenteprofielen): the shipped files and the checks on them."""

from __future__ import annotations

import contextlib
import copy
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from casusregie.adapters.profile_file import (
    ALIASES,
    ProfileError,
    builtin_profiles,
    load_profile,
    load_profile_data,
    load_profile_text,
    resolve_profile,
)
from casusregie.domain.profile import (
    GENERIC_CATEGORIES,
    POLICE_CATEGORIES,
    POLICE_INVESTIGATION_CATEGORY,
    REQUIRED_ACTIVITIES,
    DeadlineRule,
    Profile,
)

SHIPPED = {
    "amersfoort-achter-de-voordeur": "002",
    "nijmegen-regieteams": "000",
    "nieuwegein-cmpg": "001",
    "utrecht-extreme-woonoverlast": "003",
    "zwolle-bijzondere-doelgroepen": "004",
}


def _text(profile_id: str) -> str:
    return builtin_profiles()[profile_id].read_text(encoding="utf-8")


def _data(profile_id: str = "utrecht-extreme-woonoverlast") -> dict[str, Any]:
    return tomllib.loads(_text(profile_id))


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        load_profile_data(data, "test.toml")
    return caught.value.problems


# -- the shipped profiles ---------------------------------------------------------


def test_all_shipped_profiles_are_found() -> None:
    assert set(builtin_profiles()) == set(SHIPPED)


@pytest.mark.parametrize(("profile_id", "seed"), sorted(SHIPPED.items()))
def test_shipped_profile_loads_and_is_complete(profile_id: str, seed: str) -> None:
    profile = load_profile(builtin_profiles()[profile_id])
    assert profile.id == profile_id
    assert profile.seed == seed
    assert {a.id for a in profile.activities} >= set(REQUIRED_ACTIVITIES)
    assert {c.id for c in profile.categories} >= set(GENERIC_CATEGORIES)
    assert profile.organisation_id not in {p.id for p in profile.partners}
    assert [e.level for e in profile.escalation] == list(range(1, len(profile.escalation) + 1))
    assert "personal_data" not in profile.auditors.sees


@pytest.mark.parametrize("profile_id", sorted(SHIPPED))
def test_shipped_profile_has_police_with_covenant_categories(profile_id: str) -> None:
    profile = load_profile(builtin_profiles()[profile_id])
    (police_id,) = profile.police_partner_ids()
    allowed = {*POLICE_CATEGORIES, POLICE_INVESTIGATION_CATEGORY}
    assert set(profile.partner(police_id).categories) == allowed
    investigation = profile.category(POLICE_INVESTIGATION_CATEGORY)
    assert investigation.requires_om_consent
    assert investigation.special
    for category_id in POLICE_CATEGORIES:
        assert not profile.category(category_id).requires_om_consent


@pytest.mark.parametrize("profile_id", sorted(SHIPPED))
def test_shipped_file_marks_assumptions_and_names_its_seed(profile_id: str) -> None:
    text = _text(profile_id)
    assert f"seed {SHIPPED[profile_id]}" in text.splitlines()[1]
    assert "# aanname:" in text


def test_utrecht_encodes_seed_003() -> None:
    p, _ = resolve_profile("utrecht")
    assert len(p.intake.criteria) == 6
    assert p.intake.threshold == 2
    assert p.intake.acute_override_allowed
    assert p.corporation_consent_required
    assert p.deadlines.intake_decision is not None
    assert p.deadlines.intake_decision.days == 5
    assert p.deadlines.corporation_consent is not None
    assert p.deadlines.corporation_consent.days == 3
    assert p.deadlines.casusoverleg_interval == DeadlineRule(days=42, unit="calendar")
    assert "151d" in p.escalation[-1].name
    corporations = {x.id for x in p.partners if x.housing_corporation}
    assert corporations == {"mitros", "portaal", "bo-ex", "groenwest", "ssh"}
    assert p.partner("politie").name.startswith("Politie eenheid Midden-Nederland")
    assert p.category("politie.geweld").description == ("Het feit of er fysiek geweld gebruikt wordt tegen omwonenden.")


def test_amersfoort_encodes_seed_002_door_to_door() -> None:
    p, _ = resolve_profile("amersfoort")
    assert p.resident_consent_required
    assert p.consent_moment == "referral"  # the resident agrees before the kernteam discusses them
    assert p.intake.home_visit  # the intaker's activating interview at home
    assert p.aftercare_contact_months == 6  # "een half jaar na een toeleiding ... een herbezoek"
    assert p.deadlines.plan == DeadlineRule(days=28, unit="calendar")  # "binnen vier weken"
    assert "wonen" in p.life_domains


def test_zwolle_encodes_seed_004() -> None:
    p, _ = resolve_profile("zwolle")
    assert p.resident_consent_required
    assert p.consent_moment == "take_on"
    assert p.client_signature_required
    assert p.minimum_guidance_months == 12
    assert p.result_target_months == 24
    assert p.intake.home_visit
    assert p.director_title == "voorzitter regiegroep"
    assert p.escalation[-1].id == "lokale-driehoek"


def test_nieuwegein_encodes_seed_001() -> None:
    p, _ = resolve_profile("nieuwegein")
    assert p.resident_letter
    assert p.deadlines.resident_letter is not None
    assert p.director_title == "casusregisseur"
    assert p.life_domains == [
        "gezin",
        "gezondheid",
        "scholing",
        "werk",
        "financiën",
        "huisvesting",
        "overlast",
        "criminaliteit",
    ]
    assert [e.id for e in p.escalation] == ["veiligheidshuis"]
    assert {"jutphaas-wonen", "mitros", "portaal", "om", "frivoor"} <= {x.id for x in p.partners}


def test_nijmegen_encodes_seed_000() -> None:
    p, _ = resolve_profile("nijmegen")
    assert p.director_title == "procesregisseur"
    assert [e.name for e in p.escalation] == [
        "Manager Regieteams",
        "Management van de betrokken instanties",
        "Bestuur",
    ]
    assert not p.resident_consent_required
    names = {x.name for x in p.partners}
    assert {"Sterker sociaal werk", "Jeugdbescherming Gelderland", "Pro Persona"} <= names


# -- resolving and loading -----------------------------------------------------------


@pytest.mark.parametrize(("alias", "profile_id"), sorted(ALIASES.items()))
def test_alias_and_id_resolve_to_the_same_text(alias: str, profile_id: str) -> None:
    by_alias = resolve_profile(alias)
    by_id = resolve_profile(profile_id)
    assert by_alias == by_id
    assert by_alias[1] == _text(profile_id)


def test_resolve_profile_accepts_a_path(tmp_path: Path) -> None:
    path = tmp_path / "eigen.toml"
    path.write_text(_text("zwolle-bijzondere-doelgroepen"), encoding="utf-8")
    profile, text = resolve_profile(str(path))
    assert profile.id == "zwolle-bijzondere-doelgroepen"
    assert text == path.read_text(encoding="utf-8")


def test_resolve_profile_unknown_name() -> None:
    with pytest.raises(ProfileError, match="not a built-in profile or alias"):
        resolve_profile("amsterdam")


def test_missing_file() -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile("/nonexistent/profiel.toml")
    assert caught.value.problems == ["/nonexistent/profiel.toml: file not found"]


def test_lookup_helpers_raise_clear_key_errors() -> None:
    p, _ = resolve_profile("utrecht")
    with pytest.raises(KeyError, match="no partner 'bank'"):
        p.partner("bank")
    with pytest.raises(KeyError, match="no data category"):
        p.category("nope")
    with pytest.raises(KeyError, match="no processing activity"):
        p.activity("nope")
    with pytest.raises(KeyError, match="no escalation level 9"):
        p.escalation_level(9)
    assert p.activity("beheer").retention.after == "recording"
    assert p.escalation_level(1).id == "casusoverleg"


# -- bad profiles: one readable line per problem -------------------------------------


def test_unknown_field_suggests_the_right_name() -> None:
    text = _text("utrecht-extreme-woonoverlast").replace("threshold = 2", "treshold = 2")
    with pytest.raises(ProfileError) as caught:
        load_profile_text(text, "utrecht.toml")
    assert (
        "utrecht.toml: intake.treshold: unknown field 'treshold' (did you mean 'threshold'?)" in caught.value.problems
    )
    assert "utrecht.toml: intake.threshold: required field missing" in caught.value.problems


def test_threshold_above_number_of_criteria() -> None:
    data = _data()
    data["intake"]["threshold"] = 7
    assert _problems(data) == ["test.toml: intake.threshold: must be between 1 and the number of criteria (6), got 7"]


def test_partner_with_unknown_category() -> None:
    data = _data()
    data["partners"][0]["categories"].append("woningcorporatie.kadaster")
    assert _problems(data) == [
        "test.toml: partners[0].categories[2]: partner 'mitros' lists unknown data category 'woningcorporatie.kadaster'"
    ]


def test_missing_required_activity() -> None:
    data = _data()
    data["activities"] = [a for a in data["activities"] if a["id"] != "rechten-betrokkenen"]
    assert _problems(data) == ["test.toml: activities: required processing activity 'rechten-betrokkenen' is missing"]


def test_missing_generic_category() -> None:
    data = _data()
    data["categories"] = [c for c in data["categories"] if c["id"] != "huishouden"]
    problems = _problems(data)
    assert "test.toml: categories: generic data category 'huishouden' is missing" in problems


def test_duplicate_partner_id() -> None:
    data = _data()
    data["partners"][1]["id"] = "mitros"
    assert _problems(data) == ["test.toml: partners[1].id: duplicate partner id 'mitros'"]


def test_non_consecutive_escalation_levels() -> None:
    data = _data()
    data["escalation"][2]["level"] = 5
    assert _problems(data) == [
        "test.toml: escalation: levels must be numbered 1 to 3 without gaps or repeats, got 1, 2, 5"
    ]


def test_police_may_not_share_other_categories() -> None:
    data = _data()
    police = next(p for p in data["partners"] if p["kind"] == "politie")
    police["categories"].append("woningcorporatie.huur")
    (problem,) = _problems(data)
    assert problem.startswith("test.toml: partners[5].categories[5]: police partner 'politie'")


def test_investigation_category_needs_om_consent() -> None:
    data = _data()
    for category in data["categories"]:
        if category["id"] == POLICE_INVESTIGATION_CATEGORY:
            category["requires_om_consent"] = False
    (problem,) = _problems(data)
    assert "requires_om_consent = true" in problem


def test_organisation_is_not_a_partner_and_life_domains_are_unique() -> None:
    data = _data()
    data["organisation_id"] = "lister"
    data["life_domains"].append("Gezin")
    problems = _problems(data)
    assert any("partners[6].id: 'lister' is the organisation" in line for line in problems)
    assert "test.toml: life_domains[8]: duplicate life domain 'Gezin'" in problems


def test_all_cross_reference_problems_are_reported_together() -> None:
    data = _data()
    data["intake"]["threshold"] = 0
    data["partners"][1]["id"] = "mitros"
    data["escalation"][0]["level"] = 7
    data["activities"].pop()
    assert len(_problems(data)) == 4


def test_wrong_types_are_plain_language() -> None:
    data = _data()
    data["deadlines"]["plan"]["days"] = "42"
    data["deadlines"]["plan"]["unit"] = "weken"
    data["resident_letter"] = "ja"
    data["seed"] = "3"
    assert sorted(_problems(data)) == [
        "test.toml: deadlines.plan.days: expected a whole number, got text '42'",
        "test.toml: deadlines.plan.unit: must be one of 'calendar' or 'working', got text 'weken'",
        "test.toml: resident_letter: expected true or false, got text 'ja'",
        "test.toml: seed: must be a three-digit seed number such as '003', got text '3'",
    ]


@pytest.mark.parametrize("profile_id", sorted(SHIPPED))
def test_shipped_profiles_sign_checkpoints_by_count_and_by_time(profile_id: str) -> None:
    profile = load_profile(builtin_profiles()[profile_id])
    assert (profile.checkpoint_every, profile.checkpoint_minutes) == (1000, 60)
    lines = _text(profile_id).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("checkpoint_minutes"))
    assert any("aanname" in line for line in lines[max(0, at - 3) : at])  # an assumption to check


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("60", "expected a whole number"),
        (0, "greater than 0"),
        (-5, "greater than 0"),
        (60 * 24 * 7 + 1, "less than or equal to 10080"),
        (1.5, "whole number"),
        (True, "whole number"),
    ],
)
def test_checkpoint_minutes_is_a_strict_positive_whole_number(value: Any, problem: str) -> None:
    data = _data()
    data["checkpoint_minutes"] = value
    (found,) = _problems(data)
    assert found.startswith("test.toml: checkpoint_minutes: ")
    assert problem in found


def test_checkpoint_minutes_may_be_left_out() -> None:
    data = _data()
    del data["checkpoint_minutes"]
    assert load_profile_data(data, "test.toml").checkpoint_minutes is None
    data["checkpoint_minutes"] = 60 * 24 * 7
    assert load_profile_data(data, "test.toml").checkpoint_minutes == 10080


def test_toml_syntax_error_names_line_and_column() -> None:
    lines = _text("utrecht-extreme-woonoverlast").splitlines()
    target = next(i for i, line in enumerate(lines) if line.startswith("approach ="))
    lines[target] = 'approach = "Ketenaanpak'
    with pytest.raises(ProfileError) as caught:
        load_profile_text("\n".join(lines), "utrecht.toml")
    (problem,) = caught.value.problems
    assert problem.startswith(f"utrecht.toml: line {target + 1}, column ")
    assert "TOML syntax error" in problem


def test_profile_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('municipality = "Zwolle\u00eb"'.encode("latin-1"))
    with pytest.raises(ProfileError, match="not UTF-8"):
        load_profile(path)


# -- hypothesis: any broken profile is a ProfileError, never another exception ------

_BASE = _data()


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(members[0]) if len(members) == 1 else annotation
    return annotation


def _paths(value: Any, annotation: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, bool]]:
    """Every (path, required) in ``value``, walking the model types beside the data."""
    annotation = _unwrap(annotation)
    found: list[tuple[Any, bool]] = []
    if isinstance(value, dict) and isinstance(annotation, type):
        assert issubclass(annotation, BaseModel)
        for key, item in value.items():
            field = annotation.model_fields[key]
            found.append(((*path, key), field.is_required()))
            found.extend(_paths(item, field.annotation, (*path, key)))
    elif isinstance(value, list):
        (item_type,) = typing.get_args(annotation)
        for index, item in enumerate(value):
            found.append(((*path, index), False))
            found.extend(_paths(item, item_type, (*path, index)))
    return found


_ALL_PATHS = _paths(_BASE, Profile)
_REQUIRED_KEYS = [path for path, required in _ALL_PATHS if required]
_ANY_PATHS = [path for path, _ in _ALL_PATHS]


def _wrong_type(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return ["ja", 1, [True]]
    if isinstance(value, int):
        return ["twaalf", 1.5, True, [value]]
    if isinstance(value, str):
        return [12, False, [value], {"tekst": value}]
    if isinstance(value, list):
        return ["lijst", 3, {"a": 1}]
    return ["tabel", 3, [value]]


def _parent(data: dict[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    return node


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(_REQUIRED_KEYS))
def test_dropping_a_required_key_is_a_profile_error(path: tuple[Any, ...]) -> None:
    data = copy.deepcopy(_BASE)
    del _parent(data, path)[path[-1]]
    with pytest.raises(ProfileError) as caught:
        load_profile_data(data, "mutated.toml")
    assert caught.value.problems
    assert all(line.startswith("mutated.toml: ") for line in caught.value.problems)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(_ANY_PATHS), st.data())
def test_a_wrong_type_anywhere_is_a_profile_error(path: tuple[Any, ...], draw: Any) -> None:
    data = copy.deepcopy(_BASE)
    parent = _parent(data, path)
    parent[path[-1]] = draw.draw(st.sampled_from(_wrong_type(parent[path[-1]])))
    with pytest.raises(ProfileError) as caught:
        load_profile_data(data, "mutated.toml")
    assert caught.value.problems
    assert all(line.count(": ") >= 2 for line in caught.value.problems)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_ANY_PATHS), min_size=1, max_size=4), st.data())
def test_random_damage_never_raises_anything_but_profile_error(paths: list[tuple[Any, ...]], draw: Any) -> None:
    data = copy.deepcopy(_BASE)
    for path in paths:
        try:
            parent = _parent(data, path)
            key = path[-1]
            if draw.draw(st.booleans()):
                del parent[key]
            else:
                parent[key] = draw.draw(st.sampled_from(_wrong_type(parent[key])))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation already removed or replaced this spot
    with contextlib.suppress(ProfileError):
        load_profile_data(data, "mutated.toml")
