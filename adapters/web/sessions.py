"""Server-side sessions of the web application, kept in the store beside the events.

The browser holds only a random cookie value; the store holds its SHA-256, so whoever can
read the database cannot take over a session. Rows live in the store rather than in one
process's memory so that every worker process serving a PostgreSQL store knows every
session, and a restart does not sign everyone out. A sign-in that has been started (state,
nonce and PKCE verifier) waits here too, bound to a cookie of its own, so that the answer
of the provider is accepted only in the browser that asked for it.

This is operational state, not the case record: nothing here is an event, and a session
holds no personal data of a household (the subject is a staff member's account).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from casusregie.adapters.sql import Database
from casusregie.adapters.web.oidc import PendingSignIn
from casusregie.domain.errors import StoreProblem

SIGN_IN_SECONDS = 600  # a sign-in that has not come back in ten minutes is abandoned
TOUCH_SECONDS = 30  # a session's last use is written at most this often (not at every page view)
# Sign-ins under way at once, from one address and in all: far above what people signing in within ten
# minutes start, and a bound on what a stream of unauthenticated requests to /aanmelden makes the store keep.
MAX_SIGN_INS_PER_ADDRESS = 20
MAX_SIGN_INS = 50_000

DDL = """CREATE TABLE IF NOT EXISTS regie_web_sessions (
    digest TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT,
    issuer TEXT,
    csrf TEXT,
    pending TEXT,
    address TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL)"""


@dataclass(frozen=True)
class WebSession:
    digest: str
    subject: str
    issuer: str
    csrf: str
    created_at: float

    @property
    def reference(self) -> str:
        """How the access log names this session: never the cookie, only a part of its digest."""
        return "web:" + self.digest[:24]


class TooManySignIns(StoreProblem):
    """More sign-ins are under way than any real use makes (503, try again)."""


class Expired(Exception):
    """The cookie names a session that timed out (the page says so and asks to sign in again)."""


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8", "replace")).hexdigest()


class WebSessions:
    def __init__(
        self, db: Database, *, idle_seconds: float, max_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.clock = clock

    def create_table(self) -> None:
        with self.db.transaction(commit=True) as tx:
            tx.serialise("casusregie web sessions")  # workers starting together on PostgreSQL
            tx.execute(DDL)

    # --- a sign-in under way -----------------------------------------------------------------

    def start_sign_in(self, pending: PendingSignIn, address: str) -> str:
        """A sign-in under way, bound to a new cookie; refused when too many are, from this address or in all
        (anyone may start one)."""
        cookie = secrets.token_urlsafe(32)
        now = self.clock()
        data = json.dumps([pending.state, pending.nonce, pending.verifier, pending.next_path])
        with self.db.transaction(commit=True) as tx:
            tx.execute(
                "DELETE FROM regie_web_sessions WHERE kind = 'sign-in' AND created_at < ?", (now - SIGN_IN_SECONDS,)
            )
            mine = int(
                tx.scalar("SELECT count(*) FROM regie_web_sessions WHERE kind = 'sign-in' AND address = ?", (address,))
            )
            everyone = int(tx.scalar("SELECT count(*) FROM regie_web_sessions WHERE kind = 'sign-in'"))
            if mine >= MAX_SIGN_INS_PER_ADDRESS or everyone >= MAX_SIGN_INS:
                raise TooManySignIns("too many sign-ins are under way; try again in a few minutes")
            tx.execute(
                "INSERT INTO regie_web_sessions (digest, kind, pending, address, created_at, seen_at) "
                "VALUES (?, 'sign-in', ?, ?, ?, ?)",
                (_digest(cookie), data, address[:64], now, now),
            )
        return cookie

    def take_sign_in(self, cookie: str) -> PendingSignIn | None:
        """The sign-in this browser started, once (a replayed answer finds nothing); a cookie that names no
        sign-in writes nothing."""
        if not cookie or len(cookie) > 256:
            return None
        digest = _digest(cookie)
        with self.db.transaction(commit=False) as tx:
            row = tx.execute(
                "SELECT pending, created_at FROM regie_web_sessions WHERE digest = ? AND kind = 'sign-in'", (digest,)
            ).fetchone()
        if row is None:
            return None
        with self.db.transaction(commit=True) as tx:
            taken = tx.execute(
                "DELETE FROM regie_web_sessions WHERE digest = ? AND kind = 'sign-in' RETURNING digest", (digest,)
            ).fetchone()
        if taken is None:  # another request took it first
            return None
        if self.clock() - float(row[1]) > SIGN_IN_SECONDS:
            return None
        state, nonce, verifier, next_path = json.loads(str(row[0]))
        return PendingSignIn(state, nonce, verifier, next_path)

    # --- sessions --------------------------------------------------------------------------------

    def open(self, subject: str, issuer: str) -> str:
        """A new session (a new cookie value: never one the browser had before signing in)."""
        cookie = secrets.token_urlsafe(32)
        now = self.clock()
        with self.db.transaction(commit=True) as tx:
            tx.execute(
                "DELETE FROM regie_web_sessions WHERE kind = 'session' AND (seen_at < ? OR created_at < ?)",
                (now - self.idle_seconds, now - self.max_seconds),
            )
            tx.execute(
                "INSERT INTO regie_web_sessions (digest, kind, subject, issuer, csrf, created_at, seen_at) "
                "VALUES (?, 'session', ?, ?, ?, ?, ?)",
                (_digest(cookie), subject, issuer, secrets.token_urlsafe(32), now, now),
            )
        return cookie

    def find(self, cookie: str) -> WebSession | None:
        """The live session of this cookie; None for an unknown one, Expired for one that timed out."""
        if not cookie or len(cookie) > 256:
            return None
        digest = _digest(cookie)
        now = self.clock()
        with self.db.transaction(commit=False) as tx:
            row = tx.execute(
                "SELECT subject, issuer, csrf, created_at, seen_at FROM regie_web_sessions "
                "WHERE digest = ? AND kind = 'session'",
                (digest,),
            ).fetchone()
        if row is None:
            return None
        subject, issuer, csrf, created_at, seen_at = row
        if now - float(seen_at) > self.idle_seconds or now - float(created_at) > self.max_seconds:
            self.close(cookie)
            raise Expired
        if now - float(seen_at) > TOUCH_SECONDS:
            with self.db.transaction(commit=True) as tx:
                tx.execute("UPDATE regie_web_sessions SET seen_at = ? WHERE digest = ?", (now, digest))
        return WebSession(digest, str(subject), str(issuer), str(csrf), float(created_at))

    def close(self, cookie: str) -> None:
        with self.db.transaction(commit=True) as tx:
            tx.execute("DELETE FROM regie_web_sessions WHERE digest = ?", (_digest(cookie),))
