"""The content of documents: encrypted in chunks, in the store, never in the clear on disk.

Each document's content is cut into chunks of ``CHUNK_SIZE`` bytes; each chunk is encrypted
with AES-256-GCM under the document's key (the person's it is about, or the case's) and bound,
as associated data, to the store, the case, the document's random storage id, its number and
the number of chunks. A chunk swapped with another, moved to another document, case or store,
re-numbered or left out does not decrypt; the SHA-256 of all stored ciphertext is recorded in
the ``DocumentAttached`` event, so the tamper-evident log vouches for the chunks as well.

The chunks are written by the same transaction as the event that attaches the document (a
session extra). Destroying the key (``regie erase``, a granted erasure request, the retention
run) makes every chunk unreadable at once, as it does every sealed field; the rows stay as
ciphertext nobody can open (see the README, *Documents*). Each row names its key id, so the
chunks of destroyed keys can be found (and deleted, should their space be wanted back).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from uuid import UUID

from casusregie.adapters.sql import Database, Tx
from casusregie.domain.document import CHUNK_SIZE
from casusregie.domain.errors import StoreProblem
from casusregie.privacy_audit.envelope import DecryptionFailed, Key, canonical, decrypt, encrypt

MAX_BYTES = "document_max_bytes"  # the store's ``extra`` entry: the configured size limit of one document

DDL = """CREATE TABLE IF NOT EXISTS regie_document_chunks (
    storage_id TEXT NOT NULL,
    chunk {bigint} NOT NULL,
    key_id TEXT NOT NULL,
    body {blob} NOT NULL,
    PRIMARY KEY (storage_id, chunk))"""


class DocumentErased(StoreProblem):
    """The document's key was destroyed: its content is erased for good."""


class DocumentDamaged(StoreProblem):
    """The stored chunks are not what was attached (tampered with, swapped, missing or damaged)."""


def create_table(db: Database, tx: Tx) -> None:
    tx.execute(db.ddl(DDL))


def chunk_aad(store_id: str, case_id: UUID | str, storage_id: str, number: int, count: int) -> bytes:
    """What a chunk is bound to: it opens only in this place, as this number of this many."""
    return canonical("regie-document-v1", store_id, str(case_id), storage_id, number, count)


def split(content: bytes, chunk_size: int = CHUNK_SIZE) -> list[bytes]:
    """The content cut into chunks of ``chunk_size`` bytes (the last may be shorter); never empty."""
    if chunk_size < 1:
        raise ValueError("a chunk holds at least one byte")
    return [content[i : i + chunk_size] for i in range(0, len(content), chunk_size)] or [b""]


def ciphertext_digest(bodies: Iterable[bytes]) -> str:
    """SHA-256 over the stored chunks, each length-prefixed (so the cuts between them count too)."""
    digest = hashlib.sha256(b"regie-document-chunks-v1")
    for body in bodies:
        digest.update(len(body).to_bytes(8, "big"))
        digest.update(body)
    return digest.hexdigest()


@dataclass(frozen=True)
class SealedContent:
    """A document's content as it will be stored: the encrypted chunks and their digest."""

    storage_id: str
    key_id: str
    bodies: list[bytes]
    digest: str
    size: int
    chunk_size: int

    @property
    def chunks(self) -> int:
        return len(self.bodies)

    def insert_op(self) -> Callable[[Tx], None]:
        """The session extra that writes the chunks in the command's own transaction."""
        rows = [(self.storage_id, number, self.key_id, body) for number, body in enumerate(self.bodies)]

        def insert(tx: Tx) -> None:
            tx.executemany("INSERT INTO regie_document_chunks (storage_id, chunk, key_id, body) VALUES (?,?,?,?)", rows)

        return insert


def seal_content(
    key: Key,
    key_id: str,
    content: bytes,
    *,
    store_id: str,
    case_id: UUID | str,
    storage_id: str,
    chunk_size: int = CHUNK_SIZE,
) -> SealedContent:
    """Encrypt ``content`` in chunks under ``key`` (the data key named ``key_id``)."""
    parts = split(content, chunk_size)
    count = len(parts)
    bodies = [
        encrypt(key, key_id, part, chunk_aad(store_id, case_id, storage_id, number, count))
        for number, part in enumerate(parts)
    ]
    return SealedContent(storage_id, key_id, bodies, ciphertext_digest(bodies), len(content), chunk_size)


def open_content(
    key: Key,
    bodies: list[bytes],
    *,
    store_id: str,
    case_id: UUID | str,
    storage_id: str,
    count: int,
    digest: str,
    size: int,
) -> bytes:
    """The content again, checked chunk by chunk; anything not as attached is ``DocumentDamaged``."""
    if len(bodies) != count:
        raise DocumentDamaged(f"the document has {len(bodies)} of its {count} stored chunks")
    if ciphertext_digest(bodies) != digest:
        raise DocumentDamaged("the stored chunks do not match the digest recorded when the document was attached")
    parts = []
    for number, body in enumerate(bodies):
        try:
            parts.append(decrypt(key, body, chunk_aad(store_id, case_id, storage_id, number, count)))
        except DecryptionFailed:
            raise DocumentDamaged(f"chunk {number + 1} of {count} does not authenticate") from None
    content = b"".join(parts)
    if len(content) != size:
        raise DocumentDamaged(f"the content is {len(content)} bytes; {size} were attached")
    return content


class DocumentStore:
    """Reading the chunks of one store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def bodies(self, storage_id: str) -> list[bytes]:
        """The stored chunks of a document, in order; a gap in the numbering is damage."""
        with self.db.transaction(commit=False) as tx:
            rows = tx.execute(
                "SELECT chunk, body FROM regie_document_chunks WHERE storage_id = ? ORDER BY chunk", (storage_id,)
            ).fetchall()
        if [int(r[0]) for r in rows] != list(range(len(rows))):
            raise DocumentDamaged("the stored chunks of the document are not numbered 1 to n without gaps")
        return [bytes(r[1]) for r in rows]
