"""Turning domain events into stored rows: JSON, then zlib, then AES-256-GCM per row.

The library's own ``AESCipher`` encrypts a body without knowing where it will be stored.
Here every body is authenticated together with its row (store id, originator id,
version, topic), so a ciphertext swapped or copied into another row no longer opens,
and it names the data key that made it so the master key can rotate underneath.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoding,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic

from casusregie.domain.case import STATE_TYPES
from casusregie.domain.conference import AgendaItem
from casusregie.domain.errors import StoreProblem
from casusregie.domain.sealed import Sealed
from casusregie.domain.subject_request import Withholding
from casusregie.privacy_audit.envelope import DecryptionFailed, canonical, decrypt, encrypt, key_id_of
from casusregie.privacy_audit.key_hierarchy import Keyring, KeyShredded
from casusregie.privacy_audit.verify import CASE_NAMED_IN_BODY, RowAuthenticator


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class SealedAsText(Transcoding):
    """A sealed field travels as ``key_id|field|base64(ciphertext)``: no plaintext ever."""

    type = Sealed
    name = "sealed"

    def encode(self, obj: Sealed) -> str:
        return f"{obj.key_id}|{obj.field}|{base64.b64encode(obj.blob).decode()}"

    def decode(self, data: str) -> Sealed:
        key_id, field, blob = data.split("|", 2)
        return Sealed(key_id=key_id, field=field, blob=binascii.a2b_base64(blob))  # = base64.b64decode, less checking


class DataclassTranscoding(Transcoding):
    """Aggregate state objects (a Member, a Measure ...) in snapshots and projections."""

    def __init__(self, cls: type) -> None:
        self.type = cls
        self.name = f"dc:{cls.__qualname__}"
        self._fields = [f.name for f in fields(cls)]

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self._fields}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


VERIFY_HINT = "the log may have been tampered with: run `regie audit verify`"


def row_aad(store_id: str, originator_id: UUID | str, version: int, topic: str) -> bytes:
    return canonical("regie-row-v1", store_id, str(originator_id), version, topic)


class RowAad:
    """``row_aad`` for one store, from the parts the verifier also builds it from (``RowAuthenticator.aad``:
    the store's prefix made once, only the row's id, version and topic encoded): the same bytes, faster."""

    def __init__(self, store_id: str) -> None:
        self._aad = RowAuthenticator(store_id, {}).aad

    def __call__(self, originator_id: UUID | str, version: int, topic: str) -> bytes:
        return self._aad(str(originator_id).encode(), version, topic.encode())


class _Body:
    """The decrypted body of a row, shaped as the library's mapper reads a stored event."""

    __slots__ = ("originator_id", "originator_version", "state", "topic")

    def __init__(self, stored: StoredEvent, state: bytes) -> None:
        self.originator_id = stored.originator_id
        self.originator_version = stored.originator_version
        self.topic = stored.topic
        self.state = state


@dataclass(frozen=True)
class CaseStoredEvent(StoredEvent):
    """A stored row plus the case its (encrypted) body names, for the position -> case index.

    Only an access trace's first record and an erasure record name their case inside the
    body; once encrypted, the Merkle hook could not read it, so the mapper hands it over.
    """

    case_id: UUID | None = None


class RowBoundMapper(Mapper[UUID]):
    """Mapper whose ciphertexts carry a key id and are bound to their row."""

    def __init__(self, transcoder: JSONTranscoder, keyring: Keyring, row_key_id: str, store_name: str):
        super().__init__(transcoder=transcoder)
        self.keyring = keyring
        self.row_key_id = row_key_id
        self.store_name = store_name
        self._row_aad = RowAad(keyring.store_id)

    def _aad(self, originator_id: UUID | str, version: int, topic: str) -> bytes:
        return self._row_aad(originator_id, version, topic)  # the keyring's store never changes

    def to_stored_event(self, domain_event: Any, level: int = 6) -> StoredEvent:
        """The encrypted row of an event (or snapshot); ``level``: zlib's, any of which decompresses alike."""
        topic = get_topic(domain_event.__class__)
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        version = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        body = zlib.compress(self.transcoder.encode(state), level)
        aad = self._aad(originator_id, version, topic)
        ciphertext = encrypt(self.keyring.cipher(self.row_key_id), self.row_key_id, body, aad)
        case_id = state.get("case_id") if topic in CASE_NAMED_IN_BODY else None
        return CaseStoredEvent(
            originator_id=originator_id, originator_version=version, topic=topic, state=ciphertext, case_id=case_id
        )

    def decrypt_body(self, stored: StoredEvent, ciphers: dict[str, AESGCM] | None = None) -> bytes:
        """The decrypted, decompressed JSON body of a stored row, or a clear StoreProblem.

        ``ciphers`` keeps the keys a batch of rows has looked up (one keyring lookup per key, not per row).
        """
        try:
            key_id = key_id_of(stored.state)
            key = None if ciphers is None else ciphers.get(key_id)
            if key is None:
                key = self.keyring.cipher(key_id)
                if ciphers is not None:
                    ciphers[key_id] = key
            body = decrypt(key, stored.state, self._aad(stored.originator_id, stored.originator_version, stored.topic))
            return zlib.decompress(body)
        except KeyShredded:
            raise
        except DecryptionFailed as exc:
            raise StoreProblem(
                f"cannot decrypt {self._where(stored)} with key id {exc.key_id}: {exc.reason}; {VERIFY_HINT}"
            ) from None
        except zlib.error:
            raise StoreProblem(
                f"{self._where(stored)} decrypted but does not decompress: damaged; {VERIFY_HINT}"
            ) from None

    def _where(self, stored: StoredEvent) -> str:
        return f"record {stored.originator_id} v{stored.originator_version} of store {self.store_name}"

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        body = self.decrypt_body(stored_event)
        return super().to_domain_event(_Body(stored_event, body))  # type: ignore[arg-type]

    def to_domain_events(self, stored_events: Iterable[StoredEvent]) -> list[Any]:
        """``to_domain_event`` of each row (a page of the log), looking each key up once for them all."""
        ciphers: dict[str, AESGCM] = {}
        decode = super().to_domain_event
        return [decode(_Body(s, self.decrypt_body(s, ciphers))) for s in stored_events]  # type: ignore[arg-type]


def make_transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO(), SealedAsText()):
        transcoder.register(transcoding)
    for cls in (*STATE_TYPES, Withholding, AgendaItem):
        transcoder.register(DataclassTranscoding(cls))
    return transcoder
