"""CRM: the executor that keeps contacts and deals in the canonical store from outcomes."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("crm", {"connector:crm"})
