"""Key files outside the database: the master key and the checkpoint signing key.

Files are created with mode 0600 inside a 0700 folder and refused when others can read
them, the way ssh treats private keys. Nothing here ever prints or logs key material.
A new key file is on disk, name included, before the function that writes it returns:
the database may refer to it from then on (see privacy_audit.rotation).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from casusregie.domain.errors import StoreProblem
from casusregie.privacy_audit.envelope import KEY_SIZE, new_key

HEADER = "# casusregie master key (hoofdsleutel). Secret: never commit, mail or log it.\n"


@dataclass(frozen=True)
class MasterKey:
    """The key that wraps every data key of one store."""

    key_id: str
    store_id: str
    key: bytes = field(repr=False)
    path: Path | None = None


def new_master_key(store_id: str) -> MasterKey:
    return MasterKey(key_id=f"mk-{secrets.token_hex(6)}", store_id=store_id, key=new_key())


def ensure_private_dir(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)


def sync_folder(folder: Path) -> None:
    """Make the names in a folder durable: a created, linked or renamed file survives a power cut."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the key folder's exclusive lock: one rotation or recovery at a time, across processes.

    A flock on the folder itself: no lock file to leave behind, and the kernel releases it when
    the holder dies, even by kill -9, so a crash never leaves the folder locked.
    """
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def write_secret_file(path: Path, text: str) -> None:
    """Write a new file readable by its owner only; never overwrite an existing one.

    Content and name are fsynced before returning; a crash before that can leave an empty or
    half-written file, which readers refuse as damaged.
    """
    ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise StoreProblem(f"key file {path} already exists; refusing to overwrite it") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    sync_folder(path.parent)


def write_master_key(path: Path, master: MasterKey) -> None:
    body = (
        HEADER
        + f"store-id: {master.store_id}\n"
        + f"key-id: {master.key_id}\n"
        + f"key: {base64.b64encode(master.key).decode()}\n"
    )
    write_secret_file(path, body)


def check_private_dir(folder: Path) -> None:
    """Refuse a key folder others may enter or write: they could swap or read the keys in it."""
    try:
        info = folder.stat()
    except FileNotFoundError:
        raise StoreProblem(f"key folder {folder} not found") from None
    except OSError as exc:  # e.g. a file where one of its parent folders should be
        raise StoreProblem(f"key folder {folder} cannot be reached: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise StoreProblem(f"key folder {folder} is not a folder")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StoreProblem(
            f"key folder {folder} is open to other users (mode {stat.S_IMODE(info.st_mode):o}); run: chmod 700 {folder}"
        )


def read_secret_file(path: Path, what: str) -> str:
    """Read a key file, refusing a missing file, one that others may read, or one in an open folder."""
    check_private_dir(path.parent)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise StoreProblem(f"{what} not found at {path}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StoreProblem(
            f"{what} {path} is readable by other users (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
        )
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreProblem(f"cannot read {what} {path}: {exc}") from None


def read_master_key(path: Path) -> MasterKey:
    """Load a master key file, checking its shape so a damaged file is a clear error."""
    fields: dict[str, str] = {}
    for line in read_secret_file(path, "master key file").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise StoreProblem(f"master key file {path} is damaged (unexpected line)")
        fields[name.strip()] = value.strip()
    missing = {"store-id", "key-id", "key"} - fields.keys()
    if missing:
        raise StoreProblem(f"master key file {path} is damaged (missing {', '.join(sorted(missing))})")
    try:
        key = base64.b64decode(fields["key"], validate=True)
    except binascii.Error:
        key = b""
    if len(key) != KEY_SIZE:
        raise StoreProblem(f"master key file {path} is damaged (key id {fields['key-id']})")
    return MasterKey(key_id=fields["key-id"], store_id=fields["store-id"], key=key, path=path)
