"""catalyst_hub: onboarding, training completion and per-community usage for JupyterHub."""

from ._version import __version__

__all__ = ["__version__"]
