"""The proposals workflow end to end on the real embedded model: the sample sales lead is
triaged to the workflow, briefed, planned, drafted from the catalogue and verified by the
local model (llama.cpp behind the `openai` client), and rests waiting for the owner with a
plan and a proposal that passed their suites — the prices set by code, never by the model."""

import json
import shutil
import subprocess

import pytest
from support import OPSBENCH, SAMPLES

from resources.llm.endpoints import LOCAL_MODEL
from resources.settings.config import SAMPLE_CONFIG
from resources.store import Store
from resources.store import proposals as rows

pytestmark = pytest.mark.slow

LEAD = "sales-quote-request.eml"


def test_local_model_turns_the_sample_lead_into_a_proposal_for_the_owner(
    tmp_path, local_model, monkeypatch
) -> None:
    from decimal import Decimal

    from ops_assets.defs.proposals.catalogue import SAMPLE_CATALOGUE, load_catalogue, money

    url, key = local_model
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy2(SAMPLES / LEAD, inbox / LEAD)
    config = tmp_path / "one-at-a-time.yaml"
    config.write_text(SAMPLE_CONFIG.read_text().replace("model_calls: null ", "model_calls: 1 "))
    monkeypatch.setenv("OPSBENCH_MODEL", LOCAL_MODEL)
    monkeypatch.setenv("OPSBENCH_API_KEY", key)
    home = tmp_path / "home"
    where = ["--inbox", str(inbox), "--home", str(home), "--config", str(config)]
    done = subprocess.run(
        [*OPSBENCH, "demo", *where, "--llm", url, "--json"],
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["live_calls"] > 0

    store = Store(f"sqlite:///{home / 'store.sqlite'}")
    try:
        (lead,) = store.items()
        assert lead["route"] == "proposals"
        assert lead["state"] == "awaiting_approval", (lead["reason_code"], lead["reason"])
        plan = rows.plan(store, lead["id"])
        assert 3 <= len(plan) <= 7 and all(step["criterion"] for step in plan)
        version = rows.latest(store, lead["id"])
        assert version is not None and version["status"] == "awaiting_approval"
        checks = rows.checks_for(store, lead["id"], version["version"])
        assert checks and all(c["passed"] for c in checks), [
            (c["name"], c["evidence"]) for c in checks if not c["passed"]
        ]
        catalogue = load_catalogue(SAMPLE_CATALOGUE)
        assert version["lines"]
        for line in version["lines"]:
            service = catalogue.service(line["code"])
            assert service is not None  # a code of the rate card
            assert Decimal(line["unit_price"]) == money(service.unit_price)  # by code
            assert Decimal(line["amount"]) == money(service.unit_price * line["quantity"])
        total = sum(Decimal(line["amount"]) for line in version["lines"])
        assert money(Decimal(str(version["total"]))) == money(total)
    finally:
        store.close()
