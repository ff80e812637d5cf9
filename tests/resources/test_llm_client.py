"""The model client: ledger cache, budget, failures, record and replay — through the real
`openai` client, against scripted doubles and a real HTTP server on 127.0.0.1."""

import pytest
from pydantic import BaseModel, Field

from resources.llm.client import CallRequest, ModelClient, Prices
from resources.llm.endpoints import resolve
from resources.llm.replay import Recorder
from resources.llm.scripted import ScriptedModel
from resources.llm.stub_server import StubServer
from resources.store import Store


class Answer(BaseModel):
    category: str = Field(max_length=20)


def _client(store, endpoint, **kw) -> ModelClient:
    options = {
        "prices": Prices(1.0, 2.0),
        "max_tokens": 50,
        "temperature": 0.0,
        "daily_budget_usd": 10.0,
        "concurrency": 2,
        **kw,
    }
    return ModelClient(endpoint=endpoint, store=store, **options)


def _request(n: int = 0) -> CallRequest:
    return CallRequest(
        "answer", f"item{n}", [{"role": "user", "content": f"question {n}"}], Answer, "answer-v1"
    )


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'store.sqlite'}")


@pytest.fixture
def scripted() -> ScriptedModel:
    return ScriptedModel({"answer": lambda text: {"category": "support"}})


def test_same_request_is_paid_once(store, scripted, tmp_path) -> None:
    endpoint = resolve("scripted", home=tmp_path, model=None, scripted=scripted)
    first = _client(store, endpoint).run([_request(0), _request(1)])
    again = _client(store, endpoint).run([_request(0), _request(1)])
    assert [r.cached for r in first] == [False, False]
    assert [r.cached for r in again] == [True, True]
    assert scripted.calls == 2
    assert all(r.output == Answer(category="support") for r in first + again)
    totals = store.call_totals()
    assert (totals["model_calls"], totals["cache_hits"]) == (2, 2)
    assert totals["cost_usd"] == pytest.approx(sum(r.cost_usd for r in first))


def test_identical_requests_in_one_run_are_paid_once(store, tmp_path) -> None:
    """Two items whose requests are the same (same text after templating) share one call;
    before, both missed the ledger at once and the second write crashed the run."""
    with StubServer(latency_s=0.2) as stub:
        stub.scripted.scripts["answer"] = lambda text: {"category": "support"}
        endpoint = resolve(stub.url, home=tmp_path, model="m", scripted=None)
        same = [
            CallRequest("answer", f"item{n}", [{"role": "user", "content": "hi"}], Answer, "v1")
            for n in range(3)
        ]
        results = _client(store, endpoint, concurrency=3).run(same)
    assert stub.requests == 1
    assert [r.cached for r in results] == [False, True, True]
    assert store.spent_today() == pytest.approx(results[0].cost_usd)


def test_a_second_payment_after_an_expired_claim_is_kept_and_counted(store) -> None:
    """Askers wait on each other's claims (tests/resources/test_model_call_claims.py), so two
    payments for one request happen only when a claim expired under a stalled owner that then
    came back: the ledger keeps the first answer, the budget counts both payments."""
    call = {
        "request_hash": "h1",
        "agent": "a",
        "model": "m",
        "prompt_version": "v",
        "request": {},
        "response": "{}",
        "tokens_in": 1,
        "tokens_out": 1,
        "cost_usd": 0.5,
    }
    first = store.reserve("h1", 1.0, 10.0)
    second = store.reserve("h1", 1.0, 10.0)
    store.record_call(first, call)
    store.record_call(second, {**call, "response": '{"late": true}'})
    assert store.get_call("h1")["response"] == "{}"
    assert store.spent_today() == pytest.approx(1.0)


def test_no_call_is_made_over_budget(store, scripted, tmp_path) -> None:
    endpoint = resolve("scripted", home=tmp_path, model=None, scripted=scripted)
    client = _client(store, endpoint, daily_budget_usd=0.0001, concurrency=1)
    results = client.run([_request(n) for n in range(5)])
    assert scripted.calls < 5
    assert results[-1].error_code == "budget_exhausted"
    assert store.spent_today() <= 0.0001


def test_schema_invalid_answer_is_a_reasoned_failure(store, tmp_path) -> None:
    bad = ScriptedModel({"answer": lambda text: {"category": "x" * 50}})
    endpoint = resolve("scripted", home=tmp_path, model=None, scripted=bad)
    (result,) = _client(store, endpoint).run([_request()])
    assert result.output is None and result.error_code == "schema_invalid"
    assert "string_too_long" in (result.error or "")


@pytest.fixture
def stub():
    scripted = ScriptedModel({"answer": lambda text: {"category": "billing"}})
    with StubServer(scripted=scripted) as server:
        yield server


def test_transport_retries_then_success(store, tmp_path, stub) -> None:
    stub.fail_first = 1
    endpoint = resolve(stub.url, home=tmp_path, model="m")
    (result,) = _client(store, endpoint, max_retries=2).run([_request()])
    assert result.ok and stub.requests == 2
    assert store.call_totals()["model_calls"] == 1


def test_server_down_rests_as_model_unavailable_and_spends_nothing(store, tmp_path, stub) -> None:
    stub.fail_first = 100
    endpoint = resolve(stub.url, home=tmp_path, model="m")
    (result,) = _client(store, endpoint, max_retries=1).run([_request()])
    assert result.error_code == "model_unavailable"
    assert store.call_totals()["model_calls"] == 0 and store.spent_today() == 0


def test_record_then_replay_makes_no_live_call(tmp_path, scripted) -> None:
    recording = tmp_path / "run.jsonl"
    first = Store(f"sqlite:///{tmp_path / 'a.sqlite'}")
    endpoint = resolve("scripted", home=tmp_path, model=None, scripted=scripted)
    original = _client(first, endpoint, recorder=Recorder(recording)).run(
        [_request(0), _request(1)]
    )

    fresh = Store(f"sqlite:///{tmp_path / 'b.sqlite'}")
    replay = resolve(f"replay:{recording}", home=tmp_path, model=None)
    replayed = _client(fresh, replay).run([_request(0), _request(1), _request(2)])
    assert [r.output for r in replayed[:2]] == [r.output for r in original]
    assert replayed[2].error_code == "request_rejected"  # not recorded: an error, not a call
    assert replay.double.misses == 1 and scripted.calls == 2


def test_a_request_the_server_refuses_is_not_retried_later(store, tmp_path, stub) -> None:
    stub.fail_first, stub.fail_status = 100, 400  # e.g. longer than the model's context
    endpoint = resolve(stub.url, home=tmp_path, model="m")
    (result,) = _client(store, endpoint, max_retries=2).run([_request()])
    assert result.error_code == "request_rejected" and stub.requests == 1
    assert store.spent_today() == 0


def test_a_hosted_model_without_a_price_is_refused(tmp_path) -> None:
    from resources.llm.endpoints import EndpointError, require_price

    hosted = resolve("https://llm.example/v1", home=tmp_path, model="big-model")
    with pytest.raises(EndpointError, match="no price for model 'big-model'"):
        require_price(hosted, {})
    require_price(hosted, {"big-model": object()})
    # On this machine too: a local proxy may stand in front of a paid API.
    with pytest.raises(EndpointError, match="no price for model 'm'"):
        require_price(resolve("http://127.0.0.1:11434/v1", home=tmp_path, model="m"), {})
