"""Where a store lives: a SQLite file (the embedded default) or a PostgreSQL schema.

``--store cases.db`` or ``--store postgresql://user@host:5432/db?schema=utrecht``. The
``schema`` query parameter is ours (one PostgreSQL database can hold several stores);
everything else in the DSN goes to libpq unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from casusregie.domain.errors import ValidationFailed

DEFAULT_PG_SCHEMA = "regie"
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class StoreLocation:
    """A parsed ``--store`` value."""

    kind: str  # "sqlite" or "postgres"
    path: Path | None = None
    dsn: str = ""
    schema: str = ""

    @property
    def is_postgres(self) -> bool:
        return self.kind == "postgres"

    def display(self) -> str:
        """A name for messages: the file path, or the DSN without its password."""
        if self.path is not None:
            return str(self.path)
        parts = urlsplit(self.dsn)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            netloc = f"{userinfo.split(':', 1)[0]}@{host}"
        query = urlencode([*parse_qsl(parts.query), ("schema", self.schema)])
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def parse_location(value: str) -> StoreLocation:
    """Parse a ``--store`` value; a ``postgresql://`` or ``postgres://`` URL is PostgreSQL."""
    value = value.strip()
    if not value:
        raise ValidationFailed("no store given: use --store, REGIE_STORE or a config file")
    if value.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(value)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = next((v for k, v in query if k == "schema"), DEFAULT_PG_SCHEMA)
        if not _SCHEMA_RE.match(schema):
            raise ValidationFailed(
                f"schema {schema!r} is not a plain lowercase PostgreSQL name (letters, digits, underscore; at most 63)"
            )
        rest = urlencode([(k, v) for k, v in query if k != "schema"])
        dsn = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment))
        return StoreLocation(kind="postgres", dsn=dsn, schema=schema)
    if "://" in value:
        raise ValidationFailed(f"unsupported store URL {value!r}: give a file path or a postgresql:// DSN")
    return StoreLocation(kind="sqlite", path=Path(value).expanduser().resolve())
