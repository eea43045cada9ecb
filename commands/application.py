"""The service layer: an eventsourcing ``Application`` over one opened store.

It wires the project's adapters into the library (row-bound encrypting mapper, recorders
that keep the Merkle tree, snapshots) and offers one way to write: ``commit``, which puts
the events of every given aggregate, the access-log records and any extra rows (new keys,
shredded keys) in a single database transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import EventStore, PersistenceError, RecordConflictError

from casusregie.adapters import merkle_log
from casusregie.adapters.backends import library_env
from casusregie.adapters.checkpoint_files import HEAD_SIZE, auto_checkpoint
from casusregie.adapters.db_errors import Trouble, explain, trouble
from casusregie.adapters.mapper import RowBoundMapper, make_transcoder
from casusregie.adapters.profile_file import load_profile_text
from casusregie.adapters.store import Store
from casusregie.domain.access import AccessTrace, Action, Outcome, new_span_id
from casusregie.domain.case import Case
from casusregie.domain.errors import Conflict, RegieError, StoreProblem
from casusregie.domain.profile import Profile
from casusregie.domain.setup import Setup
from casusregie.privacy_audit.key_hierarchy import MasterKeyReplaced
from casusregie.privacy_audit.replay import AUDIT_ACTIVITY
from casusregie.privacy_audit.verify import LogTampered


class RegieApplication(Application[UUID]):
    """casusregie's application object: repository, event store and notification log."""

    name = "casusregie"
    # A snapshot every 20 events bounds what a command must decrypt to load a case.
    snapshotting_intervals: ClassVar[dict[type, int]] = {Case: 20}

    def __init__(self, store: Store) -> None:
        self.store = store
        self.alerts: list[str] = []
        self.writing = False  # a commit is under way (an error now may or may not have been stored)
        self.written = 0  # commits this application made
        # A long-running server keeps the Setup it last read and reads only newer events of it,
        # when catch_up found anything new; a CLI invocation reads it whole, as it always did.
        self.keep_setup = False
        self._kept_setup: Setup | None = None
        self._kept_version = -1  # the kept Setup's version when it last matched the store
        self._setup_behind = True  # events of the Setup may have been stored since it was kept
        self._accounted = -1  # every event up to this notification id has been taken in (see catch_up)
        super().__init__(env=library_env(store.location, create=store.created))

    def construct_env(self, name: str, env: Any = None) -> Any:
        # Unlike the library default, ignore os.environ: a store is configured by its
        # location and key files only, so stray variables cannot change how it is read.
        from eventsourcing.utils import Environment

        return Environment(name, dict(env or {}))

    def construct_factory(self, env: Any) -> Any:
        return self.store.factory

    def construct_mapper(self) -> RowBoundMapper:
        return RowBoundMapper(make_transcoder(), self.store.keyring, self.store.row_key_id, self.store.name)

    def construct_recorder(self) -> Any:
        extra = self.store.extra

        def append(tx: Any, stored_events: Any, notification_ids: Any) -> None:
            # The tree size as of this (uncommitted) insert: lets the checkpoint check skip a query.
            extra[HEAD_SIZE] = merkle_log.append(tx, stored_events, notification_ids)

        return self.store.factory.event_recorder(append)

    def construct_snapshot_store(self) -> EventStore[UUID]:
        return EventStore(mapper=self.mapper, recorder=self.factory.aggregate_recorder(purpose="snapshots"))

    def _take_snapshots(self, processing_event: Any) -> None:
        """Snapshot from the aggregate in hand, instead of reloading it as the library does.

        A save that carries an aggregate past a multiple of its interval snapshots it at its
        current version (any version is a valid snapshot).
        """
        if self.snapshots is None:
            return
        for aggregate in processing_event.aggregates.values():
            interval = self.snapshotting_intervals.get(type(aggregate))
            if interval is None:
                continue
            versions = [e.originator_version for e in processing_event.events if e.originator_id == aggregate.id]
            if versions and any(v % interval == 0 for v in versions):
                self.snapshots.put([type(aggregate).Snapshot.take(aggregate)])

    # --- writing -------------------------------------------------------------------------

    def commit(
        self, *aggregates: Any, extras: Sequence[Callable[[Any], None]] = (), new_keys: Sequence[str] = ()
    ) -> None:
        """Store everything in one transaction; on failure nothing is written."""
        self.writing = True
        try:
            recordings = self.save(*aggregates, extras=list(extras))
            self.written += 1
            self._account_for([r.notification.id for r in recordings])
            if any(isinstance(a, Setup) for a in aggregates):
                self._setup_behind = True  # its events are accounted for: a kept Setup must still read them
        except RecordConflictError as exc:
            self.store.keyring.forget(list(new_keys))
            if _is_version_clash(exc):
                raise Conflict(
                    "someone else changed this record at the same moment; nothing was saved, run the command again"
                ) from None
            raise StoreProblem(f"store {self.store.name} refused the write: {_first_line(exc)}") from None
        except PersistenceError as exc:
            self.store.keyring.forget(list(new_keys))
            cause = getattr(self.recorder, "take_failure", lambda: None)()
            if cause is not None:  # our own insert hook failed; the database error only stood in for it
                raise cause from None
            raise StoreProblem(write_failure(self.store.name, exc)) from None
        except MasterKeyReplaced:
            self.store.keyring.forget(list(new_keys))
            self.store.keyring.reload_master()  # so that running it again uses the key in force
            raise
        except BaseException:
            self.store.keyring.forget(list(new_keys))
            raise
        finally:
            self.writing = False
        self._checkpoint_if_due(aggregates)

    def _checkpoint_if_due(self, aggregates: Sequence[Any]) -> None:
        """Sign a checkpoint every N records (profile ``checkpoint_every``), after the commit.

        The write has committed by now, so whatever happens here the command succeeded: a
        failure must not make it look failed (a retry would store it twice). If the log no
        longer extends the last checkpoint, that is an alarm; any other failure (a missing
        signing key, an unreadable checkpoint folder) is a warning. Either is kept for the
        caller to show on stderr and recorded in the access log; the newest-checkpoint mark
        does not move, so the next command tries again (`regie audit status` shows it).
        """
        try:
            auto_checkpoint(self.store, self)
        except LogTampered as exc:
            advice = "" if "regie audit verify" in str(exc) else " (run `regie audit verify`)"
            self.alerts.append(f"ALARM: {exc}{advice}")
            self._record_checkpoint_failure(aggregates, f"alarm: {_first_line(exc)}")
        except Exception as exc:
            reason = _checkpoint_reason(exc)
            self.alerts.append(
                f"warning: the command was stored, but the automatic checkpoint failed: {reason}; "
                "the next command tries again (see `regie audit status`)"
            )
            self._record_checkpoint_failure(aggregates, reason)

    def _record_checkpoint_failure(self, aggregates: Sequence[Any], reason: str) -> None:
        """An access record (outcome ``error``) of the failed checkpoint, by whoever's command triggered it.

        Best effort: the command's own records are stored; if the store cannot take this one
        either, the warning on stderr is all that can be done.
        """
        trace = next((a for a in aggregates if isinstance(a, AccessTrace)), None)
        if trace is None:
            return
        record = checkpoint_failure_trace(trace, reason)
        with contextlib.suppress(Exception):
            self.save(record)

    # --- keeping up with other processes -----------------------------------------------

    def catch_up(self) -> None:
        """Take in what was stored since the last look, by any process: erasures (their keys leave
        the key cache) and, where a Setup is kept, that it must read its newer events.

        Run at the start of every unit of work. When nothing was stored meanwhile but this
        process's own commits, that is one query (the newest notification id); otherwise the
        erasures are looked up too.
        """
        newest = self.recorder.max_notification_id() or 0
        if newest == self._accounted:
            return
        self.store.keyring.sync_erasures()  # reads at least up to ``newest``, which was read before it
        self._setup_behind = True
        self._accounted = newest

    def _account_for(self, notification_ids: Sequence[int]) -> None:
        """Our own commit's events need no looking up, when nothing else was stored since the last look.

        Inserts commit in notification-id order (one writer at a time on SQLite, a table lock on
        PostgreSQL), so ids that follow the accounted one without a gap show that no other process
        stored anything in between; after a gap (another writer, or a rolled-back id) the next
        ``catch_up`` looks.
        """
        ids = sorted(notification_ids)
        if ids and ids[0] == self._accounted + 1 and ids[-1] - ids[0] == len(ids) - 1:
            self._accounted = ids[-1]

    # --- set-up ----------------------------------------------------------------------------

    @cached_property
    def setup_id(self) -> UUID:
        return Setup.create_id(self.store.store_id)  # a name-based UUID: hashed once, asked per request

    def setup(self) -> Setup:
        """The store's profile and users; fail closed when that record cannot be read as written.

        Everything else is authorised from it, so a damaged or altered Setup record stops every
        command; only `regie audit verify`, which needs no user, can then say what happened.
        """
        try:
            if self.keep_setup and self._kept_setup is not None:
                return self._fast_forward()
            setup = self.repository.get(self.setup_id)
        except AggregateNotFoundError:
            raise StoreProblem(f"store {self.store.name} was never initialised with a profile") from None
        except Exception as exc:  # any damage: a wrong key, a gap, a foreign row
            self._kept_setup = None  # half brought up to date, perhaps: the next call reads it whole
            reason = _first_line(exc).split(" with text ")[0]  # never echo the damaged bytes themselves
            reason = reason if len(reason) <= 160 else reason[:160] + "…"
            if not isinstance(exc, StoreProblem):
                reason = f"{type(exc).__name__}: {reason}"  # e.g. a version gap where a record was deleted
            raise StoreProblem(
                f"the users and profile of store {self.store.name} cannot be read ({reason}); the log may have been "
                "tampered with: run `regie audit verify`"
            ) from None
        if not isinstance(setup, Setup):
            raise StoreProblem(
                f"the users and profile of store {self.store.name} are not what was written; run `regie audit verify`"
            )
        if self.keep_setup:
            self._kept_setup, self._kept_version = setup, setup.version
            self._setup_behind = False
        return setup

    def _fast_forward(self) -> Setup:
        """The kept Setup, brought up to date with the events stored since (by any process, as of the
        last ``catch_up``).

        It is handed out itself, not a copy (copying a directory of hundreds of users took most of
        a millisecond per request). A command that changes it does so through its events, which
        move its version on; whether that change was then saved or not, the next call finds the
        version moved and reads the Setup whole from the store.
        """
        kept = self._kept_setup
        assert kept is not None
        if kept.version != self._kept_version:
            self._kept_setup = None
            return self.setup()
        if self._setup_behind:
            for stored in self.recorder.select_events(self.setup_id, gt=kept.version):
                kept = self.mapper.to_domain_event(stored).mutate(kept)
            self._kept_setup, self._kept_version = kept, kept.version
            self._setup_behind = False
        return kept

    @cached_property
    def profile(self) -> Profile:
        return load_profile_text(self.setup().profile_toml, source=f"profile of {self.store.name}")

    def get(self, aggregate_id: UUID) -> Any:
        return self.repository.get(aggregate_id)


CHECKPOINT = "audit.checkpoint"


def checkpoint_failure_trace(cause: AccessTrace, reason: str) -> AccessTrace:
    """The access record of an automatic checkpoint that failed after ``cause``'s command."""
    now = datetime.now(UTC)
    return AccessTrace(
        span_id=new_span_id(),
        name=CHECKPOINT,
        actor=cause.actor,
        on_behalf_of=cause.on_behalf_of,
        role=cause.role,
        organisation=cause.organisation,
        action=str(Action.ADMIN),
        activity=AUDIT_ACTIVITY,
        case_id=None,
        outcome=str(Outcome.ERROR),
        reason=reason,
        started_at=now,
        ended_at=now,
    )


def write_failure(store: str, exc: BaseException) -> str:
    """One line on a write the database did not take: what is wrong, and whether it was stored."""
    if trouble(exc) is Trouble.CONNECTION:
        return (
            f"store {store}: {explain(exc)} while saving; it is not known whether this was stored: look "
            "(e.g. `regie log show`) before running it again, or run it again with the same --request-id"
        )
    return f"store {store} did not store this: {explain(exc)}; nothing was saved"


def _checkpoint_reason(exc: BaseException) -> str:
    if isinstance(exc, RegieError):
        return _first_line(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}" if exc.filename else _first_line(exc)
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _is_version_clash(exc: BaseException) -> bool:
    """A unique-key clash on an event's (originator, version): optimistic concurrency at work."""
    text = str(exc)
    return "UNIQUE constraint failed" in text or "duplicate key value" in text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
