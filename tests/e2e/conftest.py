"""End-to-end fixtures: a real JupyterHub, proxy, catalyst service and single-user servers."""

import pytest

from catalyst_hub.testing.realhub import RealHub


@pytest.fixture
def real_hub(tmp_path):
    """Alice (andes) and Bob (sahel), on SQLite."""
    hub = RealHub(
        tmp_path / "hub",
        users={"alice@example.org": "alice-pass", "bob": "bob-pass"},
        groups={"community-andes": ["alice@example.org"], "community-sahel": ["bob"]},
    )
    hub.start()
    yield hub
    hub.stop()
