"""The names of the event schemas (one folder each under ``schemas/``), for code to compare
against: a typo is then an ImportError, not a silently unmatched string."""

from __future__ import annotations

ACTION = "action"
ACTIVITY = "activity"
CONSENT = "consent"
EPISODE_COMPLETED = "episode_completed"
EXERCISE_COMPLETED = "exercise_completed"
SERVER_STARTED = "server_started"
SERVER_STOPPED = "server_stopped"
STEP_REACHED = "step_reached"

#: every name above
SCHEMA_NAMES = frozenset(v for k, v in dict(globals()).items() if k.isupper())
