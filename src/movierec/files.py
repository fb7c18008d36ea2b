"""Files in the data dir are private to the user who runs movierec: the dir 0700, files 0600, from the start.

The data dir holds password hashes (the SQLite database) and the token signing key, so nothing in it is created
readable by others even for a moment: directories are made with their mode, files are created with ``os.open`` and
their mode (SQLite then gives its WAL and shared-memory files the mode of the database file).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from movierec.log import get_logger

log = get_logger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as a directory only its owner can enter; an existing one is kept."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            pass
        else:
            path.chmod(PRIVATE_DIR)  # mkdir's mode is masked by the umask; the umask may only narrow it further
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists; its directory is made private when missing."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
    return path


@contextlib.contextmanager
def replacing(path: Path, mode: int | None = None) -> Iterator[Path]:
    """Write-to-temp-then-rename: yields a temporary path beside ``path`` for the block to write; when the block ends
    without an error it is renamed onto ``path`` (atomic on one file system, so a reader sees the old content or the
    new, never half of it), otherwise removed. With ``mode`` the temporary file is created with it before any byte is
    written. The name is unique per process and call, so two writers never share one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    if mode is not None:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(path: Path, data: str, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` through :func:`replacing`."""
    with replacing(path, mode) as tmp:
        tmp.write_text(data)


def write_private(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` atomically, mode 0600 (in a private directory)."""
    private_dir(path.parent)
    write_atomically(path, data, PRIVATE_FILE)


def warn_if_open(path: Path) -> bool:
    """Log a warning when ``path`` exists and others can read or enter it; True when it did."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    if mode & 0o077:
        log.warning("data_dir.readable_by_others", path=str(path), mode=oct(mode), fix=f"chmod 700 {path}")
        return True
    return False
