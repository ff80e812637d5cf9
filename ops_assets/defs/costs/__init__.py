"""Cost per outcome: the call ledger rolled up through lineage to delivered replies."""

SCOPES: frozenset[str] = frozenset()
