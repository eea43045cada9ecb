"""What went wrong in the database, in words an operator can act on.

SQLite and PostgreSQL report the same few conditions in different ways, and the
eventsourcing library wraps both in its own exception types; callers want to know only:
is the store busy (wait and retry), can it not be written at all (read-only, disk full),
was the connection lost, or something else.
"""

from __future__ import annotations

import sqlite3
from enum import StrEnum

import psycopg
from eventsourcing.persistence import PersistenceError


class Trouble(StrEnum):
    BUSY = "busy"
    READ_ONLY = "read-only"
    FULL = "full"
    CONNECTION = "connection"
    OTHER = "other"


_SIGNS: tuple[tuple[Trouble, tuple[str, ...]], ...] = (
    (
        Trouble.BUSY,
        (
            "database is locked",
            "database is busy",
            "lock timeout",
            "could not obtain lock",
            "deadlock detected",
            "could not serialize access",
        ),
    ),
    (Trouble.READ_ONLY, ("readonly database", "read-only", "read only")),
    (Trouble.FULL, ("disk is full", "database or disk is full", "no space left", "could not extend file")),
    (
        Trouble.CONNECTION,
        (
            "terminating connection",
            "server closed the connection",
            "connection is closed",
            "connection to server",
            "the connection is lost",
            "consuming input failed",
            "unable to open database file",
        ),
    ),
)

EXPLAINED = {
    Trouble.BUSY: "the store is busy with another writer and did not become free in time",
    Trouble.READ_ONLY: "the store cannot be written (read-only file, folder or database)",
    Trouble.FULL: "the disk holding the store is full",
    Trouble.CONNECTION: "the connection to the database was lost",
}


def is_database_error(exc: BaseException) -> bool:
    return isinstance(exc, PersistenceError | sqlite3.Error | psycopg.Error)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def trouble(exc: BaseException) -> Trouble:
    """The kind of a database error, from the error and its causes."""
    seen: BaseException | None = exc
    texts = []
    while seen is not None and len(texts) < 5:
        texts.append(str(seen).lower())
        seen = seen.__cause__ or seen.__context__
    text = " ".join(texts)
    for kind, signs in _SIGNS:
        if any(sign in text for sign in signs):
            return kind
    return Trouble.OTHER


def explain(exc: BaseException) -> str:
    """One line: what is wrong, in plain words where the condition is known, else the database's own first line."""
    kind = trouble(exc)
    return EXPLAINED.get(kind) or first_line(exc)
