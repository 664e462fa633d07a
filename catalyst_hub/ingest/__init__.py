"""The ingest path: parse a batch, validate each event, stamp who sent it, store the batch."""

from .ingest import BatchError, EventResult, Ingestor, Sender

__all__ = ["BatchError", "EventResult", "Ingestor", "Sender"]
