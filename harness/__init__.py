"""What the tests and benchmarks use to run catalyst_hub for real; not part of the package.

``realhub`` (a local hub in real processes, with test helpers), ``faults`` (the service and
the database killed mid-flight), ``live`` (the checklist's freshness), ``waiting``,
``chromium`` and ``rows``.
"""
