"""The service process tunes CPython's garbage collector once it is up (see
``tune_garbage_collector``); checked in a child process, so this test run keeps its own."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc
from catalyst_hub.service.app import GC_YOUNG_THRESHOLD, tune_garbage_collector
before_threshold = gc.get_threshold()
assert gc.get_freeze_count() == 0
tune_garbage_collector()
print(gc.get_freeze_count(), *before_threshold, *gc.get_threshold(), GC_YOUNG_THRESHOLD)
"""


def test_startup_objects_are_frozen_and_young_collections_are_rarer():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    frozen, before, before1, before2, after, after1, after2, wanted = map(int, out)
    # everything imported is out of later collections
    assert frozen > 10_000
    assert after == wanted > before
    # the older generations keep CPython's ratios
    assert (after1, after2) == (before1, before2)
