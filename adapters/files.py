"""Writing files for users (letters, exports, bundles, checkpoints) without being tricked.

Output may hold personal data and lands in folders other people can write to. So a file is
never opened through a name someone else could have planted: the content goes into a fresh
temporary file created exclusively (``O_EXCL|O_NOFOLLOW``) with mode 0600 in the target
folder, and is then renamed over the target. A rename replaces a planted symlink instead of
following it, and a reader never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from casusregie.domain.errors import ValidationFailed


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _expanded(path: str | Path) -> Path:
    """``~`` and ``~user`` expanded; an unknown user is the user's mistake, not a crash."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        raise ValidationFailed(f"{path}: cannot find the home folder that '~' names") from None


def check_output_path(path: str | Path) -> Path:
    """The file a command will write, checked before any work is done: a clear error, not a trace.

    Give the name as typed: ``Path("")`` is already ``.``, a folder, where the user gave nothing.
    """
    text = str(path)
    if not text.strip():
        raise ValidationFailed("no output file given")
    if "\x00" in text:
        raise ValidationFailed("the output file name contains a NUL character")
    path = _expanded(path)
    size = len(os.fsencode(path.name))  # as the file system counts: a name from argv may hold undecodable bytes
    if size > 200:  # room for the temporary name beside it
        raise ValidationFailed(f"output file name is too long ({size} bytes; at most 200)")
    try:
        if text.endswith(os.sep) or path.is_dir():
            raise ValidationFailed(f"{path} is a folder; give a file name")
        parent = path.parent
        if not parent.is_dir():
            raise ValidationFailed(f"folder {parent} does not exist")
    except OSError as exc:
        raise ValidationFailed(f"cannot write {path}: {_why(exc)}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValidationFailed(f"folder {parent} is not writable")
    return path


@contextmanager
def private_file(path: Path, *, replace: bool = True) -> Iterator[BinaryIO]:
    """A handle to write ``path`` atomically, mode 0600, never following a symlink.

    The data goes to a fresh temporary file beside the target; only when the block ends
    without an error is it moved into place. ``replace=False`` refuses to replace an existing
    file (the check and the move are one atomic step: a hard link of the finished file).
    """
    path = check_output_path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ValidationFailed(f"cannot write {path}: {_why(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path, follow_symlinks=False)
            except FileExistsError:
                raise ValidationFailed(f"{path} already exists; refusing to overwrite it") from None
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise ValidationFailed(f"{path} is a folder; give a file name") from None
        raise ValidationFailed(f"cannot write {path}: {_why(exc)}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_private(path: Path, data: bytes | str, *, replace: bool = True) -> Path:
    """Write ``data`` to ``path`` as :func:`private_file` does."""
    with private_file(path, replace=replace) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path).expanduser()


def check_output_folder(folder: str | Path) -> Path:
    """A folder a command will write into, checked without creating anything yet (give the name as typed)."""
    if "\x00" in str(folder) or not str(folder).strip():
        raise ValidationFailed(f"{str(folder)!r} is not a usable folder name")
    folder = _expanded(folder)
    try:
        return _writable_folder(folder)
    except OSError as exc:
        raise ValidationFailed(f"cannot use folder {folder}: {_why(exc)}") from None


def _writable_folder(folder: Path) -> Path:
    if folder.exists():
        if not folder.is_dir():
            raise ValidationFailed(f"{folder} exists and is not a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ValidationFailed(f"folder {folder} is not writable")
        return folder
    ancestor = folder.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValidationFailed(f"cannot create folder {folder}: {ancestor} is not a writable folder")
    return folder


def private_folder(folder: Path) -> Path:
    """An output folder: created 0700 if new; an existing folder is used as it is (it is the user's)."""
    folder = check_output_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ValidationFailed(f"cannot create folder {folder}: {_why(exc)}") from None
    return folder
