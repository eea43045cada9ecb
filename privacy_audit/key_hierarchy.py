"""The keyring (sleutelbos): data keys per store, person and case, under the master key.

* ``key(key_id)`` unwraps a data key once per process and caches it;
* ``create(...)`` makes a new data key and returns the row to store *in the same
  transaction* as the events that first use it;
* ``shred(...)`` destroys a key (crypto-shredding): its row keeps only a tombstone, and a
  key for that id can never be created again;
* ``seal`` / ``unseal`` encrypt one personal field, bound to its key and field name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from casusregie.domain.errors import DomainRuleViolation, StoreProblem
from casusregie.domain.sealed import Sealed
from casusregie.privacy_audit.envelope import (
    DecryptionFailed,
    canonical,
    decrypt,
    encrypt,
    new_key,
    unwrap_key,
    wrap_key,
)
from casusregie.privacy_audit.key_generations import moment


class KeyRecordLike(Protocol):
    key_id: str
    purpose: str
    subject: str
    master_key_id: str | None
    wrapped: bytes | None
    created_at: str

    @property
    def is_shredded(self) -> bool: ...


class KeyStorage(Protocol):
    """Where wrapped keys live (implemented in adapters.keystore)."""

    def get(self, key_id: str) -> KeyRecordLike | None: ...
    def get_many(self, key_ids: list[str]) -> dict[str, Any]: ...
    def all(self) -> list[Any]: ...
    def insert_op(self, record: Any) -> Callable[[Any], None]: ...
    def shred_op(self, key_id: str, at: str, ground: str) -> Callable[[Any], None]: ...
    def rewrap(self, rewrapped: dict[str, bytes], new_master_key_id: str) -> None: ...


class MasterKeyLike(Protocol):
    key_id: str
    key: bytes


class KeyShredded(StoreProblem):
    """The key was destroyed: the data it protected is erased for good."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"key {key_id} has been destroyed (erased data)")
        self.key_id = key_id


def _json_default(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot seal {type(value).__name__}")


class Keyring:
    """Data keys of one store, unwrapped on demand with its master key."""

    def __init__(
        self,
        store_id: str,
        master: MasterKeyLike,
        storage: KeyStorage,
        record_factory: Callable[..., Any],
        store_name: str,
    ) -> None:
        self.store_id = store_id
        self.master = master
        self.storage = storage
        self._record = record_factory
        self._store_name = store_name
        self._cache: dict[str, bytes] = {}
        self._ciphers: dict[str, AESGCM] = {}

    # --- data keys ---------------------------------------------------------------------

    def key(self, key_id: str) -> bytes:
        cached = self._cache.get(key_id)
        if cached is not None:
            return cached
        record = self.storage.get(key_id)
        return self._unwrap(key_id, record)

    def cipher(self, key_id: str) -> AESGCM:
        """The data key ready for AES-GCM, prepared once per process."""
        prepared = self._ciphers.get(key_id)
        if prepared is None:
            prepared = self._ciphers[key_id] = AESGCM(self.key(key_id))
        return prepared

    def _unwrap(self, key_id: str, record: KeyRecordLike | None) -> bytes:
        if record is None:
            raise StoreProblem(f"store {self._store_name} has no key {key_id}")
        if record.is_shredded or record.wrapped is None:
            raise KeyShredded(key_id)
        if record.master_key_id != self.master.key_id:
            raise StoreProblem(
                f"key {key_id} of store {self._store_name} is wrapped by master key "
                f"{record.master_key_id}, but the key file holds {self.master.key_id}"
            )
        try:
            data_key = unwrap_key(self.master.key, record.wrapped, store_id=self.store_id, key_id=key_id)
        except DecryptionFailed:
            raise StoreProblem(
                f"the master key {self.master.key_id} does not open key {key_id} of store "
                f"{self._store_name}: wrong key file, or the key row was damaged or moved"
            ) from None
        self._cache[key_id] = data_key
        return data_key

    def create(self, key_id: str, purpose: str, subject: str) -> Callable[[Any], None]:
        """A new data key; returns the extra that stores it with the caller's events."""
        existing = self.storage.get(key_id)
        if existing is not None and existing.is_shredded:
            raise DomainRuleViolation(f"{subject} was erased; no new key may be created for erased data")
        if existing is not None or key_id in self._cache:
            raise StoreProblem(f"key {key_id} already exists in store {self._store_name}")
        data_key = new_key()
        wrapped = wrap_key(self.master.key, self.master.key_id, data_key, store_id=self.store_id, key_id=key_id)
        record = self._record(
            key_id=key_id,
            purpose=purpose,
            subject=subject,
            master_key_id=self.master.key_id,
            wrapped=wrapped,
            created_at=moment(),
        )
        self._cache[key_id] = data_key
        return self.storage.insert_op(record)

    def forget(self, key_ids: list[str]) -> None:
        """Drop cached keys: after a failed save, or after shredding."""
        for key_id in key_ids:
            self._cache.pop(key_id, None)
            self._ciphers.pop(key_id, None)

    def shred(self, key_id: str, ground: str) -> Callable[[Any], None]:
        """The extra that destroys a key in the same transaction as the erasure event."""
        record = self.storage.get(key_id)
        if record is None:
            raise StoreProblem(f"store {self._store_name} has no key {key_id}")
        if record.is_shredded:
            raise DomainRuleViolation(f"{record.subject} was already erased")
        self._cache.pop(key_id, None)
        self._ciphers.pop(key_id, None)
        return self.storage.shred_op(key_id, moment(), ground)

    def is_shredded(self, key_id: str) -> bool:
        record = self.storage.get(key_id)
        return record is not None and record.is_shredded

    # --- sealed fields -----------------------------------------------------------------

    def _field_aad(self, key_id: str, field: str) -> bytes:
        return canonical("regie-field-v1", self.store_id, key_id, field)

    def seal(self, key_id: str, field: str, value: Any) -> Sealed:
        """Encrypt one personal field (str, date, number, list or dict of those)."""
        plaintext = json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))
        blob = encrypt(self.cipher(key_id), key_id, plaintext.encode(), self._field_aad(key_id, field))
        return Sealed(key_id=key_id, field=field, blob=blob)

    def unseal(self, sealed: Sealed) -> Any:
        """Decrypt one field; raises KeyShredded when its subject was erased."""
        key = self.cipher(sealed.key_id)
        try:
            plaintext = decrypt(key, sealed.blob, self._field_aad(sealed.key_id, sealed.field))
        except DecryptionFailed as exc:
            raise StoreProblem(
                f"sealed {sealed.field} under key {sealed.key_id} in store {self._store_name} "
                f"does not decrypt: {exc.reason}"
            ) from None
        return json.loads(plaintext)

    # --- master key rotation ---------------------------------------------------------

    def rewrapped_under(self, new_master: MasterKeyLike) -> dict[str, bytes]:
        """Every live data key wrapped anew under ``new_master`` (nothing is stored yet)."""
        out: dict[str, bytes] = {}
        for record in self.storage.all():
            if record.is_shredded:
                continue
            data_key = self._unwrap(record.key_id, record)
            out[record.key_id] = wrap_key(
                new_master.key, new_master.key_id, data_key, store_id=self.store_id, key_id=record.key_id
            )
        return out
