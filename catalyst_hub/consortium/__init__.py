"""The consortium service: many hubs' published summaries, side by side.

Each hub's catalyst service publishes per-community monthly and daily aggregates, already
through its suppression policy (``catalyst_hub.reports.summary``, sent by
``catalyst_hub.service.publisher``); this service (``catalyst-hub consortium``) stores them by
hub, community and day, latest version wins, and shows them to consortium staff on their
own hub (a JupyterHub service with the custom scopes in ``scopes``). Raw records never leave
the hub where they were made.
"""
