"""An authenticator with a password per user, for the demo and end-to-end tests only."""

from __future__ import annotations

import hmac

from jupyterhub.auth import Authenticator
from traitlets import Dict, Unicode


class PasswordsAuthenticator(Authenticator):
    """Log in with a fixed password per username. Never use it for a real hub."""

    passwords = Dict(
        key_trait=Unicode(), value_trait=Unicode(), config=True, help="username -> password"
    )

    async def authenticate(self, handler, data):
        username = data.get("username", "")
        expected = self.passwords.get(username)
        if expected is not None and hmac.compare_digest(expected, data.get("password", "")):
            return username
        return None
