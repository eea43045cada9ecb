"""Catch-up projections (bijgewerkte leesmodellen) that work on SQLite and PostgreSQL alike.

The library's SQLite recorder cannot ``subscribe()``, so instead of its ProjectionRunner
every read first *catches up*: it reads the notification log from the last position it
recorded, applies the new events to all views, and advances the position in the same
transaction. A crash or a second process never applies an event twice: the position
moves with a compare-and-set, and a batch that loses the race rolls back.
"""

from __future__ import annotations

import gc
import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from eventsourcing.persistence import PersistenceError

from casusregie.adapters.db_errors import Trouble, explain, trouble
from casusregie.adapters.sql import Database, Tx

POSITION_DDL = "CREATE TABLE IF NOT EXISTS regie_view_position (name TEXT PRIMARY KEY, position {bigint} NOT NULL)"
RUNNER = "views"
SCHEMA_KEY = "views_schema"  # regie_meta: the fingerprint of the view tables this store has
READ_CHUNK = 1_000  # events applied per transaction when a read catches the views up
REBUILD_CHUNK = 50_000  # events applied per transaction by a rebuild (see ViewRunner.rebuild)
ANALYZE_AFTER = 50_000  # events applied in one catch-up after which table statistics are refreshed
REBUILD_CACHE_MIB = 256  # SQLite page cache of a rebuild's transactions (see Tx.page_cache)
SELDOM = 50_000  # allocations between the cyclic collector's youngest passes during a rebuild (default 700)


def read_position(tx: Tx) -> int:
    """The last notification id every view has applied."""
    return int(tx.scalar("SELECT position FROM regie_view_position WHERE name = ?", (RUNNER,)) or 0)


def _recorded_schema(tx: Tx) -> str | None:
    row = tx.execute("SELECT value FROM regie_meta WHERE name = ?", (SCHEMA_KEY,)).fetchone()
    return None if row is None else str(row[0])


class Projection(Protocol):
    """One read model: its tables, how a batch of events changes it, and how to empty it.

    ``apply`` is called once per page of events (in log order), so several times in one
    transaction when a batch spans several pages.
    """

    name: str

    def create_tables(self, db: Database, tx: Tx) -> None: ...
    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None: ...
    def reset(self, tx: Tx) -> None: ...


# A projection may also gather a batch's work and keep state between batches; the runner calls
# whichever of these methods it has: ``begin(start)`` before a batch of the events after ``start``,
# ``finish(tx)`` after its last page, in its transaction; ``committed(end)`` once the batch and the
# position ``end`` are stored; ``abandoned()`` when it failed or lost the race (rolled back), and
# when a catch-up ends: nothing is kept from one catch-up to the next.
BATCH_HOOKS = ("begin", "finish", "committed", "abandoned")


class TableProjection:
    """A projection whose state is its own tables: made from ``ddl``, emptied on a rebuild."""

    ddl: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()

    def create_tables(self, db: Database, tx: Tx) -> None:
        for statement in self.ddl:
            tx.execute(db.ddl(statement))

    def reset(self, tx: Tx) -> None:
        for table in self.tables:
            tx.execute(f"DELETE FROM {table}")


class _SeldomCollection:
    """Run Python's cyclic garbage collector seldom while a rebuild runs.

    A rebuild keeps thousands of case states alive, and each full collection walks every one of
    them to find the few cycles a rebuild makes (13% of a 300,000-event rebuild, measured with
    ``gc.callbacks``); what it frees it frees by reference counting. The thresholds are the
    process's: the rebuilds of one process share the setting, and the last one to end puts back
    what was there before the first began.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._before = gc.get_threshold()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if not self._running:
                self._before = gc.get_threshold()
                gc.set_threshold(max(self._before[0], SELDOM), *self._before[1:])
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if not self._running:
                    gc.set_threshold(*self._before)


collecting_seldom = _SeldomCollection()


class LostRace(Exception):
    """Another process advanced the views first; the batch is rolled back and retried."""


class ViewRunner:
    """Keeps every projection in step with the notification log."""

    def __init__(
        self,
        app: Any,
        projections: Sequence[Projection],
        page_size: int = 500,
        commit_every: int = 10_000,
        rebuild_every: int = REBUILD_CHUNK,
    ) -> None:
        self.app = app
        self.db: Database = app.store.db
        self.projections = list(projections)
        self.page_size = page_size
        # Events applied per transaction: a case touched many times in a chunk is stored once.
        self.commit_every = commit_every
        self.rebuild_every = rebuild_every  # the same, for a rebuild from scratch
        self._ready = False
        self.behind = 0  # records the views lacked at the last refresh() that could not catch up

    @property
    def schema(self) -> str:
        """A fingerprint of every view's tables: when it changes (an upgrade), they are made again."""
        digest = hashlib.sha256(POSITION_DDL.encode())
        for projection in self.projections:
            digest.update(projection.name.encode())
            for statement in getattr(projection, "ddl", ()):
                digest.update(statement.encode())
        return digest.hexdigest()[:16]

    def ensure_tables(self) -> None:
        """Make the views' tables if this store does not have them yet (at init and after an upgrade).

        Known from the store's metadata, which is read when it is opened: a read then takes no
        write lock, so it works next to a busy writer and on a store that cannot be written.
        """
        if self._ready:
            return
        meta = self.app.store.meta
        if meta.get(SCHEMA_KEY) != self.schema:
            self.create_tables()
        self._ready = True

    def create_tables(self) -> None:
        with self.db.transaction(commit=True) as tx:
            tx.serialise("casusregie views")
            if _recorded_schema(tx) == self.schema:
                # Another process made them while this one waited. Doing it again is not harmless
                # on PostgreSQL: its index statements lock tables that a catch-up is writing.
                self.app.store.meta[SCHEMA_KEY] = self.schema
                self._ready = True
                return
            tx.execute(self.db.ddl(POSITION_DDL))
            for projection in self.projections:
                projection.create_tables(self.db, tx)
            tx.execute(
                "INSERT INTO regie_view_position (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING",
                (RUNNER,),
            )
            tx.execute(
                "INSERT INTO regie_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = ?",
                (SCHEMA_KEY, self.schema, self.schema),
            )
        self.app.store.meta[SCHEMA_KEY] = self.schema
        self._ready = True

    def position(self) -> int:
        self.ensure_tables()
        with self.db.transaction(commit=False) as tx:
            return read_position(tx)

    def head(self) -> int:
        return int(self.app.recorder.max_notification_id() or 0)

    def catch_up(
        self, progress: Callable[[int], None] | None = None, chunk: int | None = None, cache_mib: int = 0
    ) -> int:
        """Apply every event recorded since the last position; returns how many.

        ``cache_mib``: a bigger SQLite page cache for each batch's transaction (a rebuild's).
        """
        self.ensure_tables()
        try:
            return self._catch_up(progress, chunk, cache_mib)
        finally:
            self._hook("abandoned")  # what projections kept between its batches ends with the catch-up

    def _catch_up(self, progress: Callable[[int], None] | None, chunk: int | None, cache_mib: int) -> int:
        applied = 0
        while True:
            start = self.position()
            size = chunk or self.commit_every
            if applied:  # far behind (after an interrupted rebuild, say): the next batches grow, see refresh()
                size = max(size, min(applied, self.commit_every))
            pages, end = self._read_chunk(start, size)
            if not pages:
                return applied
            count = sum(len(page) for page in pages)
            self._hook("begin", start)
            try:
                with self.db.transaction(commit=True) as tx, tx.page_cache(cache_mib):
                    self._advance(tx, start, end)
                    for page in pages:
                        # Decrypted a page at a time: a batch holds its records encrypted, one page decoded.
                        events = list(zip([n.id for n in page], self._decode(page), strict=True))
                        for projection in self.projections:
                            projection.apply(tx, events)
                    self._hook("finish", tx)
            except LostRace:
                self._hook("abandoned")
                continue
            except BaseException:
                self._hook("abandoned")
                raise
            self._hook("committed", end)
            applied += count
            if progress is not None:
                progress(count)
            if applied >= ANALYZE_AFTER and applied - count < ANALYZE_AFTER:
                self.analyze()

    def refresh(self) -> int:
        """Catch up before a read; when the store cannot take that write now, serve the views as they are.

        The catch-up is a short write of its own that waits for the lock (the busy timeout).
        If the store stays busy, cannot be written or is full, the read goes on from the last
        committed views and ``behind`` says by how many records (also as a warning in
        ``app.alerts``). What decides access is not taken from a view that is behind: see
        ``Reader.case_state``.
        """
        self.behind = 0
        try:
            # Short transactions: a reader holds the one write lock no longer than a page or two takes.
            # When it finds the views far behind, its batches double up to ``commit_every`` events (about
            # a second's work): each case touched is stored once per batch, so the first read after an
            # interrupted rebuild would otherwise take minutes where a few seconds do.
            return self.catch_up(chunk=READ_CHUNK)
        except PersistenceError as exc:
            if trouble(exc) not in (Trouble.BUSY, Trouble.READ_ONLY, Trouble.FULL):
                raise
            reason = explain(exc)
        self.behind = max(self.head() - self.position(), 0)
        if self.behind:
            self.app.alerts.append(
                f"warning: the views are {self.behind} record(s) behind the log ({reason}); "
                "lists are shown as last brought up to date"
            )
        return 0

    def analyze(self) -> None:
        """Refresh the planner's statistics after a large catch-up, so lookups by person stay indexed."""
        with self.db.transaction(commit=True) as tx:
            for projection in self.projections:
                for table in getattr(projection, "tables", ()):
                    tx.execute(f"ANALYZE {table}")

    def _hook(self, name: str, *args: Any) -> None:
        """Call ``name`` (one of BATCH_HOOKS) on every projection that has it."""
        for projection in self.projections:
            hook = getattr(projection, name, None)
            if hook is not None:
                hook(*args)

    def _read_chunk(self, start: int, size: int) -> tuple[list[Sequence[Any]], int]:
        """Pages of the records after ``start``, up to ``size`` of them (still encrypted), and the last id."""
        pages: list[Sequence[Any]] = []
        cursor, count = start, 0
        while count < size:
            page = self.app.recorder.select_notifications(start=cursor, limit=self.page_size, inclusive_of_start=False)
            if not page:
                break
            pages.append(page)
            count += len(page)
            cursor = page[-1].id
        return pages, cursor

    def _decode(self, page: Sequence[Any]) -> list[Any]:
        """The events of a page of records: decrypted, decompressed and decoded (each key looked up once)."""
        mapper = self.app.mapper
        many = getattr(mapper, "to_domain_events", None)
        return many(page) if many is not None else [mapper.to_domain_event(n) for n in page]

    @staticmethod
    def _advance(tx: Tx, start: int, end: int) -> None:
        row = tx.execute(
            "UPDATE regie_view_position SET position = ? WHERE name = ? AND position = ? RETURNING position",
            (end, RUNNER, start),
        ).fetchone()
        if row is None:
            raise LostRace

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Empty every view and replay the whole log into it.

        In batches of ``rebuild_every`` events, one transaction each: a case touched in a batch
        is encrypted and stored once per batch, so bigger batches store each case fewer times;
        a crash keeps every batch committed before it (a catch-up goes on from there).
        """
        self.ensure_tables()
        with self.db.transaction(commit=True) as tx:
            for projection in self.projections:
                projection.reset(tx)
            tx.execute("UPDATE regie_view_position SET position = 0 WHERE name = ?", (RUNNER,))
        with collecting_seldom():
            return self.catch_up(progress, chunk=self.rebuild_every, cache_mib=REBUILD_CACHE_MIB)
