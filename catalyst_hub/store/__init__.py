"""The catalyst store: event log, identities and projections in SQLite or PostgreSQL."""

from .engine import DatabaseNeedsUpgrade, check_current, make_engine, upgrade
from .store import Store

__all__ = ["DatabaseNeedsUpgrade", "Store", "check_current", "make_engine", "upgrade"]
