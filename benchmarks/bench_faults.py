"""Fault tolerance at full scale: 10 single-user servers, 100,000 events, real processes.

The scenarios of ``harness.faults`` (the service killed with SIGKILL again and
again, PostgreSQL stopped and started under the service, JupyterHub restarted with servers
kept running, a server's outbox file destroyed) at the scale a busy hub meets, printing
events sent, stored, duplicated and lost per scenario. The tests run the same scenarios at a
small scale (tests/e2e/test_faults.py); this is not run by CI (about 15 minutes on 2 cores).

The PostgreSQL scenario stops the machine's PostgreSQL for a few seconds, twice or more.

Run: .venv/bin/python benchmarks/bench_faults.py [--service-poll 0] [scenario ...]
(``--service-poll 0`` leaves JupyterHub's own 30 s check of the managed service.)
Exit status 1 when any event was lost or duplicated.
"""

from __future__ import annotations

import sys

from harness import faults

if __name__ == "__main__":
    sys.exit(faults.main(["--scale", "full", *sys.argv[1:]]))
