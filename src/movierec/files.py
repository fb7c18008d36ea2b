"""Files in the data dir are private to the user who runs movierec: the dir 0700, files 0600, from the start.

The data dir holds password hashes (the SQLite database) and the token signing key, so nothing in it is created
readable by others even for a moment: directories are made with their mode, files are created with ``os.open`` and
their mode (SQLite then gives its WAL and shared-memory files the mode of the database file).
"""

from __future__ import annotations

import os
import stat
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


def write_private(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` atomically, mode 0600: a temporary file renamed into place, so a reader sees the
    old content or the new, never half of it."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as handle:
        handle.write(data)
    tmp.replace(path)


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
