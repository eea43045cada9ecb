"""Signed checkpoints as files outside the store, and the key files that sign and check them.

A checkpoint is the C2SP signed note of the log's tree head (``privacy_audit.checkpoint``).
It is written outside the database (default: the store's checkpoint folder, ``0700``), as
``checkpoint-<size>.txt``, so that whoever can rewrite the database cannot also rewrite
what was signed: a removed tail or a restored backup then no longer matches the newest
checkpoint. Before signing a new head, the writer proves it consistent with the newest
checkpoint already written (O(log n) stored nodes), so a rewritten log is never signed, and
checks every record added since against its leaf and the store's row key, so records
forged outside the application (their tree recomputed, which needs no key) are never
signed either.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from casusregie.adapters.files import private_folder, write_private
from casusregie.adapters.keyfile import ensure_private_dir, read_secret_file
from casusregie.domain.errors import StoreProblem, ValidationFailed
from casusregie.privacy_audit.checkpoint import Checkpoint, CheckpointError, parse_and_verify, sign
from casusregie.privacy_audit.merkle import Frontier, ProofError, consistency_proof, consistency_proof_nodes
from casusregie.privacy_audit.merkle import verify_consistency as _verify_consistency
from casusregie.privacy_audit.verify import LogTampered, SqlLog, authenticate_tail, open_log, store_authenticator

NAME_RE = re.compile(r"^checkpoint-(0|[1-9][0-9]*)\.txt$")
LAST_SIZE = "audit.last_checkpoint_size"  # Store.extra cache for auto_checkpoint: the newest checkpoint's size
LAST_TIME = "audit.last_checkpoint_time"  # ... and its time


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


def _check_against(previous: CheckpointFile, head: Frontier, log: SqlLog) -> None:
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
        nodes = log.node_hashes(consistency_proof_nodes(old.size, head.size))
        proof = consistency_proof(old.size, head.size, nodes)
        _verify_consistency(old.size, head.size, old.root, head.root(), proof)
    except (KeyError, ProofError) as exc:
        raise LogTampered(
            f"the current log (size {head.size}) is not an extension of checkpoint {previous.label} "
            f"(size {old.size}): {exc}; refusing to sign it; run `regie audit verify`"
        ) from None


def _stored_head(log: SqlLog) -> Frontier:
    head = log.head()
    if head is None:
        return Frontier()
    if head.frontier is None or head.size != head.frontier.size:
        raise LogTampered("the stored tree head is damaged; refusing to sign it; run `regie audit verify`")
    return head.frontier


def _check_new_records(log: SqlLog, previous: CheckpointFile | None, head: Frontier, store: Any) -> None:
    """The records since ``previous`` must be the application's, and must make up ``head``.

    A consistency proof only shows the new head extends the old one; records forged outside
    the application, with their leaves, nodes and head recomputed (no key needed), extend it
    just as well. So each new record's tag is checked with the store's row key, and the tree
    is rebuilt over them from the signed part up.
    """
    size = 0 if previous is None else previous.size
    try:
        start = log.frontier_at(size)
    except KeyError as exc:
        raise LogTampered(
            f"the stored tree at size {size} is incomplete ({exc.args[0]}); refusing to sign; run `regie audit verify`"
        ) from None
    if previous is not None and start.root() != previous.checkpoint.root:
        raise LogTampered(
            f"the stored tree no longer hashes to checkpoint {previous.label}; refusing to sign; "
            "run `regie audit verify`"
        )
    rebuilt = authenticate_tail(log, start, store_authenticator(store))
    if rebuilt != head:
        raise LogTampered(
            f"the stored tree head (size {head.size}) does not match the records (size {rebuilt.size}); "
            "refusing to sign it; run `regie audit verify`"
        )


def _destination(store: Any, out: Path | str | None) -> tuple[Path, Path | None]:
    """(folder whose checkpoints the new one must extend, file to write or None for the default name).

    A trailing separator marks a folder: seen on the text as given (a ``Path`` drops it).
    """
    if out is None:
        return store.checkpoint_dir, None
    marked_folder = isinstance(out, str) and out.endswith(os.sep)
    path = Path(out).expanduser()
    if marked_folder or path.is_dir() or (not path.exists() and not path.suffix):
        return path, None
    return store.checkpoint_dir, path


def write_checkpoint(store: Any, app: Any = None, out: Path | str | None = None) -> Path:
    """Sign the current tree head and write it as a checkpoint file; return its path.

    ``out``: a folder (an existing one, or a new path without a suffix; the file is then named
    ``checkpoint-<size>.txt`` in it) or a file path (with a suffix, e.g. ``.txt``);
    default the store's checkpoint folder, created ``0700``. Before signing, in one snapshot
    of the store: the head is proven consistent with the newest checkpoint already in that
    folder (and in the store's own), and every record since the newest of those is checked
    against its leaf and its row key, and the head against those records (``LogTampered`` if
    any of it fails). Writing the same head twice returns the existing file.
    """
    del app  # the signature matches auto_checkpoint; the log is all a checkpoint needs
    folder, target = _destination(store, out)
    verifier = read_verifier_key(store)
    signer = read_signer_key(store)  # a missing key fails here, before the costly checks
    # The folders are listed before the head is read. The head only grows, so every checkpoint
    # listed signed a head no newer than the one read next: a checkpoint another process
    # signs meanwhile can never look like a removed tail (a false alarm).
    newest_paths = [
        known[-1][1] for place in dict.fromkeys([store.checkpoint_dir, folder]) if (known := list_checkpoints(place))
    ]
    with open_log(store.location) as log:
        head = _stored_head(log)
        newest = [read_checkpoint(path, verifier, store.origin) for path in newest_paths]
        for previous in newest:
            _check_against(previous, head, log)
        _check_new_records(log, max(newest, key=lambda c: c.size, default=None), head, store)
    if target is None:
        if folder == store.checkpoint_dir:
            ensure_private_dir(folder)
        else:
            private_folder(folder)
        target = folder / checkpoint_name(head.size)
        if target.exists():
            existing = read_checkpoint(target, verifier, store.origin)
            if existing.checkpoint.root != head.root():
                raise LogTampered(
                    f"checkpoint {target} signed a different root for size {head.size}: the log was rewritten"
                )
            _remember(store, target, existing.checkpoint)
            return target
    else:
        private_folder(target.parent)
    checkpoint = Checkpoint(origin=store.origin, size=head.size, root=head.root(), timestamp=datetime.now(UTC))
    write_private(target, sign(checkpoint, signer))
    _remember(store, target, checkpoint)
    return target


def _remember(store: Any, path: Path, checkpoint: Checkpoint) -> None:
    """Cache the newest checkpoint of the store's own folder, for auto_checkpoint."""
    if path.parent != store.checkpoint_dir or not NAME_RE.match(path.name):
        return
    if checkpoint.size >= store.extra.get(LAST_SIZE, 0):
        store.extra[LAST_SIZE] = checkpoint.size
        store.extra[LAST_TIME] = checkpoint.timestamp or datetime.now(UTC)


HEAD_SIZE = "merkle_head_size"  # store.extra: the tree size this process last wrote, if any


def _head_size(store: Any) -> int | None:
    """The tree size: as this process last wrote it, else from the head row; None if unreadable."""
    known = store.extra.pop(HEAD_SIZE, None)
    if known is not None:
        return int(known)
    try:
        with store.db.transaction(commit=False) as tx:
            size = tx.scalar("SELECT size FROM regie_merkle_head WHERE id = 1")
        return int(size or 0)
    except Exception:  # a damaged head: let the writer look, and refuse with a clear alarm
        return None


def newest_signed(store: Any, *, fresh: bool = False) -> tuple[int, datetime]:
    """Size and time of the newest checkpoint in the store's folder (cached per process unless ``fresh``).

    With none yet, the log has gone unsigned since the store was created.
    """
    if fresh or LAST_SIZE not in store.extra or LAST_TIME not in store.extra:
        known = list_checkpoints(store.checkpoint_dir)
        if known:
            newest = read_checkpoint(known[-1][1], read_verifier_key(store), store.origin).checkpoint
            when = newest.timestamp or datetime.fromtimestamp(known[-1][1].stat().st_mtime, UTC)
            store.extra[LAST_SIZE], store.extra[LAST_TIME] = newest.size, when
        else:
            store.extra[LAST_SIZE], store.extra[LAST_TIME] = 0, _created(store)
    return int(store.extra[LAST_SIZE]), store.extra[LAST_TIME]


def _created(store: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(store.meta.get("created_at", "")))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)  # unknown: as if long ago
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def checkpoint_due(
    size: int, last_size: int, last_time: datetime, every: int | None, minutes: int | None, now: datetime
) -> bool:
    """Due when the log grew by ``every`` records since the newest checkpoint, or grew at all
    and that checkpoint is older than ``minutes``."""
    grown = size - last_size
    if grown <= 0:
        return False
    if every and grown >= every:
        return True
    return bool(minutes) and now - last_time >= timedelta(minutes=minutes)


def auto_checkpoint(store: Any, app: Any, now: datetime | None = None) -> Path | None:
    """Write a checkpoint when the profile says one is due (``checkpoint_every``, ``checkpoint_minutes``).

    Meant to run after every commit, so it is cheap: one query for the head size (none when
    this process just wrote it), and the newest checkpoint's size and time are cached on the
    store (the folder is read once per process). ``now`` is for tests. Returns the new file,
    or None when none was due (or the profile asks for none). Raises ``LogTampered`` if the
    log does not extend the last checkpoint or holds records the application did not make.
    """
    profile = app.profile
    every = getattr(profile, "checkpoint_every", None)
    minutes = getattr(profile, "checkpoint_minutes", None)
    if not every and not minutes:
        return None
    size = _head_size(store)
    last_size, last_time = newest_signed(store)
    if size is not None and not checkpoint_due(size, last_size, last_time, every, minutes, now or datetime.now(UTC)):
        return None
    return write_checkpoint(store, app)


# --- the last verification, for the next one to build on ------------------------------------------------

VERIFIED_NAME = "verified.txt"
VERIFIED = "casusregie-verified"  # the extension line that makes a signed head a verification's


def read_verified(store: Any) -> CheckpointFile | None:
    """The head the last successful verification found whole (signed, in the checkpoint folder), or None.

    It lies outside the store, signed with the store's key like any checkpoint, so whoever can
    rewrite the database cannot move it: at most they can put back an older one, which only
    makes the next incremental run read more. A note that does not verify is an alarm.
    """
    path = store.checkpoint_dir / VERIFIED_NAME
    if not path.is_file():
        return None
    found = read_checkpoint(path, read_verifier_key(store), store.origin)
    if not found.checkpoint.extension(VERIFIED):
        raise CheckpointInvalid(f"{path} is a signed head but not a verification's; run `regie audit verify --full`")
    return found


def record_verified(store: Any, size: int, root: bytes, mode: str) -> Path:
    """Sign ``size`` and ``root`` as found whole by a verification (``mode``: full or incremental)."""
    checkpoint = Checkpoint(
        origin=store.origin, size=size, root=root, timestamp=datetime.now(UTC), extensions=(f"{VERIFIED} {mode}",)
    )
    text = sign(checkpoint, read_signer_key(store))
    ensure_private_dir(store.checkpoint_dir)
    path = store.checkpoint_dir / VERIFIED_NAME
    write_private(path, text)
    return path
