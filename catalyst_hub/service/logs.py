"""What the service's log may say: no username and no token, at any level it writes.

Usernames are often email addresses, and tokens are credentials; logs are copied to places
(log collectors, support tickets) that the identity table never goes. Three things reach the
log with a request's details, and each is handled here:

- our own request log (``CatalystService._log_request``): path only, never the query string;
- tornado's error logs (an HTTPError's message, an uncaught exception with the request's
  headers): ``BaseHandler.log_exception`` writes them without the query, headers or message;
- JupyterHub's ``HubOAuth``, which runs in this process and names users ("Logged-in user
  alice@example.org"): its lines name the member by a prefix of their keyed member id.

``PrivateLogFilter`` is attached to every handler of the service's log (tornado's loggers are
routed to them), so whatever slips past the above is redacted on the way out: ``token=``
query values, ``Authorization`` headers and anything shaped like an email address.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

#: Query parameters that carry credentials (a token in a URL, OAuth's code and state).
SECRET_PARAMETERS = ("token", "access_token", "code", "state", "_xsrf")
_SECRET_PARAMETER = re.compile(rf"(?i)\b({'|'.join(SECRET_PARAMETERS)})=[^&\s'\"]+")
_AUTHORIZATION = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(\w+\s+)?[^\s'\",}]+")
_EMAIL = re.compile(r"[^\s@'\"<>(),;:/]+@[^\s@'\"<>(),;:/]+\.[A-Za-z]{2,}")
#: JupyterHub's HubOAuth lines that name a user: "Logged-in user NAME", "Not allowing Hub user
#: NAME: missing required scopes", "Allowing Hub admin NAME", ...
_USER_NAMING = re.compile(
    r"^(?P<lead>Logged-in user|(?:Not allowing|Allowing|Received request from) Hub (?:user|admin)) "
    r"(?P<name>\S+?)(?P<rest>:\s.*|\s.*)?$",
    re.S,
)
#: tornado's loggers, which the service's handlers (and so the filter) serve too.
TORNADO_LOGGERS = ("tornado.access", "tornado.application", "tornado.general")


def redact(text: str) -> str:
    """``text`` without credentials in query strings or headers, and without email addresses."""
    text = _SECRET_PARAMETER.sub(r"\1=[redacted]", text)
    text = _AUTHORIZATION.sub(r"\1[redacted]", text)
    return _EMAIL.sub("[email]", text)


class PrivateLogFilter(logging.Filter):
    """Rewrites a record's message so it names no user and shows no credential."""

    def __init__(self, pseudonym: Callable[[str], str]) -> None:
        super().__init__()
        self.pseudonym = pseudonym

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: keep what it has
            message = str(record.msg)
        naming = _USER_NAMING.match(message)
        if naming:
            member = self.pseudonym(naming["name"])[:12]
            message = f"{naming['lead']} member {member}…{naming['rest'] or ''}"
        record.msg, record.args = redact(message), None
        return True


def install(log: logging.Logger, pseudonym: Callable[[str], str]) -> None:
    """Filter every handler of ``log``, and route tornado's loggers to those handlers."""
    private = PrivateLogFilter(pseudonym)
    for handler in log.handlers:
        if not any(isinstance(f, PrivateLogFilter) for f in handler.filters):
            handler.addFilter(private)
    for name in TORNADO_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = list(log.handlers)
        logger.setLevel(logging.INFO)
        logger.propagate = False
