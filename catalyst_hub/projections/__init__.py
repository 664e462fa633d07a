"""Projections: tables derived from the event log, kept current as events are stored."""

from .projector import Projector

__all__ = ["Projector"]
