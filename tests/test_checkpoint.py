"""Signed checkpoints: C2SP signed-note format, round trips and tampering."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from casusregie.privacy_audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    generate_signing_key,
    key_id,
    parse_and_verify,
    parse_unverified,
    sign,
    verifier_key_for,
)
from casusregie.privacy_audit.merkle import EMPTY_ROOT, leaf_hash, root_of

EM_DASH = "\u2014"
ORIGIN = "regie.example/audit-log"
WHEN = datetime(2026, 11, 25, 15, 10, 33, tzinfo=UTC)
EMPTY_B64 = base64.b64encode(EMPTY_ROOT).decode()


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return generate_signing_key(ORIGIN)


@pytest.fixture
def checkpoint() -> Checkpoint:
    root = root_of([leaf_hash(bytes([i])) for i in range(11)])
    return Checkpoint(origin=ORIGIN, size=11, root=root, timestamp=WHEN)


def _replace_line(note: str, line_number: int, new: str) -> str:
    lines = note.split("\n")
    lines[line_number] = new
    return "\n".join(lines)


# --- format -----------------------------------------------------------------------


def test_note_format_matches_spec(keys, checkpoint):
    signer, verifier = keys
    note = sign(checkpoint, signer)
    root_b64 = base64.b64encode(checkpoint.root).decode()
    body = f"{ORIGIN}\n11\n{root_b64}\ntimestamp 2026-11-25T15:10:33Z\n"
    assert checkpoint.body() == body.encode()
    assert note.startswith(body + "\n" + EM_DASH + " ")
    assert note.endswith("\n")
    assert note.count("\n\n") == 1

    signature_line = note[len(body) + 1 : -1]
    dash, name, encoded = signature_line.split(" ")
    assert dash == "\u2014"
    assert name == ORIGIN
    raw = base64.b64decode(encoded, validate=True)
    assert len(raw) == 4 + 64

    # Recompute the key ID and check the signature without the module's help.
    v_name, v_hex, v_key = verifier.split("+", 2)
    key_material = base64.b64decode(v_key)
    assert v_name == ORIGIN
    assert key_material[0] == 0x01
    public = key_material[1:]
    expected_id = hashlib.sha256(ORIGIN.encode() + b"\n" + b"\x01" + public).digest()[:4]
    assert bytes.fromhex(v_hex) == expected_id == raw[:4] == key_id(ORIGIN, public)
    Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], body.encode())


def test_key_strings_match_spec(keys):
    signer, verifier = keys
    assert re.fullmatch(r"PRIVATE\+KEY\+regie\.example/audit-log\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+", signer)
    assert re.fullmatch(r"regie\.example/audit-log\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+", verifier)
    s_parts, v_parts = signer.split("+", 4), verifier.split("+", 2)
    assert s_parts[3] == v_parts[1]
    seed = base64.b64decode(s_parts[4])
    assert seed[0] == 0x01
    assert len(seed) == 33
    public = (
        Ed25519PrivateKey.from_private_bytes(seed[1:])
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    assert base64.b64decode(v_parts[2]) == b"\x01" + public
    assert verifier_key_for(signer) == verifier


def test_fresh_keys_differ():
    assert generate_signing_key(ORIGIN) != generate_signing_key(ORIGIN)


# --- round trips ------------------------------------------------------------------


def test_round_trip(keys, checkpoint):
    signer, verifier = keys
    note = sign(checkpoint, signer)
    assert parse_and_verify(note, verifier) == checkpoint
    assert parse_and_verify(note, verifier, origin=ORIGIN) == checkpoint
    assert parse_unverified(note) == checkpoint


def test_empty_tree_round_trip(keys):
    signer, verifier = keys
    empty = Checkpoint(origin=ORIGIN, size=0, root=EMPTY_ROOT, timestamp=WHEN)
    assert parse_and_verify(sign(empty, signer), verifier) == empty


safe_origins = st.text(st.characters(blacklist_categories=("Cs",), min_codepoint=0x20), min_size=1, max_size=40)


extension_lines = safe_origins.filter(lambda line: not line.startswith("timestamp "))


@settings(max_examples=50, deadline=None)
@given(
    origin=safe_origins,
    size=st.integers(1, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    timestamp=st.none() | st.datetimes(timezones=st.just(UTC)),
    extensions=st.lists(extension_lines, max_size=4).map(tuple),
)
def test_round_trip_any_checkpoint(keys, origin, size, root, timestamp, extensions):
    signer, verifier = keys
    cp = Checkpoint(origin=origin, size=size, root=root, timestamp=timestamp, extensions=extensions)
    assert parse_and_verify(sign(cp, signer), verifier) == cp


def test_timestamp_is_normalised_to_utc_seconds():
    plus_two = timezone(timedelta(hours=2))
    cp = Checkpoint(ORIGIN, 0, EMPTY_ROOT, datetime(2026, 1, 1, 2, 0, 0, 999_999, tzinfo=plus_two))
    assert cp.timestamp == datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert cp.timestamp.tzinfo is UTC
    assert b"timestamp 2026-01-01T00:00:00Z\n" in cp.body()


# --- tampering ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "new"),
    [
        (0, "regie.example/other-log"),
        (1, "12"),
        (2, base64.b64encode(hashlib.sha256(b"forged").digest()).decode()),
        (3, "timestamp 2026-11-25T15:10:34Z"),
    ],
    ids=["origin", "size", "root", "timestamp"],
)
def test_tampered_body_is_rejected(keys, checkpoint, line, new):
    signer, verifier = keys
    forged = _replace_line(sign(checkpoint, signer), line, new)
    parse_unverified(forged)  # still well-formed, so only the signature can catch it
    with pytest.raises(CheckpointError, match="does not verify"):
        parse_and_verify(forged, verifier)


@pytest.mark.parametrize("byte", [4, 5, 40, 67])
def test_tampered_signature_is_rejected(keys, checkpoint, byte):
    signer, verifier = keys
    note = sign(checkpoint, signer)
    body, signature_line = note[:-1].rsplit("\n", 1)
    dash, name, encoded = signature_line.split(" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[byte] ^= 0x01
    forged = f"{body}\n{dash} {name} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(CheckpointError, match="does not verify"):
        parse_and_verify(forged, verifier)


def test_tampered_key_id_means_no_signature(keys, checkpoint):
    signer, verifier = keys
    note = sign(checkpoint, signer)
    body, signature_line = note[:-1].rsplit("\n", 1)
    dash, name, encoded = signature_line.split(" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[0] ^= 0x01
    forged = f"{body}\n{dash} {name} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(CheckpointError, match="no signature by key"):
        parse_and_verify(forged, verifier)


def test_wrong_verifier_key_is_rejected(keys, checkpoint):
    signer, _ = keys
    note = sign(checkpoint, signer)
    _, same_name_other_key = generate_signing_key(ORIGIN)
    _, other_name = generate_signing_key("someone.else/log")
    for verifier in (same_name_other_key, other_name):
        with pytest.raises(CheckpointError, match="no signature by key"):
            parse_and_verify(note, verifier)


def test_impostor_key_with_same_name_and_id_is_rejected(keys, checkpoint):
    """A verifier string whose ID does not belong to its key is refused outright."""
    signer, verifier = keys
    _, other = generate_signing_key(ORIGIN)
    name, hex_id, _ = verifier.split("+", 2)
    impostor = f"{name}+{hex_id}+{other.split('+', 2)[2]}"
    with pytest.raises(CheckpointError, match="key ID does not match"):
        parse_and_verify(sign(checkpoint, signer), impostor)


def test_unknown_cosignatures_are_ignored(keys, checkpoint):
    signer, verifier = keys
    witness_signer, witness_verifier = generate_signing_key("witness.example/w1")
    note = sign(checkpoint, signer)
    cosigned = sign(checkpoint, witness_signer)
    both = note + cosigned.rsplit("\n\n", 1)[1]
    assert parse_and_verify(both, verifier) == checkpoint
    assert parse_and_verify(both, witness_verifier) == checkpoint


def test_origin_pinning(keys, checkpoint):
    signer, verifier = keys
    with pytest.raises(CheckpointError, match="not the expected"):
        parse_and_verify(sign(checkpoint, signer), verifier, origin="elsewhere.example/log")


# --- malformed input ------------------------------------------------------------------


def _body(note: str) -> str:
    return note.split("\n\n")[0]


def _signatures(note: str) -> str:
    return note.split("\n\n")[1]


def _line(note: str, number: int) -> str:
    return note.split("\n")[number]


MALFORMATIONS: dict[str, Callable[[str], str]] = {
    "no blank line": lambda n: n.replace("\n\n", "\n"),
    "trailing garbage": lambda n: n + "garbage\n",
    "garbage signature line": lambda n: f"{_body(n)}\n\nnot a signature\n{_signatures(n)}",
    "ascii dash": lambda n: n.replace(EM_DASH, "-"),
    "no final newline": lambda n: n[:-1],
    "crlf": lambda n: n.replace("\n", "\r\n"),
    "blank line in body": lambda n: n.replace("\n", "\n\n", 1),
    "leading zero size": lambda n: _replace_line(n, 1, "011"),
    "signed size": lambda n: _replace_line(n, 1, "+11"),
    "non-ascii digits": lambda n: _replace_line(n, 1, "\u0661\u0661"),
    "size too large": lambda n: _replace_line(n, 1, str(2**64)),
    "short root": lambda n: _replace_line(n, 2, base64.b64encode(b"short").decode()),
    "unpadded root": lambda n: _replace_line(n, 2, _line(n, 2).rstrip("=")),
    "bad timestamp": lambda n: _replace_line(n, 3, "timestamp 2026-13-01T00:00:00Z"),
    "local timestamp": lambda n: _replace_line(n, 3, "timestamp 2026-11-25T15:10:33+01:00"),
    "two timestamps": lambda n: f"{_body(n)}\n{_line(n, 3)}\n\n{_signatures(n)}",
    "empty origin": lambda n: _replace_line(n, 0, ""),
    "control character": lambda n: n.replace(ORIGIN, ORIGIN + "\x07"),
    "empty signature block": lambda n: _body(n) + "\n\n",
}


@pytest.mark.parametrize("malform", MALFORMATIONS.values(), ids=MALFORMATIONS.keys())
def test_malformed_notes_are_rejected(keys, checkpoint, malform):
    signer, verifier = keys
    bad = malform(sign(checkpoint, signer))
    with pytest.raises(CheckpointError):
        parse_and_verify(bad, verifier)
    with pytest.raises(CheckpointError):
        parse_unverified(bad)


def _sign_raw_text(text: str, signer: str) -> str:
    """Sign arbitrary text as a note, bypassing Checkpoint's own validation."""
    _, _, name, hex_id, encoded = signer.split("+", 4)
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(encoded)[1:])
    signature = bytes.fromhex(hex_id) + private.sign(text.encode())
    return f"{text}\n{EM_DASH} {name} {base64.b64encode(signature).decode()}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{ORIGIN}\n0\n", "three lines"),
        (f"{ORIGIN}\n00\n{EMPTY_B64}\ntimestamp 2026-11-25T15:10:33Z\n", "leading zeros"),
        (f"{ORIGIN}\n1\n{EMPTY_B64}\ntimestamp 2026-11-25 15:10:33Z\n", "timestamp"),
        (
            f"{ORIGIN}\n0\n{EMPTY_B64}\nx\ntimestamp 2026-11-25T15:10:33Z\ntimestamp 2026-11-25T15:10:33Z\n",
            "more than one",
        ),
    ],
    ids=["no root", "leading zero", "timestamp format", "two timestamps"],
)
def test_validly_signed_garbage_is_rejected(keys, text, message):
    signer, verifier = keys
    with pytest.raises(CheckpointError, match=message):
        parse_and_verify(_sign_raw_text(text, signer), verifier)


# --- extension lines (C2SP tlog-checkpoint: any number, after the root hash) --------------------------


@pytest.mark.parametrize(
    ("extensions", "timestamp"),
    [
        ((), None),
        (("extra",), None),
        (("time 2026-11-25T15:10:33Z",), None),  # not ours: kept as it is
        (("casusregie-case 0e4c2a3b-8d3f-4c1e-9a70-2f1f2e3d4c5b 3 AAAA", "witness x y"), WHEN),
        (("a", "b", "c", "\u00e9\u00e8 unicode"), WHEN),
    ],
    ids=["bare", "one line", "foreign timestamp", "case statement and another", "several"],
)
def test_checkpoints_with_any_extension_lines_round_trip(keys, extensions, timestamp):
    signer, verifier = keys
    cp = Checkpoint(ORIGIN, 11, root_of([leaf_hash(bytes([i])) for i in range(11)]), timestamp, extensions)
    note = sign(cp, signer)
    assert parse_and_verify(note, verifier) == cp
    assert parse_unverified(note) == cp
    assert cp.extensions == extensions
    assert cp.timestamp == timestamp
    assert cp.when() == ("(no timestamp)" if timestamp is None else "2026-11-25T15:10:33Z")
    lines = cp.body().decode().split("\n")
    assert lines[3 : 3 + (timestamp is not None)] == (["timestamp 2026-11-25T15:10:33Z"] if timestamp else [])
    assert lines[3 + (timestamp is not None) : -1] == list(extensions)


@pytest.mark.parametrize(
    "text",
    [
        f"{ORIGIN}\n0\n{EMPTY_B64}\n",
        f"{ORIGIN}\n0\n{EMPTY_B64}\nfirst extension\nsecond extension\n",
        f"{ORIGIN}\n0\n{EMPTY_B64}\nother\ntimestamp 2026-11-25T15:10:33Z\nlast\n",
    ],
    ids=["no extension lines", "two unknown lines", "timestamp among others"],
)
def test_validly_signed_c2sp_checkpoints_are_accepted(keys, text):
    """Checkpoints from other C2SP logs need no timestamp and may carry any extension lines."""
    signer, verifier = keys
    cp = parse_and_verify(_sign_raw_text(text, signer), verifier)
    assert (cp.origin, cp.size, cp.root) == (ORIGIN, 0, EMPTY_ROOT)
    others = [line for line in text.split("\n")[3:-1] if not line.startswith("timestamp ")]
    assert list(cp.extensions) == others
    assert (cp.timestamp is None) == ("timestamp" not in text)
    # the canonical body puts the timestamp first; the signature was checked over the text as received
    assert cp.body().decode().split("\n")[3:-1] == (["timestamp 2026-11-25T15:10:33Z"] if cp.timestamp else []) + others


@pytest.mark.parametrize(
    "malform",
    [
        lambda n: f"{_body(n)}\nextra\n\n{_signatures(n)}",
        lambda n: _body(n).rsplit("\n", 1)[0] + "\n\n" + _signatures(n),
        lambda n: _replace_line(n, 3, "time 2026-11-25T15:10:33Z"),
    ],
    ids=["line added", "timestamp removed", "timestamp renamed"],
)
def test_extension_lines_are_covered_by_the_signature(keys, checkpoint, malform):
    signer, verifier = keys
    forged = malform(sign(checkpoint, signer))
    parse_unverified(forged)  # still a well-formed C2SP checkpoint, so only the signature can catch it
    with pytest.raises(CheckpointError, match="does not verify"):
        parse_and_verify(forged, verifier)


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        (("",), "non-empty"),
        (("two\nlines",), "one line"),
        (("bell\x07",), "one line"),
        (("timestamp 2026-11-25T15:10:33Z",), "its own field"),
        ("not a tuple", "sequence"),
    ],
)
def test_invalid_extension_lines_are_refused(extensions, message):
    with pytest.raises(CheckpointError, match=message):
        Checkpoint(ORIGIN, 0, EMPTY_ROOT, WHEN, extensions)


def test_raw_signing_helper_agrees_with_sign(keys, checkpoint):
    signer, _ = keys
    assert _sign_raw_text(checkpoint.body().decode(), signer) == sign(checkpoint, signer)


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "tab\there", "nbsp\u00a0x"])
def test_invalid_key_names_are_refused(name):
    with pytest.raises(CheckpointError, match="key name"):
        generate_signing_key(name)


@pytest.mark.parametrize(
    "bad_key",
    [
        "",
        "name+zzzzzzzz+AAAA",
        "name+1234567+AAAA",
        "name+12345678",
        "name+12345678+not base64",
        "name+12345678+" + base64.b64encode(b"\x02" + bytes(32)).decode(),
    ],
)
def test_malformed_verifier_keys_are_refused(keys, checkpoint, bad_key):
    signer, _ = keys
    with pytest.raises(CheckpointError):
        parse_and_verify(sign(checkpoint, signer), bad_key)


def test_malformed_signer_key_is_refused_without_echoing_it(keys, checkpoint):
    signer, _ = keys
    tampered = signer.replace("PRIVATE+KEY", "PRIVATE+KEYS")
    with pytest.raises(CheckpointError) as caught:
        sign(checkpoint, tampered)
    secret = signer.split("+", 4)[4]  # PRIVATE+KEY+<name>+<hash>+<base64 secret>; base64 itself may hold '+'
    assert secret not in str(caught.value)
    name_swapped = signer.replace(ORIGIN, "other.example/log")
    with pytest.raises(CheckpointError, match="key ID does not match"):
        sign(checkpoint, name_swapped)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"origin": ""}, "origin"),
        ({"origin": "two\nlines"}, "origin"),
        ({"size": -1}, "size"),
        ({"size": 2**64}, "size"),
        ({"size": True}, "size"),
        ({"root": b"short"}, "root"),
        ({"size": 0}, "empty tree"),
        ({"timestamp": datetime(2026, 1, 1)}, "timezone-aware"),
    ],
)
def test_invalid_checkpoints_are_refused(checkpoint, kwargs, message):
    fields = {
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root": checkpoint.root,
        "timestamp": checkpoint.timestamp,
    }
    with pytest.raises(CheckpointError, match=message):
        Checkpoint(**{**fields, **kwargs})
