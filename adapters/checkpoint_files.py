"""Signed checkpoints as files outside the store, and the key files that sign and check them.

A checkpoint is the C2SP signed note of the log's tree head (``privacy_audit.checkpoint``).
It is written outside the database (default: the store's checkpoint folder, ``0700``), as
``checkpoint-<size>.txt``, so that whoever can rewrite the database cannot also rewrite
what was signed: a removed tail or a restored backup then no longer matches the newest
checkpoint. Before signing a new head, the writer proves it consistent with the newest
checkpoint already written (O(log n) stored nodes), so a rewritten log is never signed.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from casusregie.adapters.keyfile import ensure_private_dir, read_secret_file
from casusregie.adapters.merkle_log import MerkleReader
from casusregie.domain.errors import StoreProblem, ValidationFailed
from casusregie.privacy_audit.checkpoint import Checkpoint, CheckpointError, parse_and_verify, sign
from casusregie.privacy_audit.merkle import Frontier, ProofError, consistency_proof, consistency_proof_nodes
from casusregie.privacy_audit.merkle import verify_consistency as _verify_consistency
from casusregie.privacy_audit.verify import LogTampered

NAME_RE = re.compile(r"^checkpoint-(0|[1-9][0-9]*)\.txt$")
LAST_SIZE = "audit.last_checkpoint_size"  # Store.extra cache for auto_checkpoint


class CheckpointInvalid(LogTampered):
    """A checkpoint file that does not verify: altered, or signed by another key."""


@dataclass(frozen=True)
class CheckpointFile:
    """A checkpoint read from a file and checked against the store's verifier key."""

    path: Path | None
    checkpoint: Checkpoint
    text: str

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def label(self) -> str:
        return str(self.path) if self.path is not None else f"checkpoint of size {self.size}"


def checkpoint_name(size: int) -> str:
    return f"checkpoint-{size}.txt"


# --- keys -------------------------------------------------------------------------------------------


def read_verifier_key(store: Any) -> str:
    """The store's verifier key string (public), e.g. ``casusregie/st-...+1a2b3c4d+AQ...``."""
    path: Path = store.key_paths.verifier
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise StoreProblem(f"verifier key not found at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreProblem(f"cannot read verifier key {path}: {exc}") from None


def read_signer_key(store: Any) -> str:
    """The store's checkpoint signing key (secret, mode 0600); never printed."""
    return read_secret_file(store.key_paths.signing, "checkpoint signing key").strip()


def read_key_file(value: str) -> str:
    """A verifier key given on the command line (``--key VKEY``): the key string itself, or a file holding it.

    Taken as text, never through ``Path`` first: that would fold the ``//`` that base64 may contain.
    """
    text = str(value).strip()
    candidate = Path(text).expanduser()
    try:
        is_file = candidate.is_file()
    except OSError:
        is_file = False
    if not is_file:
        if "+" in text:
            return text
        raise ValidationFailed(f"--key {text!r} is neither a verifier key string nor a readable file")
    try:
        return candidate.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"cannot read verifier key {candidate}: {exc}") from None


# --- reading ----------------------------------------------------------------------------------------


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """``(size, path)`` of every ``checkpoint-<size>.txt`` in ``folder``, smallest first."""
    if not folder.is_dir():
        return []
    found = []
    for entry in os.scandir(folder):
        match = NAME_RE.match(entry.name)
        if match and entry.is_file():
            found.append((int(match.group(1)), Path(entry.path)))
    return sorted(found)


def newest_checkpoint(folder: Path) -> Path | None:
    """The checkpoint file with the largest tree size, or None."""
    found = list_checkpoints(folder)
    return found[-1][1] if found else None


def parse_checkpoint_text(text: str, verifier_key: str, origin: str | None, label: str) -> Checkpoint:
    try:
        return parse_and_verify(text, verifier_key, origin=origin)
    except CheckpointError as exc:
        raise CheckpointInvalid(f"checkpoint {label} does not verify: {exc}") from None


def read_checkpoint(path: Path, verifier_key: str, origin: str | None = None) -> CheckpointFile:
    """Read and signature-check one checkpoint file (``CheckpointInvalid`` if it does not verify)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationFailed(f"checkpoint file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"cannot read checkpoint file {path}: {exc}") from None
    return CheckpointFile(Path(path), parse_checkpoint_text(text, verifier_key, origin, str(path)), text)


def store_checkpoints(store: Any, folder: Path | None = None) -> list[CheckpointFile]:
    """Every checkpoint file of the store's folder, signature-checked, smallest first."""
    key = read_verifier_key(store)
    return [read_checkpoint(path, key, store.origin) for _, path in list_checkpoints(folder or store.checkpoint_dir)]


def choose_checkpoint(store: Any, given: Path | None) -> CheckpointFile | None:
    """The checkpoint given on the command line, else the store's newest, else None."""
    key = read_verifier_key(store)
    if given is not None:
        return read_checkpoint(given, key, store.origin)
    newest = newest_checkpoint(store.checkpoint_dir)
    return None if newest is None else read_checkpoint(newest, key, store.origin)


# --- writing ----------------------------------------------------------------------------------------


def _check_against(previous: CheckpointFile, head: Frontier, reader: MerkleReader) -> None:
    """Refuse to sign a head that does not extend the newest signed checkpoint."""
    old = previous.checkpoint
    if old.size > head.size:
        raise LogTampered(
            f"the log holds {head.size} records but checkpoint {previous.label} signed {old.size}: "
            f"records {head.size}..{old.size - 1} are missing (tail removed or restored from an older backup); "
            "run `regie audit verify`"
        )
    if old.size == 0:
        return
    try:
        nodes = reader.nodes(consistency_proof_nodes(old.size, head.size))
        proof = consistency_proof(old.size, head.size, nodes)
        _verify_consistency(old.size, head.size, old.root, head.root(), proof)
    except (KeyError, ProofError) as exc:
        raise LogTampered(
            f"the current log (size {head.size}) is not an extension of checkpoint {previous.label} "
            f"(size {old.size}): {exc}; refusing to sign it; run `regie audit verify`"
        ) from None


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_checkpoint(store: Any, app: Any = None, out: Path | None = None) -> Path:
    """Sign the current tree head and write it as a checkpoint file; return its path.

    ``out``: a folder (an existing one, or a new path without a suffix; the file is then named
    ``checkpoint-<size>.txt`` in it) or a file path (with a suffix, e.g. ``.txt``);
    default the store's checkpoint folder, created ``0700``. The head is first proven
    consistent with the newest checkpoint already in that folder (``LogTampered`` if not).
    Writing the same head twice returns the existing file.
    """
    del app  # the signature matches auto_checkpoint; the head is all a checkpoint needs
    reader = MerkleReader(store.db)
    head = reader.head()
    folder = store.checkpoint_dir
    target: Path | None = None
    if out is not None:
        out = Path(out).expanduser()
        if out.is_dir() or str(out).endswith(os.sep) or (not out.exists() and not out.suffix):
            folder = out
        else:
            target = out
    verifier = read_verifier_key(store)
    for place in dict.fromkeys([store.checkpoint_dir, folder]):
        known = list_checkpoints(place)
        if known:
            _check_against(read_checkpoint(known[-1][1], verifier, store.origin), head, reader)
    if target is None:
        ensure_private_dir(folder)
        target = folder / checkpoint_name(head.size)
        if target.exists():
            existing = read_checkpoint(target, verifier, store.origin)
            if existing.checkpoint.root != head.root():
                raise LogTampered(
                    f"checkpoint {target} signed a different root for size {head.size}: the log was rewritten"
                )
            store.extra[LAST_SIZE] = max(head.size, store.extra.get(LAST_SIZE, 0))
            return target
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
    note = sign(
        Checkpoint(origin=store.origin, size=head.size, root=head.root(), timestamp=datetime.now(UTC)),
        read_signer_key(store),
    )
    _write_atomically(target, note)
    if target.parent == store.checkpoint_dir and NAME_RE.match(target.name):
        store.extra[LAST_SIZE] = max(head.size, store.extra.get(LAST_SIZE, 0))
    return target


HEAD_SIZE = "merkle_head_size"  # store.extra: the tree size this process last wrote, if any


def _head_size(store: Any) -> int:
    known = store.extra.pop(HEAD_SIZE, None)
    if known is not None:
        return int(known)
    with store.db.transaction(commit=False) as tx:
        size = tx.scalar("SELECT size FROM regie_merkle_head WHERE id = 1")
    return int(size or 0)


def auto_checkpoint(store: Any, app: Any) -> Path | None:
    """Write a checkpoint when the log has passed a multiple of the profile's ``checkpoint_every``.

    Meant to run after every commit, so it is cheap: one query for the head size, and the
    last written size is cached on the store (the folder is listed once per process).
    Returns the new file, or None when none was due (or the profile asks for none).
    Raises ``LogTampered`` if the head does not extend the last checkpoint.
    """
    every = app.profile.checkpoint_every
    if not every:
        return None
    size = _head_size(store)
    last = store.extra.get(LAST_SIZE)
    if last is None:
        known = list_checkpoints(store.checkpoint_dir)
        last = store.extra[LAST_SIZE] = known[-1][0] if known else 0
    if size // every <= last // every:
        return None
    return write_checkpoint(store, app)
