"""The keyring (sleutelbos): data keys per store, person and case, under the master key.

* ``key(key_id)`` unwraps a data key and keeps it, with its prepared cipher, in a bounded
  cache (least recently used out first; ``key_cache_size`` in the config);
* ``create(...)`` makes a new data key and returns the row to store *in the same
  transaction* as the events that first use it;
* ``shred(...)`` destroys a key (crypto-shredding): its row keeps only a tombstone, and a
  key for that id can never be created again; the process drops it from its cache at once
  and never caches it again;
* ``seal`` / ``unseal`` encrypt one personal field, bound to its key and field name.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, timedelta
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
    def shredded_since(self, at: str) -> list[str]: ...
    def rewrap(self, rewrapped: dict[str, bytes], new_master_key_id: str) -> None: ...


class MasterKeyLike(Protocol):
    key_id: str
    key: bytes


class KeyShredded(StoreProblem):
    """The key was destroyed: the data it protected is erased for good."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"key {key_id} has been destroyed (erased data)")
        self.key_id = key_id


class MasterKeyReplaced(StoreProblem):
    """Another process rotated the master key since this one read it: nothing was saved."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"the master key {key_id} was replaced (`regie keys rotate`) while this process held it; "
            "nothing was saved: run the command again"
        )


def _json_default(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot seal {type(value).__name__}")


ERASURE_CLOCK_MARGIN = timedelta(minutes=5)
DEFAULT_CACHE_SIZE = 10_000  # data keys kept unwrapped per process: ~2.7 KiB each with its cipher, ~27 MiB


Entry = tuple[bytes, AESGCM]
"""One unwrapped data key with its prepared AES-GCM cipher.

A plain tuple of a bytes object and a cipher (neither of which the garbage collector
tracks) is untracked by the collector after its first pass, so a full cache costs full
collections nothing; an object per entry would be walked on every one of them.
"""


def entry_for(key: bytes) -> Entry:
    return (key, AESGCM(key))


class KeyCache:
    """Unwrapped data keys with their ciphers, at most ``size`` of them; the least recently used goes first.

    A long-lived process (an API server) would otherwise keep every key it ever opened.
    A destroyed key is dropped at once and refused from then on: a key id is never reused
    (a shredded key cannot be made again), so refusing it for good is always right, and it
    also shuts out another thread that read the key just before it was destroyed. Thread-safe.
    """

    def __init__(self, size: int = DEFAULT_CACHE_SIZE) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"the key cache size must be a positive whole number, not {size!r}")
        self.size = size
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._destroyed: set[str] = set()  # ids only, no key material
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._entries

    def get(self, key_id: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key_id)
            if entry is not None:
                self._entries.move_to_end(key_id)
            return entry

    def put(self, key_id: str, entry: Entry) -> Entry:
        """Keep a key (unless destroyed); returns its entry either way, for the caller's use now."""
        with self._lock:
            if key_id in self._destroyed:
                return entry
            self._entries[key_id] = entry
            self._entries.move_to_end(key_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return entry

    def drop(self, key_ids: list[str]) -> None:
        with self._lock:
            for key_id in key_ids:
                self._entries.pop(key_id, None)

    def destroy(self, key_id: str) -> None:
        """The key is (being) shredded: out of the cache now, and never in it again."""
        with self._lock:
            self._destroyed.add(key_id)
            self._entries.pop(key_id, None)


class Keyring:
    """Data keys of one store, unwrapped on demand with its master key."""

    def __init__(
        self,
        store_id: str,
        master: MasterKeyLike,
        storage: KeyStorage,
        record_factory: Callable[..., Any],
        store_name: str,
        cache_size: int = DEFAULT_CACHE_SIZE,
        reload_master: Callable[[], MasterKeyLike] | None = None,
    ) -> None:
        self.store_id = store_id
        self.master = master
        self.storage = storage
        self._record = record_factory
        self._store_name = store_name
        self._reload = reload_master  # reads the master key in force again (after a rotation elsewhere)
        self.cache = KeyCache(cache_size)
        self._erasures_seen = moment()  # keys shredded before this were never cached here
        # Keys made by a unit of work that is not stored yet: held apart, because the cache may
        # evict and the database cannot give them back until the transaction that stores them.
        self._new: dict[str, Entry] = {}

    # --- data keys ---------------------------------------------------------------------

    def key(self, key_id: str) -> bytes:
        return self._entry(key_id)[0]

    def cipher(self, key_id: str) -> AESGCM:
        """The data key ready for AES-GCM, prepared once while it stays in the cache."""
        return self._entry(key_id)[1]

    def _entry(self, key_id: str) -> Entry:
        entry = self._new.get(key_id) or self.cache.get(key_id)
        if entry is not None:
            return entry
        return self.cache.put(key_id, entry_for(self._unwrap(key_id, self.storage.get(key_id))))

    def _unwrap(self, key_id: str, record: KeyRecordLike | None) -> bytes:
        if record is None:
            raise StoreProblem(f"store {self._store_name} has no key {key_id}")
        if record.is_shredded or record.wrapped is None:
            raise KeyShredded(key_id)
        if record.master_key_id != self.master.key_id and self._reload is not None:
            self.reload_master()  # another process rotated the master key: take up the one in force
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
        return data_key

    def create(self, key_id: str, purpose: str, subject: str) -> Callable[[Any], None]:
        """A new data key; returns the extra that stores it with the caller's events."""
        existing = self.storage.get(key_id)
        if existing is not None and existing.is_shredded:
            raise DomainRuleViolation(f"{subject} was erased; no new key may be created for erased data")
        if existing is not None or key_id in self._new or key_id in self.cache:
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
        entry = self._new[key_id] = entry_for(data_key)
        insert = self.storage.insert_op(record)

        def store(tx: Any) -> None:
            insert(tx)
            # Its row is in the transaction now; should the commit fail, the caller forgets the key.
            self._new.pop(key_id, None)
            self.cache.put(key_id, entry)

        return store

    def forget(self, key_ids: list[str]) -> None:
        """Drop keys made by a unit of work that was not stored."""
        for key_id in key_ids:
            self._new.pop(key_id, None)
        self.cache.drop(key_ids)

    def shred(self, key_id: str, ground: str) -> Callable[[Any], None]:
        """The extra that destroys a key in the same transaction as the erasure event."""
        record = self.storage.get(key_id)
        if record is None:
            raise StoreProblem(f"store {self._store_name} has no key {key_id}")
        if record.is_shredded:
            raise DomainRuleViolation(f"{record.subject} was already erased")
        # Out of the cache now, not after the commit, and never back in (another thread's read
        # included): from here on this process reads the key only from the database, which
        # serves it until the erasure commits and never after. Should the erasure fail, the key
        # is merely read uncached.
        self.cache.destroy(key_id)
        return self.storage.shred_op(key_id, moment(), ground)

    def reload_master(self) -> None:
        """Take up the master key now in force; the data keys in the cache stay valid (rotation re-wraps only)."""
        if self._reload is not None:
            self.master = self._reload()

    def sync_erasures(self) -> None:
        """Drop keys that another process shredded since the last look (one indexed query).

        Run at the start of every unit of work, so a long-lived process (the API server) never
        opens data with a key that an erasure elsewhere destroyed. The look goes back a margin
        further than the last one: other machines' clocks may run a little behind this one's.
        """
        now = moment()
        since = (datetime.fromisoformat(self._erasures_seen) - ERASURE_CLOCK_MARGIN).isoformat(timespec="microseconds")
        for key_id in self.storage.shredded_since(since):
            self.cache.destroy(key_id)
        self._erasures_seen = now

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
        """Every live data key wrapped anew under ``new_master`` (nothing is stored yet, nothing cached)."""
        out: dict[str, bytes] = {}
        for record in self.storage.all():
            if record.is_shredded:
                continue
            data_key = self._unwrap(record.key_id, record)
            out[record.key_id] = wrap_key(
                new_master.key, new_master.key_id, data_key, store_id=self.store_id, key_id=record.key_id
            )
        return out
