"""The `memory` resource: episodic and consolidated memory in LanceDB under `<home>/memory`.

Embeddings come from the embedder the config names (`memory.embedder`, or OPSBENCH_EMBEDDER):
the embedded all-MiniLM-L6-v2 by default, an OpenAI-compatible endpoint, or the hashing test
double. Nothing here loads a model or lancedb at import time.
"""

import dagster as dg

from resources.memory.embeddings import Embedder, EmbeddingError, chosen_spec, resolve
from resources.memory.tables import EPISODIC, FACTS, WRITE_LOCK, Memory, about, quote
from resources.settings import SettingsResource
from resources.store import Store

__all__ = [
    "EPISODIC",
    "FACTS",
    "WRITE_LOCK",
    "Embedder",
    "EmbeddingError",
    "Memory",
    "MemoryResource",
    "about",
    "quote",
]


class MemoryResource(dg.ConfigurableResource):
    """Episodic memory and facts of this home, with the configured embedder."""

    settings: SettingsResource

    def get(self, store: Store | None = None) -> Memory:
        """The home's memory. With a store, a paid embeddings endpoint is held to the
        budgets like any model call."""
        home, config = self.settings.home_dir(), self.settings.config()

        def embedder() -> Embedder:
            made = resolve(
                chosen_spec(config.memory.embedder),
                home=home.root,
                model=config.memory.embedding_model,
            )
            from resources.memory.metered import metered

            return metered(made, store, config, self.settings.policy())

        return Memory(home.memory, embedder)
