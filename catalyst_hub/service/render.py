"""Server-side rendering of the service's pages (Jinja2, autoescaped, translated).

Pages are plain HTML with inline SVG charts and a small stylesheet: they work without
JavaScript and stay light on slow links. ``templates/layout.html`` draws a JupyterHub-like
navigation bar (Home, Token, the services menu) so the pages feel part of the hub, without
the hub's 300 KB of scripts and styles.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from jupyterhub.utils import url_path_join

from ..i18n import LANGUAGE_NAMES, LANGUAGES
from ..timeutil import local_day, parse_time
from . import scopes

if TYPE_CHECKING:
    from .base import BaseHandler

TEMPLATES = Path(__file__).parent / "templates"


def make_environment(extra_paths: list[str] | None = None) -> Environment:
    """Deployment template folders first, so a hub can restyle any page."""
    loaders = [FileSystemLoader(p) for p in (extra_paths or [])] + [
        FileSystemLoader(str(TEMPLATES))
    ]
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def page_context(handler: BaseHandler) -> dict[str, Any]:
    """What every page template may use."""
    app = handler.catalyst
    prefix = app.service_prefix
    hub_prefix = app.hub_auth.hub_prefix
    model = handler.current_user or {}
    by_token = getattr(handler, "_token_authenticated", False)
    return {
        "_": handler._,
        "lang": handler.language,
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "prefix": prefix,
        "hub_prefix": hub_prefix,
        "hub_home": url_path_join(hub_prefix, "home"),
        "hub_token": url_path_join(hub_prefix, "token"),
        "hub_logout": url_path_join(hub_prefix, "logout"),
        "static": handler.static_url,  # versioned (?v=hash): cached for good, as tornado does
        "url": lambda path="": url_path_join(prefix, path),
        "user_name": model.get("name"),
        # a browser's forms need it (and its cookie); a token's requests need neither, so a
        # token's page sets no 270-byte cookie
        "xsrf_token": handler.xsrf_token.decode("ascii") if model and not by_token else "",
        "request_path": handler.request.path,
        # the day, in the hub's time zone, of a stored time (ISO 8601, UTC)
        "day": lambda time: local_day(parse_time(time), handler.store.zone).isoformat(),
        "nav": staff_nav(handler),
    }


def staff_nav(handler: BaseHandler) -> dict[str, bool]:
    """Which staff links the navigation bar shows, from the token's scopes."""
    held = (handler.current_user or {}).get("scopes", [])
    mapper = handler.catalyst.communities
    reports = scopes.communities_for(held, scopes.REPORTS, mapper)
    return {
        "reports": bool(reports),
        "overview": reports is scopes.ALL,
        "training": bool(scopes.communities_for(held, scopes.TRAINING, mapper)),
        "admin": bool(scopes.communities_for(held, scopes.ADMIN, mapper)),
    }


#: the indentation of a line of markup: it shows nothing (HTML collapses white space to one
#: space, and a line break is one), but costs bytes on the wire, compressed or not
_INDENT = re.compile(r"\n[ \t]+")


def render(handler: BaseHandler, template: str, **context: Any) -> str:
    env: Environment = handler.settings["jinja_env"]
    html = env.get_template(template).render({**page_context(handler), **context})
    if "<pre" in html or "<textarea" in html:
        return html  # where white space shows, as it is
    return _INDENT.sub("\n", html)
