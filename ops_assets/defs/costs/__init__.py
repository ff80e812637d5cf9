"""Cost per outcome: the call ledger rolled up through lineage to delivered replies."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("costs", set())
