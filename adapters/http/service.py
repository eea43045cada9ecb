"""The service behind the API: one open store, and a session for each authenticated caller.

The store, its keys and the views are shared by the requests of one worker process; the
work of one request runs alone, as one CLI invocation does, in the order the requests came:
each waits on the event loop for its turn. A command (a few milliseconds of store work) then
runs on the event loop itself: handing it to a thread and back cost more than a tenth of a
command's CPU, the two threads contending for the GIL. Reads, which may take long (a
decision letter's PDF, an export), run on the worker's one store thread while the loop goes
on reading requests and checking tokens. More throughput comes from more worker processes
on PostgreSQL, whose transactions keep them apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from collections import deque
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
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Turns] = weakref.WeakKeyDictionary()

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
        self.store.close()

    async def run(self, work: Callable[[], T], *, inline: bool = False) -> T:
        """``work`` in its turn, after the requests that came before it: on the event loop itself
        (``inline``, for short store work) or on the worker's store thread.

        A request whose turn has not come within ``wait_seconds`` is dropped unbegun (Busy:
        nothing was done); one that has begun is waited for, since its answer says what it did.
        """
        loop = asyncio.get_running_loop()
        turns = self._turns.setdefault(loop, Turns())
        if not await turns.take(self.wait_seconds):
            raise Busy(self._busy_line())
        if inline:
            try:
                return work()
            finally:
                turns.pass_on()
        job = self._worker.submit(work)
        try:
            return await asyncio.shield(asyncio.wrap_future(job))
        finally:
            if job.done():
                turns.pass_on()
            else:  # the request was cancelled (shutdown): the turn passes on once the job has ended
                job.add_done_callback(lambda _: _call_soon(loop, turns.pass_on))

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


class Turns:
    """Whose turn it is to use the store, on one event loop: first come, first served.

    Hand-made rather than an ``asyncio.Lock`` under a timeout, where a waiter could be given
    the lock in the very moment its wait ran out and then leave it held.
    """

    def __init__(self) -> None:
        self._taken = False
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def take(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the turn; whether it came (if so, ``pass_on`` when done)."""
        if not self._taken and not self._waiting:
            self._taken = True
            return True
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(mine)
        try:
            await asyncio.wait({mine}, timeout=seconds)
        except BaseException:  # cancelled while waiting: a turn given meanwhile goes to the next
            if not mine.cancel():
                self.pass_on()
            raise
        return not mine.cancel()  # not given in time: cancelled, it is skipped when the turn passes

    def pass_on(self) -> None:
        """The turn goes to the first who still waits, or is free."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._taken = False


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits for a turn any more
        loop.call_soon_threadsafe(callback)
