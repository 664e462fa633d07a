"""The catalyst service: a JupyterHub service with the ingest API, pages and the collector."""
