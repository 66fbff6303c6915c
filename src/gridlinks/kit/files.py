"""Files only the server's own user may read: the data directory (0700), the server secret and
the SQLite database (0600). Modes are set explicitly, whatever the process umask."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("gridlinks")

PRIVATE_DIRECTORY_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_directory(path: Path, *, warn_if_open: bool = True) -> None:
    """Create ``path`` (and missing parents) with mode 0700. An existing directory is left as
    the operator made it (it may be shared on purpose), with a warning if others can enter it."""
    if path.is_dir():
        if warn_if_open and stat.S_IMODE(path.stat().st_mode) & 0o077:
            log.warning(
                "data directory %s is accessible to other users; chmod 700 it", _shown(path)
            )
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=PRIVATE_DIRECTORY_MODE, exist_ok=True)
    os.chmod(path, PRIVATE_DIRECTORY_MODE)


def create_private_file(path: Path, text: str = "") -> bool:
    """Create ``path`` with mode 0600 holding ``text``; ``False`` if it already existed."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), PRIVATE_FILE_MODE)
        handle.write(text)
    return True


def tighten_file(path: Path) -> None:
    """Make an existing file of ours 0600 if group or others may read or write it."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        os.chmod(path, PRIVATE_FILE_MODE)
        log.info("made %s private (mode %o was %o)", _shown(path), PRIVATE_FILE_MODE, mode)


def _shown(path: Path) -> str:
    # Paths come from settings; keep control characters out of the log line.
    return str(path).encode("unicode_escape").decode("ascii")
