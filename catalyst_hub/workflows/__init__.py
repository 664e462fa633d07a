"""What staff pages write: each workflow is one call, in one transaction with its audit rows.

Handlers parse, authorize and call one function here; ``catalyst_hub.reports`` only reads.
"""
