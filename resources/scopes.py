"""Scopes: what each agent may touch (`model`, `memory:read`, `memory:write`,
`connector:<name>`). An agent declares its own in its folder's `__init__` with
`declare_scopes`; the policy file may narrow them; the resources that hand out a model client,
memory or a connector check here first. Anything else is refused and audited."""

from collections.abc import Iterable

from resources.store import Store

_DECLARED: dict[str, frozenset[str]] = {}


class ScopeRefused(Exception):
    """An agent asked for a connector or action outside its scopes."""


def declare_scopes(agent: str, scopes: Iterable[str]) -> frozenset[str]:
    """Called by an agent's package when it is imported (before any of its assets runs)."""
    _DECLARED[agent] = frozenset(scopes)
    return _DECLARED[agent]


def declared_scopes(agent: str) -> frozenset[str]:
    return _DECLARED.get(agent, frozenset())  # an agent nobody declared may touch nothing


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
