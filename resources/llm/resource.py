"""The `llm` resource: a ModelClient for the endpoint chosen by `--llm` (OPSBENCH_LLM), or per
agent by config `llm.models` (a small model for routing, a larger one for writing); every
model is priced before its first call, as the budget rules say (pricing.py)."""

import dagster as dg

from resources.llm.client import ModelClient
from resources.llm.endpoints import Endpoint, resolve
from resources.llm.pricing import price_of, require_prices
from resources.llm.replay import Recorder
from resources.llm.scripted import ScriptedModel
from resources.settings import SettingsResource
from resources.settings.config import AgentModel
from resources.settings.environment import environment
from resources.store.store import Store

DEFAULT_SPEC = "local"


class LLMResource(dg.ConfigurableResource):
    """OpenAI-compatible model access with the call ledger, budget and bounded concurrency."""

    # The endpoint and the recording come from the environment the CLI sets, never from run
    # config: a launched run must not send the key and the mail to another server.
    settings: SettingsResource

    def chosen_spec(self) -> str:
        return environment().llm or DEFAULT_SPEC

    def scripted_model(self) -> ScriptedModel | None:
        """Tests override this to script particular answers; None = the default script."""
        return None

    def endpoint(self, asset: str | None = None, profile: str | None = None) -> Endpoint:
        """The workbench's endpoint and model, or the one config `llm.models` names for this
        agent (by its asset name), else for its model profile (a workflow's `small`/`large`)."""
        config = self.settings.config()
        chosen = self._chosen(asset, profile)
        spec = (chosen.endpoint if chosen else None) or self.chosen_spec()
        return resolve(
            spec,
            home=self.settings.home_dir().root,
            model=(chosen.model if chosen else None) or config.llm.model,
            scripted=self.scripted_model(),
        )

    def _chosen(self, asset: str | None, profile: str | None) -> AgentModel | None:
        models = self.settings.config().llm.models
        return models.get(asset or "") or models.get(profile or "")

    def max_tokens(self, asset: str, profile: str | None, needs: int | None) -> int:
        """The config's word for this agent, else what the agent says its answer needs or
        `llm.max_tokens`, whichever is more (a longer answer cut short is no answer)."""
        chosen = self._chosen(asset, profile)
        if chosen is not None and chosen.max_tokens:
            return chosen.max_tokens
        return max(needs or 0, self.settings.config().llm.max_tokens)

    def client(
        self,
        store: Store,
        *,
        run_id: str | None,
        asset: str,
        profile: str | None = None,
        answer_tokens: int | None = None,
    ) -> ModelClient:
        from resources.scopes import require_scope

        policy = self.settings.policy()
        require_scope(store, asset, "model", policy.scopes)
        config, budgets = self.settings.config(), policy.budgets
        endpoint, prices = self.endpoint(asset, profile), config.llm.prices
        cheaper_model = budgets.cheaper_model if budgets.on_exhausted == "cheaper_model" else None
        # The CLI checks at start; a daemon started otherwise is held here, before any call.
        # (Paid embeddings are held where they are made: resources/memory/metered.py.)
        require_prices(endpoint.spec, endpoint.model, prices, cheaper_model=cheaper_model)
        cheaper = None
        if cheaper_model:
            cheaper = (cheaper_model, price_of(endpoint.spec, cheaper_model, prices))
        record = environment().record
        return ModelClient(
            endpoint=endpoint,
            store=store,
            prices=price_of(endpoint.spec, endpoint.model, prices),
            max_tokens=self.max_tokens(asset, profile, answer_tokens),
            temperature=config.llm.temperature,
            daily_budget_usd=budgets.daily_usd,
            workflow_budget_usd=budgets.per_workflow_usd.get(asset),
            cheaper=cheaper,
            concurrency=config.concurrency.model_calls or endpoint.default_concurrency,
            run_id=run_id,
            asset=asset,
            recorder=Recorder(record) if record else None,
        )
