"""The service's log filter: members named by pseudonym, credentials and emails redacted."""

import logging

from catalyst_hub.service.logs import PrivateLogFilter, redact

ANA = "ana.souza@uni.example.br"


def test_the_filter_names_members_by_pseudonym_and_redacts_credentials():
    private = PrivateLogFilter(lambda name: "f00d" * 8)
    record = logging.LogRecord("tornado.application", logging.INFO, __file__, 1,
                               "Logged-in user %s", (ANA,), None)  # fmt: skip
    assert private.filter(record)
    assert record.getMessage() == "Logged-in user member f00df00df00d…"
    # HubOAuth's f-string line, with a name that is not an email address
    record = logging.LogRecord("tornado.application", logging.WARNING, __file__, 1,
                               "Not allowing Hub user kofi: missing required scopes", None, None)  # fmt: skip
    private.filter(record)
    assert (
        record.getMessage() == "Not allowing Hub user member f00df00df00d…: missing required scopes"
    )
    line = redact(
        "GET /services/catalyst/api/me?lang=es&token=abc123 HTTPServerRequest("
        "headers={'Authorization': 'token s3cr3t', 'X': 'y'}) from mara@uni.example.org"
    )
    assert "abc123" not in line and "s3cr3t" not in line and "mara@" not in line
    assert "lang=es" in line and "'X': 'y'" in line
