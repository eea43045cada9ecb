"""Envelope encryption (enveloppeversleuteling) with AES-256-GCM.

Two layers of keys:

* the **master key** (hoofdsleutel) lives in a file outside the database and only ever
  wraps data keys, so rotating it means re-wrapping a few hundred bytes per key, never
  rewriting the event log;
* **data keys** (gegevenssleutels) encrypt content: one store key for every stored event
  and snapshot body, one key per person and one per case for sealed personal fields.
  Destroying a person's data key crypto-shreds every copy of their data.

Every ciphertext starts with the id of the key that made it and is authenticated together
with *associated data* that names where it belongs (store, row, field), so a ciphertext
copied to another row, another person or another store fails to decrypt instead of
yielding someone else's data.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = 0xE1  # first byte of every ciphertext made here; bumps if the layout changes
NONCE_SIZE = 12
KEY_SIZE = 32


class DecryptionFailed(ValueError):
    """The ciphertext does not open with the key it names (wrong key, damage or misplacement)."""

    def __init__(self, key_id: str, reason: str) -> None:
        super().__init__(f"{reason} (key id {key_id})")
        self.key_id = key_id
        self.reason = reason


def new_key() -> bytes:
    """A fresh random 256-bit key from the operating system's CSPRNG."""
    return AESGCM.generate_key(bit_length=256)


def canonical(*parts: str | bytes | int) -> bytes:
    """Unambiguous encoding of a tuple: each part as type tag, 4-byte length, bytes.

    Used for associated data, where ("ab", "c") and ("a", "bc") must differ.
    """
    chunks = []
    for part in parts:
        if isinstance(part, str):
            raw, tag = part.encode(), b"s"
        elif isinstance(part, int):
            raw, tag = str(part).encode(), b"i"
        else:
            raw, tag = bytes(part), b"b"
        chunks += (tag, _LENGTH(len(raw)), raw)
    return b"".join(chunks)


_LENGTH = struct.Struct(">I").pack


Key = bytes | AESGCM  # raw key bytes, or a prepared AESGCM (cached by the keyring: no key schedule per call)


def _aead(key: Key) -> AESGCM:
    return key if isinstance(key, AESGCM) else AESGCM(key)


def encrypt(key: Key, key_id: str, plaintext: bytes, aad: bytes) -> bytes:
    """Ciphertext = format byte, key id (length-prefixed), nonce, AES-GCM(ct || tag).

    The key id is authenticated as part of the associated data, so it cannot be edited
    to steer decryption towards another key.
    """
    kid = key_id.encode("ascii")
    if not 0 < len(kid) < 256:
        raise ValueError(f"key id must be 1..255 ASCII characters: {key_id!r}")
    nonce = os.urandom(NONCE_SIZE)
    header = bytes((FORMAT, len(kid))) + kid
    return header + nonce + _aead(key).encrypt(nonce, plaintext, header + aad)


def key_id_of(ciphertext: bytes) -> str:
    """The id of the key a ciphertext names, without decrypting it."""
    if len(ciphertext) < 2 or ciphertext[0] != FORMAT:
        raise DecryptionFailed("?", "not a casusregie ciphertext")
    end = 2 + ciphertext[1]
    if len(ciphertext) < end + NONCE_SIZE + 16:
        raise DecryptionFailed("?", "ciphertext is truncated")
    try:
        return ciphertext[2:end].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionFailed("?", "ciphertext header is damaged") from None


def decrypt(key: Key, ciphertext: bytes, aad: bytes) -> bytes:
    """Open a ciphertext made by :func:`encrypt` with the same associated data."""
    key_id = key_id_of(ciphertext)
    end = 2 + ciphertext[1]
    header, nonce, body = ciphertext[:end], ciphertext[end : end + NONCE_SIZE], ciphertext[end + NONCE_SIZE :]
    try:
        return _aead(key).decrypt(nonce, body, header + aad)
    except InvalidTag:
        raise DecryptionFailed(
            key_id, "ciphertext does not authenticate: damaged, moved from another place, or wrong key"
        ) from None


def wrap_key(master: bytes, master_key_id: str, data_key: bytes, *, store_id: str, key_id: str) -> bytes:
    """Wrap a data key under the master key, bound to its store and its own key id."""
    return encrypt(master, master_key_id, data_key, canonical("regie-key-v1", store_id, key_id))


def unwrap_key(master: bytes, wrapped: bytes, *, store_id: str, key_id: str) -> bytes:
    """Unwrap a data key; a wrong master key or a row swapped with another fails."""
    return decrypt(master, wrapped, canonical("regie-key-v1", store_id, key_id))
