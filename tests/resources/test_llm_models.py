"""`llm.models`: an agent (by its asset name) or a model profile gets its own model and
endpoint; without the key every agent runs on the one configured model; an unpriced model on
a server that may charge is refused before any call, at start and when its client is made."""

import pytest
import yaml

from resources.llm.endpoints import EndpointError
from resources.llm.pricing import require_prices_for
from resources.settings.config import SAMPLE_CONFIG, load_config
from resources.settings.policy import load_policy


def _config(monkeypatch, tmp_path, models: dict) -> None:
    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["llm"]["models"] = models
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("OPSBENCH_CONFIG", str(path))


def test_every_agent_on_the_one_model_by_default(bench) -> None:
    llm = bench.resources["llm"]
    for asset in ("triage", "reply_draft", "proposal_draft"):
        client = llm.client(bench.store, run_id=None, asset=asset)
        assert client.endpoint.model == "scripted-v1"


def test_an_agent_or_its_profile_picks_its_model(bench, monkeypatch, tmp_path) -> None:
    _config(monkeypatch, tmp_path, {"triage": "gpt-4o-mini", "large": "stub"})
    llm = bench.resources["llm"]
    assert llm.client(bench.store, run_id=None, asset="triage").endpoint.model == "gpt-4o-mini"
    drafting = llm.client(bench.store, run_id=None, asset="proposal_draft", profile="large")
    assert drafting.endpoint.model == "stub"
    assert llm.client(bench.store, run_id=None, asset="review").endpoint.model == "scripted-v1"


def test_an_unpriced_hosted_model_is_refused(bench, monkeypatch, tmp_path) -> None:
    hosted = {"model": "gpt-unpriced", "endpoint": "http://127.0.0.1:9/v1"}
    _config(monkeypatch, tmp_path, {"proposal_draft": hosted})
    with pytest.raises(EndpointError, match="gpt-unpriced"):
        require_prices_for("scripted", load_config(), load_policy().budgets)
    with pytest.raises(EndpointError, match="gpt-unpriced"):
        bench.resources["llm"].client(bench.store, run_id=None, asset="proposal_draft")
