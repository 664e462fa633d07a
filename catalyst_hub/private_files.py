"""Files that hold personal data are readable by the service's own user only.

The SQLite database (with its write-ahead log and shared-memory index), the pseudonymization
secret, the outbox in a user's home and the folders made for them hold usernames, member ids
and events: nobody else on the machine may read them, whatever the process's umask. SQLite
gives its ``-wal`` and ``-shm`` files the mode of the database file, so creating that file
with mode 0600 before SQLite opens it covers all three.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
#: Files SQLite keeps beside a database, which hold the same data.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def make_private_dir(path: str | Path) -> Path:
    """Create ``path`` (and missing parents) with mode 0700. A folder that exists already is
    left as it is: it may be the operator's working folder, shared with other files."""
    path = Path(path)
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # made meanwhile by another process
            continue
        # mkdir's mode is filtered by the umask; chmod is not
        os.chmod(folder, PRIVATE_DIR)
    return path


def restrict(path: str | Path) -> None:
    """Take away every permission of group and others from an existing file of ours."""
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        os.chmod(path, mode & PRIVATE_DIR)


def prepare_sqlite_file(database: str | Path) -> None:
    """Before SQLite opens ``database``: its folder exists (0700 if made here), the file exists
    with mode 0600, and files an earlier version left more open are restricted."""
    database = Path(database)
    make_private_dir(database.parent)
    try:
        fd = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        pass
    else:
        os.close(fd)
        os.chmod(database, PRIVATE_FILE)  # whatever the umask
    for path in (database, *(Path(f"{database}{suffix}") for suffix in SQLITE_COMPANIONS)):
        restrict(path)
