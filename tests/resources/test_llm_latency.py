"""The wall time of each paid model call, against a real HTTP server on 127.0.0.1 that takes
its time: recorded in the ledger, absent for a cache hit, summarised per agent (status, the
desk's overview) and per batch (the agent assets' materialization metadata)."""

import pytest
from pydantic import BaseModel

from ops_assets.agents.agent_run import latency_metadata
from opsbench.desk.overview import overview
from opsbench.status import model_call_latency
from resources.llm.client import CallRequest, ModelClient, Prices
from resources.llm.endpoints import resolve
from resources.llm.stub_server import StubServer
from resources.settings.config import load_config
from resources.store import Store


class Answer(BaseModel):
    category: str


def _client(store: Store, endpoint) -> ModelClient:  # type: ignore[no-untyped-def]
    return ModelClient(
        endpoint=endpoint,
        store=store,
        prices=Prices(1.0, 2.0),
        max_tokens=50,
        temperature=0.0,
        daily_budget_usd=10.0,
        concurrency=1,
    )


def _request(n: int) -> CallRequest:
    return CallRequest("triage", f"itm_{n}", [{"role": "user", "content": f"q{n}"}], Answer, "v1")


def test_paid_calls_record_their_wall_time_and_cache_hits_none(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    with StubServer(latency_s=0.25) as stub:
        stub.scripted.scripts["triage"] = lambda text: {"category": "support"}
        endpoint = resolve(stub.url, home=tmp_path, model="m", scripted=None)
        paid = _client(store, endpoint).run([_request(0), _request(1)])
        again = _client(store, endpoint).run([_request(0)])
    assert all(r.latency_ms is not None and r.latency_ms >= 250 for r in paid)
    assert again[0].cached and again[0].latency_ms is None
    calls, _uses = store.ledger()
    assert sorted(c["latency_ms"] for c in calls) == sorted(r.latency_ms for r in paid)

    # Per agent: two measured calls (the cache hit adds none), in status and the overview.
    latency = model_call_latency(store)
    assert list(latency) == ["triage"] and latency["triage"]["calls"] == 2
    assert 250 <= latency["triage"]["p50_ms"] <= latency["triage"]["p95_ms"]
    assert overview(store, load_config())["model_latency"] == latency

    # Per batch: what the agent assets put in their metadata.
    metadata = latency_metadata([*paid, *again])
    assert metadata["model_call_latency_p50_ms"] == min(r.latency_ms for r in paid)
    assert metadata["model_call_latency_p95_ms"] == max(r.latency_ms for r in paid)
    assert latency_metadata(again) == {
        "model_call_latency_p50_ms": None,
        "model_call_latency_p95_ms": None,
    }


@pytest.mark.parametrize("values", [[5], [1, 2, 3, 4, 100]])
def test_percentiles_are_nearest_rank(values: list[int]) -> None:
    from resources.llm.latency import summary

    found = summary(values)
    assert found is not None and found["calls"] == len(values)
    assert found["p50_ms"] == sorted(values)[round(0.5 * (len(values) - 1))]
    assert found["p95_ms"] == max(values)
