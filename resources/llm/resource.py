"""The `llm` resource: a ModelClient for the endpoint chosen by `--llm` (OPSBENCH_LLM)."""

import os

import dagster as dg

from resources.llm.client import ModelClient, Prices
from resources.llm.endpoints import Endpoint, resolve
from resources.llm.replay import Recorder
from resources.llm.scripted import ScriptedModel
from resources.settings import SettingsResource
from resources.store.store import Store

DEFAULT_SPEC = "local"


class LLMResource(dg.ConfigurableResource):
    """OpenAI-compatible model access with the call ledger, budget and bounded concurrency."""

    settings: SettingsResource
    spec: str | None = None
    record: str | None = None

    def chosen_spec(self) -> str:
        return self.spec or os.environ.get("OPSBENCH_LLM") or DEFAULT_SPEC

    def scripted_model(self) -> ScriptedModel | None:
        """Tests override this to script particular answers; None = the default script."""
        return None

    def endpoint(self) -> Endpoint:
        config = self.settings.config()
        return resolve(
            self.chosen_spec(),
            home=self.settings.home_dir().root,
            model=config.llm.model,
            scripted=self.scripted_model(),
        )

    def client(self, store: Store, *, run_id: str | None, asset: str) -> ModelClient:
        config = self.settings.config()
        endpoint = self.endpoint()
        price = config.llm.prices.get(endpoint.model)
        record = self.record or os.environ.get("OPSBENCH_RECORD")
        return ModelClient(
            endpoint=endpoint,
            store=store,
            prices=Prices(price.input, price.output) if price else Prices(),
            max_tokens=config.llm.max_tokens,
            temperature=config.llm.temperature,
            daily_budget_usd=config.llm.daily_budget_usd,
            concurrency=config.concurrency.model_calls or endpoint.default_concurrency,
            run_id=run_id,
            asset=asset,
            recorder=Recorder(record) if record else None,
        )
