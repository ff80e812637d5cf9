"""Budgets without holes: what a server may bill is always reserved first and settled at no
less than that — answers without `usage`, attempts the client gave up on, retries — and a model
that could be paid for but has no price is refused before any work starts."""

import pytest
from pydantic import BaseModel

from resources.llm.client import CallRequest, ModelClient, Prices
from resources.llm.endpoints import EndpointError, resolve
from resources.llm.pricing import price_of, require_prices
from resources.llm.scripted import ScriptedModel
from resources.llm.stub_server import StubServer
from resources.store import Store

PRICES = Prices(1.0, 2.0)


class Answer(BaseModel):
    category: str


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'store.sqlite'}")


def _stub(**options: object) -> StubServer:
    scripted = ScriptedModel({"answer": lambda text: {"category": "support"}})
    return StubServer(scripted=scripted, **options)  # type: ignore[arg-type]


def _client(store: Store, url: str, tmp_path, **options: object) -> ModelClient:
    settings: dict[str, object] = {
        "prices": PRICES,
        "max_tokens": 50,
        "temperature": 0.0,
        "daily_budget_usd": 10.0,
        "concurrency": 1,
        "retry_backoff_s": 0.01,
        **options,
    }
    endpoint = resolve(url, home=tmp_path, model="m")
    return ModelClient(endpoint=endpoint, store=store, **settings)  # type: ignore[arg-type]


def _requests(n: int) -> list[CallRequest]:
    return [
        CallRequest("answer", f"i{k}", [{"role": "user", "content": f"q {k}"}], Answer, "v1")
        for k in range(n)
    ]


def _billed(stub: StubServer) -> float:
    return sum(PRICES.cost(tokens_in, tokens_out) for tokens_in, tokens_out in stub.billed)


def _worst_case(client: ModelClient, request: CallRequest) -> float:
    return client.worst_case(client.body_for(request), PRICES)


def test_an_answer_without_usage_settles_at_its_worst_case(store, tmp_path) -> None:
    """Before, an answer without `usage` cost 0: a server that never reports it was free."""
    with _stub(omit_usage=True) as stub:
        client = _client(store, stub.url, tmp_path)
        requests = _requests(3)
        results = client.run(requests)
    assert all(r.ok for r in results) and stub.requests == 3
    worst = sum(_worst_case(client, r) for r in requests)
    assert store.spent_today() == pytest.approx(worst)
    assert _billed(stub) <= store.spent_today()


def test_a_budget_holds_against_a_server_that_never_reports_usage(store, tmp_path) -> None:
    with _stub(omit_usage=True) as stub:
        probe = _client(store, stub.url, tmp_path)
        budget = 2.5 * _worst_case(probe, _requests(1)[0])
        results = _client(store, stub.url, tmp_path, daily_budget_usd=budget).run(_requests(5))
    assert [r.ok for r in results] == [True, True, False, False, False]
    assert {r.error_code for r in results[2:]} == {"budget_exhausted"}
    assert _billed(stub) <= store.spent_today() <= budget


def test_attempts_the_client_gave_up_on_are_each_reserved_and_kept(store, tmp_path) -> None:
    """A server that answers after the client's timeout still bills every attempt. Before, the
    SDK retried under one reservation and the timeout released it: 3 billed, 0 counted."""
    with _stub(latency_s=1.0) as stub:
        client = _client(store, stub.url, tmp_path, timeout_s=0.25, max_retries=2)
        (result,) = client.run(_requests(1))
        assert result.error_code == "model_unavailable"
        assert stub.requests == 3
        assert store.spent_today() == pytest.approx(3 * _worst_case(client, _requests(1)[0]))
        assert _billed(stub) <= store.spent_today()


def test_retries_stop_at_the_budget_when_every_attempt_is_billed(store, tmp_path) -> None:
    with _stub(latency_s=1.0) as stub:
        probe = _client(store, stub.url, tmp_path)
        budget = 2.5 * _worst_case(probe, _requests(1)[0])
        client = _client(
            store, stub.url, tmp_path, timeout_s=0.25, max_retries=5, daily_budget_usd=budget
        )
        (result,) = client.run(_requests(1))
        assert result.error_code == "budget_exhausted"
        assert stub.requests == 2
        assert _billed(stub) <= store.spent_today() <= budget


def test_an_error_answer_is_not_billed_and_its_reservation_is_released(store, tmp_path) -> None:
    with _stub(fail_first=2) as stub:
        (result,) = _client(store, stub.url, tmp_path, max_retries=2).run(_requests(1))
    assert result.ok and stub.requests == 3
    assert store.spent_today() == pytest.approx(_billed(stub))


# ------------------------------------------------------------------ prices at start
def test_a_base_url_on_this_machine_needs_a_price_too(tmp_path) -> None:
    """A local proxy in front of a paid API was exempt from the price check."""
    with pytest.raises(EndpointError, match="'m'"):
        require_prices("http://127.0.0.1:8080/v1", "m", {})
    require_prices("http://127.0.0.1:8080/v1", "m", {"m": Prices(0.0, 0.0)})  # explicit 0


def test_an_unpriced_cheaper_model_is_refused(tmp_path) -> None:
    """Before, an unpriced cheaper model was reserved at $0 and so never held by a budget."""
    prices = {"big": Prices(1.0, 2.0)}
    with pytest.raises(EndpointError, match="'tiny'"):
        require_prices("https://llm.example/v1", "big", prices, cheaper_model="tiny")
    require_prices("https://llm.example/v1", "big", {**prices, "tiny": Prices(0.1, 0.2)})


def test_a_paid_embeddings_endpoint_needs_a_price(tmp_path) -> None:
    prices = {"big": Prices(1.0, 2.0)}
    with pytest.raises(EndpointError, match="'embed-3'"):
        require_prices(
            "https://llm.example/v1",
            "big",
            prices,
            embedder="http://127.0.0.1:9000/v1",
            embedding_model="embed-3",
        )
    for free in ("local", "hashing"):
        require_prices("https://llm.example/v1", "big", prices, embedder=free)


def test_the_embedded_model_and_the_doubles_are_free_by_code() -> None:
    for spec in ("local", "scripted", "replay:run.jsonl"):
        require_prices(spec, "any", {}, cheaper_model="other")
        assert price_of(spec, "any", {}) == Prices(0.0, 0.0)
    # A price configured for a double is kept: budget tests run on it.
    assert price_of("scripted", "s", {"s": Prices(0.1, 0.4)}) == Prices(0.1, 0.4)
    with pytest.raises(EndpointError):
        price_of("http://127.0.0.1:1/v1", "m", {})


def test_a_paid_embedder_on_this_machine_is_metered_not_free(store, monkeypatch) -> None:
    """Before, any embeddings endpoint on 127.0.0.1 was taken as free and never budgeted."""
    from types import SimpleNamespace

    monkeypatch.delenv("OPSBENCH_EMBEDDER")  # the config's embedder decides

    from resources.memory.embeddings import EmbeddingError, EndpointEmbedder
    from resources.memory.metered import MeteredEmbedder, metered

    url = "http://127.0.0.1:9/v1"
    embedder = EndpointEmbedder(url, "embed-3")
    policy = SimpleNamespace(budgets=SimpleNamespace(daily_usd=1.0, per_workflow_usd={}))

    def config(prices: dict[str, Prices], spec: str = url) -> SimpleNamespace:
        return SimpleNamespace(
            llm=SimpleNamespace(prices=prices), memory=SimpleNamespace(embedder=spec)
        )

    with pytest.raises(EmbeddingError, match="no price for embedding model 'embed-3'"):
        metered(embedder, store, config({}), policy)
    assert isinstance(
        metered(embedder, store, config({"embed-3": PRICES}), policy), MeteredEmbedder
    )
    # The embedded server (`local`) is free by code.
    assert metered(embedder, store, config({}, "local"), policy) is embedder


# ------------------------------------------------------------------ the CLI refuses to start
def _config(tmp_path, *, cheaper: str | None, priced: dict[str, dict[str, float]]):
    import yaml

    from resources.settings.config import SAMPLE_CONFIG
    from resources.settings.policy import SAMPLE_POLICY

    policy = SAMPLE_POLICY.read_text()
    if cheaper:
        policy = policy.replace("on_exhausted: defer", "on_exhausted: cheaper_model")
        policy = policy.replace("cheaper_model: null", f"cheaper_model: {cheaper}")
    (tmp_path / "policy.yaml").write_text(policy)
    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["llm"]["model"] = "m"
    config["llm"]["prices"] = priced
    config["policy_file"] = str(tmp_path / "policy.yaml")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path / "config.yaml"


def test_demo_with_an_unpriced_cheaper_model_is_refused_at_start(tmp_path, capsys) -> None:
    from support import SAMPLES

    from opsbench.cli import main

    config = _config(tmp_path, cheaper="tiny", priced={"m": {"input": 1.0, "output": 2.0}})
    with _stub() as stub:
        home = ["--home", str(tmp_path / "h"), "--config", str(config), "--timeout", "30"]
        code = main(["demo", "--inbox", str(SAMPLES), "--llm", stub.url, *home])
    assert code == 2 and stub.requests == 0
    assert "config error: no price for model 'tiny'" in capsys.readouterr().err


def test_every_verb_that_starts_work_refuses_an_unpriced_local_url(
    tmp_path, capsys, monkeypatch
) -> None:
    """A base URL on 127.0.0.1 without a price: run, reprocess and prompts test refuse too."""
    import opsbench.workbench
    from opsbench.cli import main
    from resources.settings.home import open_home
    from resources.store.resource import store_for

    started: list[object] = []
    monkeypatch.setattr(opsbench.workbench, "run_workbench", lambda *a, **k: started.append(a))
    config = _config(tmp_path, cheaper=None, priced={})
    url = "http://127.0.0.1:9/v1"
    store_for(open_home(tmp_path / "h").store_url)  # a home the verbs can open
    common = ["--home", str(tmp_path / "h"), "--llm", url, "--config", str(config)]
    assert main(["run", *common]) == 2
    for verb in (["reprocess", "--agent", "triage"], ["prompts", "test", "triage"]):
        assert main([*verb, *common]) == 2, verb
    assert not started
    assert capsys.readouterr().err.count("no price for model 'm'") == 3
