"""catalyst_hub: onboarding, training completion and per-community usage for JupyterHub."""

from ._version import __version__

__all__ = ["__version__"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """For ``jupyter labextension develop``; installs get it from the wheel's shared data."""
    return [{"src": "labextension", "dest": "@catalyst-hub/labextension"}]
