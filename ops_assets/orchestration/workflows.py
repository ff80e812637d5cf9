"""Workflows as units: each one is a folder of ops_assets/defs/ with a `workflow.py` that
declares a `Workflow` (what it takes, its agents, its job, its policy actions, its budget and
model profile). This registry finds them by those declarations, never from a list, so adding a
workflow edits nothing outside its folder and the config's routing table.

The config names a workflow as a route (`routing: {sales: proposals}`); resources may not
import ops_assets, so the check that every route exists is here (`check_routing`), called
before triage moves any item."""

import importlib
import importlib.util
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from resources.settings.config import Config, ConfigError

BUILT_IN_ROUTES = ("human", "no_action")
"""Routes that are no workflow: wait for the owner, or rest quietly."""


@dataclass(frozen=True)
class Workflow:
    name: str
    """Its route name in the config's routing table (and the items' `route`)."""
    takes: tuple[str, ...]
    """Triage categories it is meant for (the config decides; this documents the default)."""
    agents: tuple[str, ...]
    """Its agents (asset names), in the order an item meets them."""
    job: str
    """The Dagster job that moves its items."""
    group: str
    """The asset group its job selects."""
    policy_actions: tuple[str, ...]
    per_batch: bool = False
    """True: its job runs per intake batch (partitioned), and a batch's unfinished items of
    this route are the batch's to finish; False: its job drains the store on its own."""
    budget_usd: Mapping[str, float] = field(default_factory=dict)
    """Per agent per day, the default the sample policy's budgets.per_workflow_usd holds."""
    models: Mapping[str, str] = field(default_factory=dict)
    """Per agent: the model profile it wants (`small` routes and checks, `large` writes);
    config `llm.models` maps an agent or a profile to a model."""
    answer_tokens: Mapping[str, int] = field(default_factory=dict)
    """Per agent: the tokens its longest valid answer needs (its contract bounds every string
    and list), when that is more than `llm.max_tokens`: an answer cut off there is no JSON."""
    max_revisions: int = 2


def _declarations(package: str) -> list[Workflow]:
    root = importlib.import_module(package)
    found: list[Workflow] = []
    for info in pkgutil.iter_modules(root.__path__):
        name = f"{package}.{info.name}.workflow"
        if not info.ispkg or importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        found += [v for v in vars(module).values() if isinstance(v, Workflow)]
    return found


@cache
def workflows(package: str = "ops_assets.defs") -> dict[str, Workflow]:
    """Every declared workflow by name; two declarations under one name are an error."""
    by_name: dict[str, Workflow] = {}
    for declared in _declarations(package):
        known = by_name.setdefault(declared.name, declared)
        if known is not declared:
            raise ValueError(f"two workflows are named {declared.name!r}")
        if declared.name in BUILT_IN_ROUTES:
            raise ValueError(f"a workflow may not be named {declared.name!r} (a built-in route)")
    return by_name


def routes() -> tuple[str, ...]:
    """Every name the routing table may use."""
    return (*BUILT_IN_ROUTES, *sorted(workflows()))


def check_routing(config: Config) -> None:
    """Refuse a routing table naming a workflow that does not exist: a typo must fail loudly,
    never send a category's mail quietly to the owner."""
    known = routes()
    wrong = {c: r for c, r in config.routing.items() if r not in known}
    if wrong:
        named = ", ".join(f"routing.{c}: {r!r}" for c, r in sorted(wrong.items()))
        raise ConfigError(f"unknown route {named}; a route is one of {', '.join(known)}")


def workflow_of(item: Mapping[str, Any]) -> Workflow | None:
    return workflows().get(str(item.get("route") or ""))


REPLIES = "reply_draft"
"""The support replies' route (ops_assets/defs/reply_draft/workflow.py declares it)."""


def belongs_to(item: Mapping[str, Any], name: str) -> bool:
    """Does the item belong to the workflow `name`? An item on no workflow's route (before
    triage, `human`, `no_action`, a follow-up, the owner's own reply) is the support replies',
    as it always was: only a workflow's own route takes an item away from them."""
    found = workflow_of(item)
    return (found.name if found is not None else REPLIES) == name


def batch_owned(item: Mapping[str, Any]) -> bool:
    """Is this item the intake batch's to move (its run retried, its items held)? Not when a
    workflow with its own job (not per batch) drains it."""
    found = workflow_of(item)
    return found is None or found.per_batch
