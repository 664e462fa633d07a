"""Helpers to run catalyst_hub for real: a local JupyterHub with the service (tests, demo)."""
