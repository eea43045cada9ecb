"""The eventsourcing library's SQLite and PostgreSQL recorders, extended for casusregie.

Two extensions, both inside the library's own insert transaction so that they commit or
roll back together with the events:

* ``extras``: callables passed as ``app.save(..., extras=[...])`` that write the project's
  own rows (new data keys, shredded keys, search index) atomically with the events;
* ``after_insert``: the hook that gives every new record its Merkle position and leaf.

Each recorder keeps the tree head it last committed (``merkle_log.HeadCache``) and hands it
to the hook through the ``Tx``; it promotes the head the hook staged only once the insert
transaction has committed, and forgets it whenever an insert fails. On PostgreSQL the insert
transaction, extras and tree rows included, takes two round trips to the server (the
library's takes five: see ``PostgresEventRecorder._insert_in_two_round_trips``).

SQLite connections run with ``secure_delete`` so that deleted rows (a shredded key) are
overwritten with zeros instead of lingering in free pages.
"""

from __future__ import annotations

import contextlib
import select
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError, StoredEvent
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteTransaction,
)
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from casusregie.adapters.location import StoreLocation
from casusregie.adapters.merkle_log import HeadCache
from casusregie.adapters.sql import Database, Tx

AfterInsert = Callable[[Tx, Sequence[StoredEvent], Sequence[int]], None]
Extra = Callable[[Tx], None]


def _run_extras(tx: Tx, kwargs: dict[str, Any]) -> None:
    for extra in kwargs.get("extras", ()):
        extra(tx)


# --- SQLite -------------------------------------------------------------------------------


class _WriteFirstTransaction(SQLiteTransaction):
    """A writing transaction that takes the write lock when it begins (``BEGIN IMMEDIATE``).

    A deferred transaction that reads first and writes later cannot wait for the lock: when
    another process committed in between, SQLite answers "database is locked" at once. Taken
    up front, the lock is waited for (the connection's busy timeout), as a writer should.
    """

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor


class _RegieSQLiteConnection(SQLiteConnection):
    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[SQLiteCursor]:
        if not commit:
            with super().transaction(commit=False) as cursor:
                yield cursor
            return
        with _WriteFirstTransaction(self, commit=True) as cursor, cursor:
            yield cursor


class _SecureDeletePool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection.__class__ = _RegieSQLiteConnection  # same state; writers begin immediately
        cursor = connection.cursor()
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA foreign_keys=ON")
        return connection


class _SQLiteDatastore(SQLiteDatastore):
    def __init__(self, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        self.pool.close()
        self.pool = _SecureDeletePool(db_name=db_name, lock_timeout=kwargs.get("lock_timeout"))


class SQLiteEventRecorder(SQLiteApplicationRecorder):
    """The library's SQLite application recorder plus extras and the Merkle hook."""

    def __init__(self, datastore: SQLiteDatastore, after_insert: AfterInsert) -> None:
        super().__init__(datastore)
        self.after_insert = after_insert
        self.tree_head = HeadCache()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        try:
            ids = super().insert_events(stored_events, **kwargs)
        except BaseException:
            self.tree_head.drop()
            raise
        self.tree_head.commit()
        return ids

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        tx = Tx(c, "sqlite", tree_head=self.tree_head)
        _run_extras(tx, kwargs)
        if stored_events:
            self.after_insert(tx, stored_events, ids or [])
        return ids


class RegieSQLiteFactory(SQLiteFactory):
    """SQLite factory whose connections use secure_delete and whose recorder is ours."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.datastore.close()
        self.datastore = _SQLiteDatastore(db_name=self.env.get(self.SQLITE_DBNAME) or "", lock_timeout=10)

    def event_recorder(self, after_insert: AfterInsert) -> SQLiteEventRecorder:
        recorder = SQLiteEventRecorder(self.datastore, after_insert)
        if self.env_create_table():
            recorder.create_table()
        return recorder


# --- PostgreSQL -----------------------------------------------------------------------------


class _PostgresDatastore(PostgresDatastore):
    """Connections default to the store's schema, so the project's own SQL is unqualified.

    A long-running process (the API server) outlives server restarts and ended sessions: a
    pooled connection the server has closed is replaced before use instead of failing a
    command. The check costs no round trip (the library's pre-ping costs one per transaction).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs, pre_ping=False)
        assert hasattr(self.pool, "_check"), "psycopg_pool changed: see _PostgresDatastore"
        self.pool._check = _still_open

    def after_connect_func(self) -> Callable[[psycopg.Connection[Any]], None]:
        base = super().after_connect_func()
        set_path = SQL("SET search_path TO {}").format(Identifier(self.schema))

        def after_connect(conn: psycopg.Connection[Any]) -> None:
            base(conn)
            conn.cursor().execute(set_path)

        return after_connect


def _roll_back(conn: psycopg.Connection[Any]) -> None:
    """End a failed insert's transaction on the connection, if it is still open and usable."""
    if conn.closed or conn.broken:
        return
    if conn.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")


def _still_open(conn: psycopg.Connection[Any]) -> None:
    """Refuse a pooled connection the server has ended (the pool then takes or makes another).

    An idle connection has nothing to read: this project never LISTENs, so the server sends
    nothing between queries but, when it ends the session (restart, pg_terminate_backend,
    a crash), its farewell error and the end of the stream. Either makes the socket readable.
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        conn.close()  # so that the pool discards it rather than offering it again
        raise psycopg.OperationalError("the server ended this connection")


class PostgresEventRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL application recorder plus extras and the Merkle hook.

    The library takes an EXCLUSIVE lock on the events table before inserting, so inserts
    commit in notification-id order; the Merkle hook runs after that lock is held and
    therefore sees a stable tree head.
    """

    def __init__(self, datastore: PostgresDatastore, after_insert: AfterInsert) -> None:
        super().__init__(datastore)
        self.after_insert = after_insert
        self._failures = threading.local()
        self.tree_head = HeadCache()

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's insert; once more, from the stored head, if it failed on the cached head.

        The hook's compare-and-swap on the head fails the transaction when another writer (or
        anyone) changed the head since this process cached it; nothing of it was stored, so
        running it again, now reading the head under the table lock, is what the uncached
        path always did. Which error that failure surfaces as depends on when the pipeline
        reads it (the statement's own check violation, or an aborted pipeline at the commit),
        so any failure of an attempt that used the cache is tried once more without it; a
        real conflict then fails again, as it would have. Extras must bear being run again,
        as they bear the library's own retries.
        """
        try:
            try:
                ids = self._insert_in_two_round_trips(stored_events, **kwargs)
            except PersistenceError:
                if not self.tree_head.took_cached():
                    raise
                self.tree_head.drop(stale=True)
                ids = self._insert_in_two_round_trips(stored_events, **kwargs)
        except BaseException:
            self.tree_head.drop()
            raise
        self.tree_head.commit()
        return ids

    def _insert_in_two_round_trips(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's insert, statement for statement, in two exchanges with the server instead of five.

        The library opens the transaction with psycopg's ``conn.transaction()`` inside its
        pipeline, and psycopg syncs the pipeline when that block begins, before it commits,
        after the commit and when the pipeline ends; with the sync the library needs for the
        new notification ids, five round trips. Here BEGIN and COMMIT are plain statements in
        the pipeline: one exchange up to the insert (BEGIN, the extras, the library's lock,
        NOTIFY, INSERT ... RETURNING), whose answer carries the ids and any failure (a version
        clash); one for the Merkle rows and the COMMIT. Any failure rolls back before the
        connection goes back to the pool.
        """
        if not stored_events:
            return None
        exc: BaseException | None = None
        ids: Sequence[int] | None = None
        self.tree_head.begin()
        with self.datastore.get_connection() as conn:
            try:
                with conn.pipeline() as pipeline, conn.cursor() as curs:
                    try:
                        curs.execute("BEGIN")
                        self._insert_events(curs, stored_events, **kwargs)
                        self._insert_stored_events(curs, stored_events, **kwargs)
                        pipeline.sync()
                        ids = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
                        curs.execute("COMMIT")
                    except Exception as error:  # raised after the pipeline has ended (as the library does)
                        exc = error
                if exc is not None:
                    raise exc
            except BaseException:
                _roll_back(conn)
                raise
        return ids

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        _run_extras(Tx(curs, "postgres"), kwargs)

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        try:
            self.after_insert(Tx(curs, "postgres", tree_head=self.tree_head), stored_events, ids or [])
        except BaseException as exc:
            self._failures.error = exc
            with contextlib.suppress(psycopg.Error):
                curs.execute(_ABORT)
            raise
        return ids

    def take_failure(self) -> BaseException | None:
        """The hook's own exception, when the database error that aborted the insert stands in for it."""
        error = getattr(self._failures, "error", None)
        self._failures.error = None
        return error


# The library keeps a Python exception raised in the hook until its transaction block has
# ended, and that block then commits: the events would be stored without their place in the
# tree. A failed statement leaves PostgreSQL nothing to commit but a rollback.
_ABORT = "DO $$ BEGIN RAISE EXCEPTION 'casusregie: insert aborted'; END $$"


class RegiePostgresFactory(PostgresFactory):
    """PostgreSQL factory: one store per schema, and our recorder."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        old = self.datastore
        old.close()
        self.datastore = _PostgresDatastore(
            dbname=self.env.get(self.POSTGRES_DBNAME) or "",
            host=self.env.get(self.POSTGRES_HOST) or "",
            port=self.env.get(self.POSTGRES_PORT) or "5432",
            user=self.env.get(self.POSTGRES_USER) or "",
            password=self.env.get(self.POSTGRES_PASSWORD) or "",
            connect_timeout=float(self.env.get(self.POSTGRES_CONNECT_TIMEOUT) or 5),
            idle_in_transaction_session_timeout=30,
            pool_size=2,
            max_overflow=4,
            lock_timeout=int(self.env.get(self.POSTGRES_LOCK_TIMEOUT) or 10),
            schema=old.schema,
        )

    def event_recorder(self, after_insert: AfterInsert) -> PostgresEventRecorder:
        recorder = PostgresEventRecorder(self.datastore, after_insert)
        if self.env_create_table():
            recorder.create_table()
        return recorder


# --- choosing one ---------------------------------------------------------------------------


def library_env(location: StoreLocation, *, create: bool = False) -> dict[str, str]:
    """The eventsourcing environment for a store location; ``create`` makes the tables."""
    env = {"IS_SNAPSHOTTING_ENABLED": "y", "CREATE_TABLE": "y" if create else "n"}
    if location.is_postgres:
        info = psycopg.conninfo.conninfo_to_dict(location.dsn)
        env.update(
            PERSISTENCE_MODULE="casusregie.adapters.backends:RegiePostgresFactory",
            POSTGRES_DBNAME=str(info.get("dbname") or info.get("user") or "postgres"),
            POSTGRES_HOST=str(info.get("host") or "127.0.0.1"),
            POSTGRES_PORT=str(info.get("port") or "5432"),
            POSTGRES_USER=str(info.get("user") or "postgres"),
            POSTGRES_PASSWORD=str(info.get("password") or ""),
            POSTGRES_SCHEMA=location.schema,
            POSTGRES_CONNECT_TIMEOUT=str(info.get("connect_timeout") or 5),
        )
    else:
        assert location.path is not None
        env.update(
            PERSISTENCE_MODULE="casusregie.adapters.backends:RegieSQLiteFactory",
            SQLITE_DBNAME=str(location.path),
        )
    return env


def open_factory(location: StoreLocation, *, create: bool = False) -> RegieSQLiteFactory | RegiePostgresFactory:
    env = library_env(location, create=create)
    if location.is_postgres:
        return RegiePostgresFactory(env)
    return RegieSQLiteFactory(env)


def database_of(factory: RegieSQLiteFactory | RegiePostgresFactory) -> Database:
    dialect = "postgres" if isinstance(factory, RegiePostgresFactory) else "sqlite"
    return Database(factory.datastore, dialect)
