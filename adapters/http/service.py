"""The service behind the API: one open store, and a session for each authenticated caller.

The store, its keys and the views are shared by the requests of one worker process; the
work of one request runs alone, as one CLI invocation does: on the worker's one thread for
store work, in the order the requests came (and under a lock, for anything run beside it).
Requests wait for that thread on the event loop, not as threads of their own contending for
a lock. More throughput comes from more worker processes on PostgreSQL, whose transactions
keep them apart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from casusregie.adapters.config import Settings
from casusregie.adapters.store import Store, open_store
from casusregie.commands.application import RegieApplication
from casusregie.commands.session import Session, open_session
from casusregie.domain.errors import AccessDenied, StoreProblem
from casusregie.domain.roles import Authentication
from casusregie.privacy_audit.access_log import unknown_subject_trace

log = logging.getLogger("casusregie.http")
REFUSAL_INTERVAL = 60.0  # seconds between two recorded refusals of the same unknown subject
T = TypeVar("T")


class Busy(StoreProblem):
    """Earlier requests held this worker longer than a caller should wait (503, try again)."""


@dataclass(frozen=True)
class Caller:
    """An authenticated caller, before we know which user they are."""

    authentication: Authentication


class Service:
    def __init__(self, settings: Settings, wait_seconds: float = 30.0) -> None:
        self.settings = settings
        self.wait_seconds = wait_seconds
        self.store: Store = open_store(settings)
        self.app = RegieApplication(self.store)
        self.app.keep_setup = True
        self.lock = threading.Lock()
        self._refused: dict[tuple[str, str], float] = {}
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="regie-store")

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
        self.store.close()

    async def run(self, work: Callable[[], T]) -> T:
        """``work`` on the worker's store thread, after the requests that came before it.

        A request not begun within ``wait_seconds`` is dropped unbegun (Busy: nothing was done);
        one that has begun is waited for, since its answer says what it did.
        """
        started = self._worker.submit(work)
        waiting = asyncio.wrap_future(started)
        try:
            return await asyncio.wait_for(asyncio.shield(waiting), self.wait_seconds)
        except TimeoutError:
            if started.cancel():
                raise Busy(self._busy_line()) from None
            return await waiting

    def _busy_line(self) -> str:
        return f"the service is busy (waited {self.wait_seconds:g} s for earlier requests); nothing was done"

    @contextmanager
    def session(self, caller: Caller, attempt: str) -> Iterator[Session]:
        """The caller's session, for one request; an unknown or deactivated subject is refused and logged."""
        auth = caller.authentication
        if not self.lock.acquire(timeout=self.wait_seconds):
            raise Busy(self._busy_line())
        try:
            self.app.alerts.clear()
            self.app.catch_up()  # erasures and Setup changes made elsewhere, before anything is read
            setup = self.app.setup()
            user = setup.user_by_subject(auth.issuer, auth.subject)
            if user is None:
                reason = f"subject {auth.subject} of {auth.issuer} is not a registered user of this store"
                if self._first_in_a_while(auth):
                    self.app.commit(unknown_subject_trace(attempt, auth, reason))
                raise AccessDenied(f"{reason}; the functional administrator registers users (user add --subject)")
            try:
                yield open_session(self.app, user.user_id, None, attempt, auth, setup)
            finally:
                for alert in self.app.alerts:  # what the CLI prints on stderr goes to the server's log
                    if alert.startswith("ALARM"):
                        log.error("%s", alert)
                    elif not alert.startswith("note: request "):
                        log.warning("%s", alert)
        finally:
            self.lock.release()

    def _first_in_a_while(self, auth: Authentication) -> bool:
        """Whether an unknown subject's refusal is recorded now: once a minute per subject, so that
        anyone with a token of the provider cannot make the log grow with every request."""
        now = time.monotonic()
        key = (auth.issuer, auth.subject)
        if now - self._refused.get(key, float("-inf")) < REFUSAL_INTERVAL:
            return False
        if len(self._refused) >= 10_000:
            self._refused.clear()
        self._refused[key] = now
        return True

    def check_ready(self) -> list[str]:
        """What keeps this worker from serving (empty: ready): the store and the key folder."""
        problems: list[str] = []
        if not self.lock.acquire(timeout=2.0):  # a probe does not queue behind real work for long
            return ["the worker is busy: an earlier request has held it for over 2 s"]
        try:
            try:
                self.app.catch_up()
            except Exception as exc:  # any failure to reach the store is "not ready", never a crash
                problems.append(f"the store cannot be read ({type(exc).__name__})")
            paths = self.store.key_paths
            for path in (paths.master, paths.signing):
                try:
                    with path.open("rb"):
                        pass
                except OSError:
                    problems.append(f"the key file {path.name} cannot be read")
            try:
                self.app.setup()
            except StoreProblem as exc:
                problems.append(str(exc))
        finally:
            self.lock.release()
        return problems
