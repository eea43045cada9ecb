"""Request ids already carried out (idempotency keys), kept in the store beside the events.

A command given a request id claims it in the same transaction as its events, so a retry
that finds the id knows the first attempt was stored, and a retry that does not find it
knows it was not. The first answer is kept in a short write of its own just after; ids are
forgotten after ``KEEP``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from casusregie.adapters.sql import Database, Tx
from casusregie.commands.idempotency import Earlier

KEEP = timedelta(days=7)  # a script or client retries within minutes; a week covers a long weekend's outage

DDL = """CREATE TABLE IF NOT EXISTS regie_request_ids (
    request_id TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    stored_at TEXT NOT NULL,
    answer TEXT)"""


class RequestIds:
    """The store's memory of request ids (the ``RequestMemory`` port of the command path)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def create_table(tx: Tx) -> None:
        tx.execute(DDL)

    def find(self, request_id: str) -> Earlier | None:
        with self.db.transaction(commit=False) as tx:
            row = tx.execute(
                "SELECT actor, fingerprint, stored_at, answer FROM regie_request_ids WHERE request_id = ?",
                (request_id,),
            ).fetchone()
        if row is None:
            return None
        actor, fingerprint, stored_at, answer = row
        return Earlier(str(actor), str(fingerprint), str(stored_at), None if answer is None else str(answer))

    def claim(self, request_id: str, actor: str, fingerprint: str) -> Callable[[Any], None]:
        """The insert that claims the id: run inside the command's own transaction."""
        now = datetime.now(UTC)

        def insert(tx: Tx) -> None:
            tx.execute("DELETE FROM regie_request_ids WHERE stored_at < ?", ((now - KEEP).isoformat(),))
            tx.execute(
                "INSERT INTO regie_request_ids (request_id, actor, fingerprint, stored_at) VALUES (?, ?, ?, ?)",
                (request_id, actor, fingerprint, now.isoformat()),
            )

        return insert

    def answer(self, request_id: str, answer: str) -> None:
        with self.db.transaction(commit=True) as tx:
            tx.execute("UPDATE regie_request_ids SET answer = ? WHERE request_id = ?", (answer, request_id))
