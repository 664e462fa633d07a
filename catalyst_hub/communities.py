"""Which community a member belongs to, from their JupyterHub groups."""

from __future__ import annotations

from traitlets import Dict, Unicode
from traitlets.config import LoggingConfigurable


class CommunityMapper(LoggingConfigurable):
    """Maps JupyterHub group names to community names.

    An explicit ``group_map`` wins; else groups starting with ``group_prefix`` name a
    community (the rest of the name); else the member is in ``default_community`` (the real
    hubs had no groups: the community was the hub itself).
    """

    group_prefix = Unicode(
        "community-",
        config=True,
        help="Groups whose name starts with this prefix are communities (prefix removed). Empty: off.",
    )
    group_map = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        config=True,
        help="Explicit map from JupyterHub group name to community name; checked before the prefix.",
    )
    default_community = Unicode(
        "default",
        config=True,
        help="Community of members in no community group (usually the hub's own community).",
    )

    def community_of_group(self, group: str) -> str | None:
        if group in self.group_map:
            return self.group_map[group]
        if self.group_prefix and group.startswith(self.group_prefix):
            return group[len(self.group_prefix) :] or None
        return None

    def community_for(self, groups: list[str]) -> str:
        """The member's community: the first of their groups (sorted) that names one."""
        for group in sorted(groups):
            community = self.community_of_group(group)
            if community:
                return community
        return self.default_community

    def configured(self) -> set[str]:
        """The communities named by configuration (they exist before anyone joins them)."""
        return {self.default_community, *self.group_map.values()} - {""}

    def communities_of_groups(self, groups: list[str]) -> set[str]:
        return {c for c in map(self.community_of_group, groups) if c}
