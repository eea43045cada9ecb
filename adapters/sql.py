"""A thin, dialect-neutral handle on the SQL database behind a store.

The eventsourcing library owns its own tables; the project adds a few of its own (keys,
Merkle tree, projections). This module lets that code be written once, with ``?``
placeholders and generic column types, and run on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

Dialect = Literal["sqlite", "postgres"]

IN_BATCH = 500  # values per IN (...) list in one statement

_TYPES = {
    "sqlite": {"blob": "BLOB", "bigint": "INTEGER", "text": "TEXT", "json": "TEXT"},
    "postgres": {"blob": "BYTEA", "bigint": "BIGINT", "text": "TEXT", "json": "TEXT"},
}


class Tx:
    """One open transaction: execute statements and fetch rows as plain tuples."""

    def __init__(self, cursor: Any, dialect: Dialect, *, tree_head: Any = None) -> None:
        self._cursor = cursor
        self.dialect: Dialect = dialect
        # The recorder's cache of the Merkle tree head (merkle_log.HeadCache) in its insert
        # transactions, for the insert hook; None elsewhere.
        self.tree_head = tree_head

    @property
    def connection(self) -> Any:
        """The driver connection this transaction runs on (for per-connection caches); None if unknown."""
        return getattr(self._cursor, "connection", None)

    def _sql(self, statement: str) -> str:
        if self.dialect == "postgres":
            # psycopg parses every parameterised statement: a literal % must be doubled.
            return statement.replace("%", "%%").replace("?", "%s")
        return statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Tx:
        self._cursor.execute(self._sql(statement), tuple(params))
        return self

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            self._cursor.executemany(self._sql(statement), rows)

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed (or -1 where the driver cannot tell)."""
        cursor = getattr(self._cursor, "sqlite_cursor", self._cursor)  # the library's SQLite cursor wraps sqlite3's
        return int(cursor.rowcount)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [self._row(r) for r in self._cursor.fetchall()]

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self._cursor.fetchone()
        return None if row is None else self._row(row)

    def fetch_in(self, statement: str, values: Sequence[Any], params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of ``statement`` for the given values, where ``{values}`` in it marks ``IN (...)``.

        Asked in batches of ``IN_BATCH`` values, well within SQLite's and PostgreSQL's limits on
        parameters; ``params`` fill the placeholders before the list, for every batch.
        """
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(values), IN_BATCH):
            part = list(values[start : start + IN_BATCH])
            marks = ",".join("?" * len(part))
            rows += self.execute(statement.format(values=f"IN ({marks})"), [*params, *part]).fetchall()
        return rows

    def serialise(self, name: str) -> None:
        """Run the rest of this transaction alone among those that serialise on ``name``.

        For schema changes that several processes may attempt at once (PostgreSQL's
        ``CREATE TABLE IF NOT EXISTS`` is not safe against a concurrent twin). SQLite needs
        nothing: a writing transaction holds the database's one write lock from its start.
        """
        if self.dialect == "postgres":
            self.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (name,))

    @contextmanager
    def page_cache(self, mebibytes: int) -> Iterator[None]:
        """Let this transaction's connection cache up to ``mebibytes`` of pages while it writes much.

        SQLite's page cache is per connection and small (2 MiB): a transaction that inserts into
        big indexes at random places spills and rereads pages all the time. PostgreSQL caches in
        the server's shared buffers: nothing changes there, nor with ``mebibytes`` 0. Put back
        when the block ends.
        """
        if self.dialect != "sqlite" or not mebibytes:
            yield
            return
        before = int(self.scalar("PRAGMA cache_size"))
        self.execute(f"PRAGMA cache_size = {-1024 * int(mebibytes)}")  # negative: KiB, not pages
        try:
            yield
        finally:
            self.execute(f"PRAGMA cache_size = {before}")

    def scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        row = self.execute(statement, params).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _row(row: Any) -> tuple[Any, ...]:
        if isinstance(row, dict):
            return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row.values())
        return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)


class Database:
    """The project's own access to the datastore the eventsourcing recorders use."""

    def __init__(self, datastore: Any, dialect: Dialect) -> None:
        self.datastore = datastore
        self.dialect: Dialect = dialect

    def ddl(self, statement: str) -> str:
        """Fill ``{blob}``, ``{bigint}``, ``{text}``, ``{json}`` with this dialect's types."""
        return statement.format(**_TYPES[self.dialect])

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[Tx]:
        """A transaction; ``commit=False``: reads only, nothing it does is kept.

        On PostgreSQL the reads run without BEGIN and ROLLBACK (two round trips fewer): under
        READ COMMITTED each statement sees its own snapshot inside a transaction too, so they
        see nothing different.
        """
        if not commit and self.dialect == "postgres":
            with self.datastore.get_connection() as conn, conn.cursor() as cursor:
                yield Tx(cursor, self.dialect)
            return
        with self.datastore.transaction(commit=commit) as cursor:
            yield Tx(cursor, self.dialect)
