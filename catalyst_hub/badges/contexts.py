"""JSON-LD contexts served from the package, never fetched.

Canonicalization needs the contexts a credential names. Fetching them at run time would make
verification depend on the network (and on whoever answers for those addresses), so the
document loader serves copies bundled in this package and refuses every other address.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from pyld.jsonld import JsonLdError

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"

#: context URL -> file in ``contexts/``
BUNDLED: dict[str, str] = {
    VC_V2: "credentials-v2.jsonld",
    OB_V3: "ob-context-3.0.3.json",
}


@cache
def _context(url: str) -> Any:
    text = (resources.files(__package__) / "contexts" / BUNDLED[url]).read_text("utf-8")
    return json.loads(text)


def bundled_loader(url: str, options: Any = None) -> dict[str, Any]:
    """pyld document loader: a bundled context, or an error for any other address."""
    if url not in BUNDLED:
        raise JsonLdError(
            f"context {url!r} is not bundled; nothing is fetched",
            "jsonld.LoadDocumentError",
            {"url": url},
            code="loading document failed",
        )
    return {"contextUrl": None, "documentUrl": url, "document": _context(url)}
