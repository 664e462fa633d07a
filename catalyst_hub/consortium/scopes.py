"""The consortium service's custom JupyterHub scopes (on the staff's hub)."""

READ = "custom:consortium:read"
ADMIN = "custom:consortium:admin"

#: For ``c.JupyterHub.custom_scopes`` on the hub the consortium service runs on.
CUSTOM_SCOPES = {
    READ: {
        "description": "Read the consortium's pages and exports (every hub's aggregates).",
    },
    ADMIN: {
        "description": "Administer the consortium: create and revoke hubs' credentials.",
        "subscopes": [READ],
    },
}
