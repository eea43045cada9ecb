"""Signed checkpoints of the audit log: C2SP tlog-checkpoint in a C2SP signed note.

A checkpoint commits to the log's Merkle root at a given size. The text is::

    <origin>\\n
    <tree size, decimal>\\n
    <base64 root hash>\\n
    [extension lines]\\n
    \\n
    \u2014 <key name> <base64(4-byte key ID || 64-byte Ed25519 signature)>\\n

C2SP allows any number of non-empty extension lines after the root hash; they are
covered by the signature like the rest. casusregie writes ``timestamp
<YYYY-MM-DDTHH:MM:SSZ>`` as the first one (optional when reading: ``timestamp`` is
then None) and keeps every other line as it is, e.g. a bundle's ``casusregie-case``
statement. The Ed25519 signature covers the body: every line above the blank line,
final newline included. Key ID = SHA-256(key name || 0x0A || 0x01 || public
key)[:4]. Keys are exchanged as C2SP key strings:

* verifier: ``<name>+<8 hex digits key ID>+<base64(0x01 || 32-byte public key)>``
* signer:   ``PRIVATE+KEY+<name>+<8 hex digits key ID>+<base64(0x01 || 32-byte seed)>``

Specifications: https://c2sp.org/signed-note and https://c2sp.org/tlog-checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .merkle import EMPTY_ROOT, HASH_SIZE

__all__ = [
    "ALG_ED25519",
    "Checkpoint",
    "CheckpointError",
    "generate_signing_key",
    "key_id",
    "parse_and_verify",
    "parse_unverified",
    "sign",
    "verifier_key_for",
]

ALG_ED25519 = 0x01
_SIGNATURE_PREFIX = "\u2014 "  # EM DASH, space
_ED25519_SIGNATURE_SIZE = 64
_ED25519_KEY_SIZE = 32
# Go's golang.org/x/mod/sumdb/note stops at 100; the spec asks for at least 16.
_MAX_SIGNATURES = 100
_MAX_TREE_SIZE = (1 << 64) - 1
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")
_TIMESTAMP_PREFIX = "timestamp "
_TIMESTAMP_RE = re.compile(r"timestamp ([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
_FORBIDDEN_CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f]")
_KEY_ID_HEX_RE = re.compile(r"[0-9a-fA-F]{8}")


class CheckpointError(ValueError):
    """A checkpoint, note or key is malformed, or a signature does not verify."""


# --- the checkpoint body ---------------------------------------------------------


def _format_timestamp(moment: datetime) -> str:
    # Formatted by hand: strftime("%Y") does not zero-pad years below 1000.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


def _check_origin(origin: str) -> None:
    if not isinstance(origin, str) or not origin:
        raise CheckpointError("origin must be a non-empty string")
    if "\n" in origin or _FORBIDDEN_CONTROL_RE.search(origin):
        raise CheckpointError("origin must be one line without control characters")
    _require_utf8(origin, "origin")


def _require_utf8(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointError(f"{what} is not valid Unicode text") from None


def _check_extension(line: str) -> None:
    if not isinstance(line, str) or not line:
        raise CheckpointError("extension lines must be non-empty strings")
    if "\n" in line or _FORBIDDEN_CONTROL_RE.search(line):
        raise CheckpointError("an extension line must be one line without control characters")
    if line.startswith(_TIMESTAMP_PREFIX):
        raise CheckpointError("the timestamp is its own field, not an extension line")
    _require_utf8(line, "extension line")


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log ``origin`` had ``size`` leaves with ``root`` at ``timestamp``.

    ``timestamp`` is optional (C2SP does not require one) but, when given, must be
    timezone-aware; it is stored in UTC and truncated to whole seconds because that is
    all the text format carries, so that ``parse_and_verify(sign(cp, key), ...) == cp``
    always holds. ``extensions`` are the other extension lines, in order, signed with
    the rest; the timestamp line is always written first.
    """

    origin: str
    size: int
    root: bytes
    timestamp: datetime | None = None
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_origin(self.origin)
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise CheckpointError("size must be an int")
        if not 0 <= self.size <= _MAX_TREE_SIZE:
            raise CheckpointError(f"size must be between 0 and 2**64 - 1, got {self.size}")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise CheckpointError(f"root must be a {HASH_SIZE}-byte hash")
        if self.size == 0 and self.root != EMPTY_ROOT:
            raise CheckpointError("an empty tree's root must be SHA-256 of the empty string")
        if self.timestamp is not None:
            if not isinstance(self.timestamp, datetime) or self.timestamp.utcoffset() is None:
                raise CheckpointError("timestamp must be a timezone-aware datetime")
            normalised = self.timestamp.astimezone(UTC).replace(microsecond=0)
            object.__setattr__(self, "timestamp", normalised)
        if isinstance(self.extensions, str) or not isinstance(self.extensions, (tuple, list)):
            raise CheckpointError("extensions must be a sequence of lines")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in self.extensions:
            _check_extension(line)

    def extension(self, keyword: str) -> list[str]:
        """The extension lines whose first word is ``keyword``, without it."""
        prefix = keyword + " "
        return [line[len(prefix) :] for line in self.extensions if line.startswith(prefix)]

    def when(self) -> str:
        """The timestamp as the note writes it, or a stand-in when the checkpoint has none."""
        return "(no timestamp)" if self.timestamp is None else _format_timestamp(self.timestamp)

    def body(self) -> bytes:
        """The signed note text: origin, size, root and the extension lines, each ending in \\n."""
        root = base64.b64encode(self.root).decode("ascii")
        lines = [self.origin, str(self.size), root]
        if self.timestamp is not None:
            lines.append(_TIMESTAMP_PREFIX + _format_timestamp(self.timestamp))
        lines.extend(self.extensions)
        return ("\n".join(lines) + "\n").encode("utf-8")


def _decode_base64(text: str, what: str) -> bytes:
    """Strict standard base64: padded, no whitespace, canonical trailing bits."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise CheckpointError(f"{what} is not canonical base64")
    return raw


def _parse_timestamp(line: str) -> datetime:
    match = _TIMESTAMP_RE.fullmatch(line)
    if not match:
        raise CheckpointError("timestamp line must be 'timestamp YYYY-MM-DDTHH:MM:SSZ'")
    try:
        return datetime(*(int(part) for part in match.groups()), tzinfo=UTC)
    except ValueError:
        raise CheckpointError("timestamp line is not a valid date and time") from None


def _parse_body(body: str) -> Checkpoint:
    lines = body.split("\n")
    if lines[-1] != "":
        raise CheckpointError("checkpoint text must end with a newline")
    lines = lines[:-1]
    if len(lines) < 3:
        raise CheckpointError("checkpoint text needs at least three lines: origin, tree size, root hash")
    origin, size_line, root_line, *rest = lines
    if not _SIZE_RE.fullmatch(size_line):
        raise CheckpointError("tree size line must be a decimal number without leading zeros")
    size = int(size_line)
    root = _decode_base64(root_line, "root hash line")
    if any(not line for line in rest):
        raise CheckpointError("extension lines must not be empty")
    stamps = [line for line in rest if line.startswith(_TIMESTAMP_PREFIX)]
    if len(stamps) > 1:
        raise CheckpointError("checkpoint text has more than one timestamp line")
    moment = _parse_timestamp(stamps[0]) if stamps else None
    extensions = tuple(line for line in rest if not line.startswith(_TIMESTAMP_PREFIX))
    return Checkpoint(origin=origin, size=size, root=root, timestamp=moment, extensions=extensions)


# --- keys -------------------------------------------------------------------------


def _check_key_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise CheckpointError("key name must be a non-empty string")
    if any(ch.isspace() or ch == "+" or ord(ch) < 0x20 for ch in name):
        raise CheckpointError("key name must not contain whitespace, '+' or control characters")
    _require_utf8(name, "key name")


def key_id(name: str, public_key: bytes) -> bytes:
    """C2SP key ID of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    _check_key_name(name)
    material = name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key
    return hashlib.sha256(material).digest()[:4]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _verifier_string(name: str, public: bytes) -> str:
    encoded = base64.b64encode(bytes([ALG_ED25519]) + public).decode("ascii")
    return f"{name}+{key_id(name, public).hex()}+{encoded}"


def generate_signing_key(name: str) -> tuple[str, str]:
    """Create a fresh Ed25519 key named ``name``; return (signer key, verifier key).

    The signer key string contains the private seed: store it as a secret.
    """
    _check_key_name(name)
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    public = _raw_public(private.public_key())
    encoded_seed = base64.b64encode(bytes([ALG_ED25519]) + seed).decode("ascii")
    signer = f"PRIVATE+KEY+{name}+{key_id(name, public).hex()}+{encoded_seed}"
    return signer, _verifier_string(name, public)


def _decode_key_material(hex_id: str, encoded: str, what: str) -> tuple[bytes, bytes]:
    """Return (key ID, 32-byte key) from the last two fields of a key string."""
    if not _KEY_ID_HEX_RE.fullmatch(hex_id):
        raise CheckpointError(f"{what}: key ID must be 8 hex digits")
    raw = _decode_base64(encoded, f"{what} key material")
    if len(raw) != 1 + _ED25519_KEY_SIZE or raw[0] != ALG_ED25519:
        raise CheckpointError(f"{what}: only Ed25519 keys (algorithm byte 0x01) are supported")
    return bytes.fromhex(hex_id), raw[1:]


class _Signer(NamedTuple):
    name: str
    key_id: bytes
    key: Ed25519PrivateKey


class _Verifier(NamedTuple):
    name: str
    key_id: bytes
    key: Ed25519PublicKey


def _parse_signer_key(signer_key: str) -> _Signer:
    # Error messages never quote the string: it holds the private seed.
    if not isinstance(signer_key, str):
        raise CheckpointError("signer key must be a string")
    parts = signer_key.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise CheckpointError("signer key must look like PRIVATE+KEY+<name>+<id>+<key>")
    name, hex_id, encoded = parts[2:]
    _check_key_name(name)
    expected_id, seed = _decode_key_material(hex_id, encoded, "signer key")
    private = Ed25519PrivateKey.from_private_bytes(seed)
    if key_id(name, _raw_public(private.public_key())) != expected_id:
        raise CheckpointError("signer key ID does not match its name and key")
    return _Signer(name, expected_id, private)


def _parse_verifier_key(verifier_key: str) -> _Verifier:
    if not isinstance(verifier_key, str):
        raise CheckpointError("verifier key must be a string")
    parts = verifier_key.split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("verifier key must look like <name>+<id>+<key>")
    name, hex_id, encoded = parts
    _check_key_name(name)
    expected_id, public = _decode_key_material(hex_id, encoded, "verifier key")
    if key_id(name, public) != expected_id:
        raise CheckpointError("verifier key ID does not match its name and key")
    return _Verifier(name, expected_id, Ed25519PublicKey.from_public_bytes(public))


def verifier_key_for(signer_key: str) -> str:
    """The verifier key string matching a signer key string."""
    signer = _parse_signer_key(signer_key)
    return _verifier_string(signer.name, _raw_public(signer.key.public_key()))


# --- notes ------------------------------------------------------------------------


class _SignatureLine(NamedTuple):
    name: str
    key_id: bytes
    signature: bytes


def _split_note(note: str) -> tuple[str, list[_SignatureLine]]:
    """Split a signed note into its text and its parsed signature lines."""
    if not isinstance(note, str):
        raise CheckpointError("note must be a string")
    _require_utf8(note, "note")
    if _FORBIDDEN_CONTROL_RE.search(note):
        raise CheckpointError("note contains control characters other than newline")
    # The text ends at the last blank line; it may itself contain blank lines.
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointError("note has no blank line between text and signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith("\n"):
        raise CheckpointError("note must end with at least one newline-terminated signature line")
    lines = block[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise CheckpointError(f"note has more than {_MAX_SIGNATURES} signatures")
    return text, [_parse_signature_line(line) for line in lines]


def _parse_signature_line(line: str) -> _SignatureLine:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise CheckpointError("signature lines must start with an em dash and a space")
    name, separator, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not separator:
        raise CheckpointError("signature line must be '\u2014 <key name> <base64 signature>'")
    _check_key_name(name)
    raw = _decode_base64(encoded, "signature")
    if len(raw) < 5:
        raise CheckpointError("signature is too short to hold a key ID and a signature")
    return _SignatureLine(name, raw[:4], raw[4:])


def sign(checkpoint: Checkpoint, signer_key: str) -> str:
    """Sign ``checkpoint`` and return the complete signed note text."""
    signer = _parse_signer_key(signer_key)
    body = checkpoint.body()
    signature = base64.b64encode(signer.key_id + signer.key.sign(body)).decode("ascii")
    return f"{body.decode('utf-8')}\n{_SIGNATURE_PREFIX}{signer.name} {signature}\n"


def parse_unverified(note: str) -> Checkpoint:
    """Parse a signed checkpoint WITHOUT checking any signature: for display only."""
    text, _ = _split_note(note)
    return _parse_body(text)


def parse_and_verify(note: str, verifier_key: str, *, origin: str | None = None) -> Checkpoint:
    """Return the checkpoint in ``note`` if it is validly signed by ``verifier_key``.

    Signatures by other keys are ignored, as the signed-note spec requires, so
    witness cosignatures do not get in the way. Every signature line that
    claims to be by this key must verify. If ``origin`` is given, the
    checkpoint's origin must equal it. Raises ``CheckpointError`` otherwise.
    """
    verifier = _parse_verifier_key(verifier_key)
    text, signatures = _split_note(note)
    claimed = [s for s in signatures if s.name == verifier.name and s.key_id == verifier.key_id]
    if not claimed:
        raise CheckpointError(f"note has no signature by key {verifier.name}+{verifier.key_id.hex()}")
    body = text.encode("utf-8")
    for line in claimed:
        try:
            if len(line.signature) != _ED25519_SIGNATURE_SIZE:
                raise InvalidSignature
            verifier.key.verify(line.signature, body)
        except InvalidSignature:
            raise CheckpointError(f"signature by key {verifier.name} does not verify: note was altered") from None
    checkpoint = _parse_body(text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}")
    return checkpoint
