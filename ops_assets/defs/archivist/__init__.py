"""The archivist: consolidates new episodic rows into facts per contact and company."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("archivist", {"model", "memory:read", "memory:write"})
