"""What each model call may cost, and the refusal to work with a model that has no price.

Only the embedded servers (`local`) and the in-process doubles (`scripted`, `replay:FILE`) are
free by code. Any base URL — one on 127.0.0.1 too, which may be a proxy in front of a paid
API — needs an entry in `llm.prices` (an explicit `{input: 0, output: 0}` says it is free);
so do the policy's cheaper model and a paid embeddings endpoint. Without one, a budget could
not hold, so the workbench refuses to start and names the model.
"""

from collections.abc import Mapping
from typing import Any, Protocol

from resources.llm.client import Prices
from resources.llm.endpoints import EndpointError
from resources.settings.environment import environment


class Priced(Protocol):
    """A price entry (the config's `llm.prices.<model>`), USD per million tokens."""

    @property
    def input(self) -> float: ...

    @property
    def output(self) -> float: ...


def free_by_code(spec: str) -> bool:
    """Is every call through this `--llm` (or embedder) spec free whatever its model?"""
    return spec in ("local", "scripted", "hashing") or spec.startswith("replay:")


def price_of(spec: str, model: str, prices: Mapping[str, Priced]) -> Prices:
    """A configured price wins (budget tests price the doubles); else free only by code."""
    price = prices.get(model)
    if price is not None:
        return Prices(price.input, price.output)
    if free_by_code(spec):
        return Prices()
    raise EndpointError(_missing([model]))


def require_prices(
    spec: str,
    model: str | None,
    prices: Mapping[str, Priced],
    *,
    cheaper_model: str | None = None,
    embedder: str = "local",
    embedding_model: str | None = None,
) -> None:
    """Refuse (EndpointError naming them) every model that could be paid for without a price."""
    missing: list[str] = []
    if not free_by_code(spec):
        missing += [m for m in (model, cheaper_model) if m and m not in prices]
    if not free_by_code(embedder) and embedding_model and embedding_model not in prices:
        missing.append(embedding_model)
    if missing:
        raise EndpointError(_missing(missing))


def require_prices_for(spec: str, config: Any, budgets: Any) -> None:
    """The start check over the config and the policy's budgets (duck-typed: this layer does
    not know the config's classes): the chat model, each agent's in `llm.models`, the cheaper
    model, the embedder."""
    from resources.memory.embeddings import chosen_spec

    llm, memory = config.llm, config.memory
    cheaper = budgets.cheaper_model if budgets.on_exhausted == "cheaper_model" else None
    require_prices(
        spec,
        llm.model or environment().model,
        llm.prices,
        cheaper_model=cheaper,
        embedder=chosen_spec(memory.embedder),
        embedding_model=memory.embedding_model or environment().embedding_model,
    )
    for chosen in getattr(llm, "models", {}).values():  # an agent's own model (llm.models)
        require_prices(
            chosen.endpoint or spec, chosen.model or llm.model or environment().model, llm.prices
        )


def _missing(models: list[str]) -> str:
    names = ", ".join(repr(m) for m in dict.fromkeys(models))
    return (
        f"no price for model {names}: add llm.prices.<model> (USD per million input/output "
        "tokens; an explicit {input: 0, output: 0} for a free server) to the config so "
        "budgets can hold"
    )
