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
from pathlib import Path

from casusregie.domain.errors import ValidationFailed


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_output_path(path: Path) -> Path:
    """The file a command will write, checked before any work is done: a clear error, not a trace."""
    text = str(path)
    if not text.strip():
        raise ValidationFailed("no output file given")
    if "\x00" in text:
        raise ValidationFailed("the output file name contains a NUL character")
    path = Path(path).expanduser()
    if text.endswith(os.sep) or path.is_dir():
        raise ValidationFailed(f"{path} is a folder; give a file name")
    parent = path.parent
    if not parent.is_dir():
        raise ValidationFailed(f"folder {parent} does not exist")
    if len(path.name.encode()) > 200:  # room for the temporary name beside it
        raise ValidationFailed(f"output file name is too long ({len(path.name.encode())} bytes; at most 200)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValidationFailed(f"folder {parent} is not writable")
    return path


def write_private(path: Path, data: bytes | str, *, replace: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically, mode 0600, never following a symlink.

    ``replace=False`` refuses to replace an existing file (the check and the write are one
    atomic step: a hard link of the finished temporary file).
    """
    path = check_output_path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ValidationFailed(f"cannot write {path}: {_why(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
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
    return path


def private_folder(folder: Path) -> Path:
    """An output folder: created 0700 if new; an existing folder is used as it is (it is the user's)."""
    folder = Path(folder).expanduser()
    if "\x00" in str(folder):
        raise ValidationFailed("the folder name contains a NUL character")
    if folder.exists() and not folder.is_dir():
        raise ValidationFailed(f"{folder} exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ValidationFailed(f"cannot create folder {folder}: {_why(exc)}") from None
    return folder
