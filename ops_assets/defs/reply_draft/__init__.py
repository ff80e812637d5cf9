"""Reply drafting in the owner's voice, checked row by row."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("reply_draft", {"model", "memory:read"})
