"""The ingest path: parse a batch, validate each event, stamp who sent it, store the batch."""

from ..events import COLLECTOR, LEAD, MEMBER
from .ingest import BatchError, EventResult, Ingestor, Sender

__all__ = ["COLLECTOR", "LEAD", "MEMBER", "BatchError", "EventResult", "Ingestor", "Sender"]
