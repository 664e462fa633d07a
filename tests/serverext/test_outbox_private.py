"""The outbox in a user's home holds events about them: only they may read it."""

from __future__ import annotations

import logging
import os
import stat

from catalyst_hub.events import envelope
from catalyst_hub.serverext.outbox import OutboxStore


def test_the_outbox_and_its_folder_are_private_whatever_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        path = tmp_path / "jupyter" / "catalyst" / "outbox.sqlite"
        store = OutboxStore(str(path), 100, logging.getLogger("test-outbox"))
        store.open()
        store.append([envelope("activity", {"kind": "ui", "count": 1})])
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files if p.exists()}
        assert len(modes) == 3 and set(modes.values()) == {0o600}, modes
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    finally:
        os.umask(previous)
