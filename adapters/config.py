"""Finding the store, the key folder and the checkpoint folder.

Order, first wins: command-line option, environment variable, config file, default.
The config file is TOML (``store = "..."``, ``key_dir = "..."``, ``checkpoint_dir = "..."``,
``key_cache_size = 10000``) found at ``--config``, ``$REGIE_CONFIG``, ``./regie.toml`` or
``~/.config/regie/config.toml``. Relative paths in a config file are relative to the file.
``key_cache_size`` bounds how many unwrapped data keys one process keeps in memory; it is a
config file setting only (no option or environment variable). So is ``document_max_bytes``,
the size limit of one attached document (default 20 MiB).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casusregie.domain.document import CEILING_BYTES, DEFAULT_MAX_BYTES
from casusregie.domain.errors import ValidationFailed
from casusregie.privacy_audit.key_hierarchy import DEFAULT_CACHE_SIZE

CONFIG_KEYS = ("store", "key_dir", "checkpoint_dir", "key_cache_size", "document_max_bytes", "api", "web", "mail")
NUMBERS = ("key_cache_size", "document_max_bytes")  # the settings that are whole numbers, not paths
TABLES = ("api", "web", "mail")  # sections read by the adapter they configure (``[api]``: adapters.http.settings;
# ``[mail]``: adapters.mail)


def _home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "regie"


@dataclass(frozen=True)
class Settings:
    store: str | None
    key_dir: Path
    checkpoint_dir: Path | None
    config_file: Path | None
    key_cache_size: int = DEFAULT_CACHE_SIZE
    document_max_bytes: int = DEFAULT_MAX_BYTES  # the size limit of one document (1 KiB to 64 MiB)
    api: dict[str, Any] = field(default_factory=dict)
    web: dict[str, Any] = field(default_factory=dict)
    mail: dict[str, Any] = field(default_factory=dict)


def find_config(explicit: str | None) -> Path | None:
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ValidationFailed(f"config file {path} does not exist")
        return path
    env = os.environ.get("REGIE_CONFIG")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ValidationFailed(f"REGIE_CONFIG points to {path}, which does not exist")
        return path
    for candidate in (Path.cwd() / "regie.toml", _home() / "config.toml"):
        if candidate.is_file():
            return candidate
    return None


def read_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationFailed(f"config file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise ValidationFailed(
            f"config file {path}: unknown setting {', '.join(unknown)} (known: {', '.join(CONFIG_KEYS)})"
        )
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in NUMBERS:
            out[key] = _positive_number(path, key, value)
            continue
        if key in TABLES:
            if not isinstance(value, dict):
                raise ValidationFailed(f"config file {path}: {key} must be a table ([{key}])")
            out[key] = value
            continue
        if not isinstance(value, str):
            raise ValidationFailed(f"config file {path}: {key} must be a string")
        if not value.strip() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ValidationFailed(f"config file {path}: {key} is empty or holds a control character")
        if key != "store" or "://" not in value:
            value = str((path.parent / Path(value).expanduser()).resolve())
        out[key] = value
    return out


def _positive_number(path: Path, key: str, value: object) -> int:
    # TOML already tells numbers from text; true/false would pass as int in Python, so refuse them too.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationFailed(
            f"config file {path}: {key} must be a positive whole number, such as {DEFAULT_CACHE_SIZE}"
        )
    return value


def resolve_settings(
    *, store: str | None, key_dir: str | None, config: str | None, checkpoint_dir: str | None = None
) -> Settings:
    path = find_config(config)
    file = read_config(path)
    chosen_store = store or os.environ.get("REGIE_STORE") or file.get("store")
    chosen_keys = key_dir or os.environ.get("REGIE_KEY_DIR") or file.get("key_dir") or str(_home() / "keys")
    chosen_cp = checkpoint_dir or os.environ.get("REGIE_CHECKPOINT_DIR") or file.get("checkpoint_dir")
    for name, value in (("store", chosen_store), ("key folder", chosen_keys), ("checkpoint folder", chosen_cp)):
        if value is not None and any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ValidationFailed(f"the {name} setting holds a control character")
    return Settings(
        store=chosen_store,
        key_dir=Path(chosen_keys).expanduser().resolve(),
        checkpoint_dir=Path(chosen_cp).expanduser().resolve() if chosen_cp else None,
        config_file=path,
        key_cache_size=file.get("key_cache_size", DEFAULT_CACHE_SIZE),
        document_max_bytes=_document_limit(path, file.get("document_max_bytes", DEFAULT_MAX_BYTES)),
        api=file.get("api", {}),
        web=file.get("web", {}),
        mail=file.get("mail", {}),
    )


def _document_limit(path: Path | None, value: int) -> int:
    """The size limit of one document: at least 1 KiB, at most 64 MiB (documents are handled in memory)."""
    if not 1024 <= value <= CEILING_BYTES:
        raise ValidationFailed(
            f"config file {path}: document_max_bytes must lie between 1024 and {CEILING_BYTES} (64 MiB), not {value}"
        )
    return value
