"""The service's custom JupyterHub scopes, and reading what a token's scopes allow.

Each scope may be filtered to communities with ``!group=<group>`` (JupyterHub's own filter);
the group names a community through the CommunityMapper. An unfiltered scope covers every
community of the hub.
"""

from __future__ import annotations

import enum
from typing import Final, Literal

from ..communities import CommunityMapper

REPORTS = "custom:catalyst:reports"
TRAINING = "custom:catalyst:training"
ADMIN = "custom:catalyst:admin"
METRICS = "custom:catalyst:metrics"

#: For ``c.JupyterHub.custom_scopes``.
CUSTOM_SCOPES = {
    REPORTS: {
        "description": "Read catalyst_hub's aggregate reports (adoption, onboarding, usage).",
    },
    TRAINING: {
        "description": "Training lead: manage cohorts, read learners' progress, sign off episodes.",
        "subscopes": [REPORTS],
    },
    ADMIN: {
        "description": "Administer catalyst_hub: catalog, audit log, every report.",
        "subscopes": [REPORTS, TRAINING],
    },
    METRICS: {
        "description": "Scrape catalyst_hub's Prometheus metrics (aggregates only).",
    },
}

#: The least-privilege role of the service's own token (the collector reads servers).
SERVICE_TOKEN_SCOPES = [
    "list:users",
    "read:users:name",
    "read:users:groups",
    "read:users:activity",
    "read:servers",
]


class _Every(enum.Enum):
    ALL = "every community"


ALL: Final = _Every.ALL  # sentinel: every community

#: What a token's scope covers: ALL, or a set of community names (maybe empty).
Communities = Literal[_Every.ALL] | set[str]


def communities_for(
    scopes: list[str] | set[str], scope: str, mapper: CommunityMapper
) -> Communities:
    """Which communities ``scopes`` grant ``scope`` on: ALL, a set of names, or empty.

    JupyterHub expands subscopes before it hands a token's scopes to a service, so a lead's
    token already lists ``custom:catalyst:reports!group=...`` too.
    """
    allowed: set[str] = set()
    for held in scopes:
        name, _, filter_ = held.partition("!")
        if name != scope:
            continue
        if not filter_:
            return ALL
        kind, _, value = filter_.partition("=")
        if kind == "group":
            community = mapper.community_of_group(value)
            if community:
                allowed.add(community)
    return allowed


def filtered_to(scopes: list[str] | set[str], scope: str, mapper: CommunityMapper) -> set[str]:
    """The communities ``scopes`` grant ``scope`` on by a ``!group=`` filter: those the token
    is scoped to, as opposed to reading them through an unfiltered scope."""
    named = {held for held in scopes if held.startswith(scope + "!")}
    found = communities_for(named, scope, mapper)
    return found if isinstance(found, set) else set()
