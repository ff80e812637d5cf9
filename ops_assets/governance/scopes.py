"""Agent scopes: each agent folder declares what it may touch (`SCOPES` in its `__init__`);
the policy file may narrow that further. Anything else is refused and audited."""

import importlib

from resources.store import Store


class ScopeRefused(Exception):
    """An agent asked for a connector or action outside its scopes."""


def declared_scopes(agent: str) -> frozenset[str]:
    try:
        module = importlib.import_module(f"ops_assets.defs.{agent}")
    except ModuleNotFoundError:
        return frozenset()
    return frozenset(getattr(module, "SCOPES", frozenset()))


def allowed_scopes(agent: str, policy_scopes: dict[str, list[str]] | None = None) -> frozenset[str]:
    declared = declared_scopes(agent)
    if policy_scopes and agent in policy_scopes:
        return declared & frozenset(policy_scopes[agent])
    return declared


def require_scope(
    store: Store, agent: str, scope: str, policy_scopes: dict[str, list[str]] | None = None
) -> None:
    if scope in allowed_scopes(agent, policy_scopes):
        return
    store.audit(None, agent, "scope_refused", {"agent": agent, "scope": scope})
    raise ScopeRefused(f"{agent} may not use {scope}")
