"""Every route of the service, relative to its prefix, declared here and nowhere else.

Each module ends with its ``default_handlers``, as JupyterHub's ``handlers`` and
``apihandlers`` do: ``..api`` the JSON API members and servers use, ``..pages`` the member's
own pages, and here the staff pages by resource.
"""

from __future__ import annotations

from .. import api, openapi, pages
from ..base import OAuthCallbackHandler
from . import audit, badges, consortium, metrics, reports, training, xapi

default_handlers: list[tuple] = [
    *api.default_handlers,
    (r"api/openapi.json", openapi.OpenAPIHandler),
    (r"oauth_callback", OAuthCallbackHandler),
    *pages.default_handlers,
    *reports.default_handlers,
    *training.default_handlers,
    *audit.default_handlers,
    *metrics.default_handlers,
    *badges.default_handlers,
    *consortium.default_handlers,
    *xapi.default_handlers,
]
