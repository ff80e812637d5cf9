"""CRM: the executor that keeps contacts and deals in the canonical store from outcomes."""

SCOPES = frozenset({"connector:crm"})
