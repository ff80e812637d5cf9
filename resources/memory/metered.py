"""A paid embeddings endpoint under the budgets: its worst case is reserved before each
request, like a model call's (invariant 5). Only the embedded embedders (`local`, `hashing`)
are free by code; a base URL on this machine may be a proxy to a paid API, so it needs a price
(an explicit 0 says it is free)."""

from dataclasses import dataclass
from typing import Any

from resources.llm.hashing import text_hash
from resources.llm.pricing import free_by_code
from resources.memory.embeddings import Embedder, EmbeddingError, EndpointEmbedder, chosen_spec
from resources.store import BudgetExhausted, Store

WORKFLOW = "memory"


@dataclass
class MeteredEmbedder:
    inner: EndpointEmbedder
    store: Store
    usd_per_million: float
    daily_usd: float
    workflow_usd: float | None

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: list[str]) -> list[list[float]]:
        if self.store.kill_switch_on():
            raise EmbeddingError("the kill switch is on: no paid embeddings")
        # Every token is at least one UTF-8 byte: the bytes bound the tokens from above.
        tokens = sum(len(t.encode("utf-8")) + 8 for t in texts)
        worst = tokens * self.usd_per_million / 1_000_000
        key = "embeddings:" + text_hash("\n".join(texts))
        try:
            reservation = self.store.reserve(
                key,
                worst,
                self.daily_usd,
                workflow=WORKFLOW,
                workflow_budget_usd=self.workflow_usd,
            )
        except BudgetExhausted as exc:
            raise EmbeddingError(f"embeddings not made: {exc}") from exc
        try:
            vectors = self.inner.embed(texts)
        except BaseException:
            self.store.release(reservation)
            raise
        self.store.settle(reservation, worst)  # the endpoint's own count is not trusted
        return vectors


def metered(embedder: Embedder, store: Store | None, config: Any, policy: Any) -> Embedder:
    if not isinstance(embedder, EndpointEmbedder) or free_by_code(
        chosen_spec(config.memory.embedder)
    ):
        return embedder
    price = config.llm.prices.get(embedder.model)
    if price is None:
        raise EmbeddingError(
            f"no price for embedding model {embedder.model!r}: add llm.prices."
            f"{embedder.model} (USD per million tokens) so the budgets can hold"
        )
    if store is None:
        raise EmbeddingError("a paid embeddings endpoint needs the store for its budget")
    return MeteredEmbedder(
        embedder,
        store,
        price.input,
        policy.budgets.daily_usd,
        policy.budgets.per_workflow_usd.get(WORKFLOW),
    )
