"""The local web surface's locks: per-home keys and tokens, and the guard every HTTP server
Opsbench starts puts in front of its routes (Host, Origin, token, GraphQL mutations only as
JSON). Infrastructure: it knows no agent, sensor or CLI verb."""

from resources.web.guard import GuardedApp, Refusal, refusal_for
from resources.web.keys import home_key, home_key_path

__all__ = ["GuardedApp", "Refusal", "home_key", "home_key_path", "refusal_for"]
