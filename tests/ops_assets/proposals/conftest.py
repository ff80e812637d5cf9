"""The proposals workflow on the scripted model: scripts for its four agents, a sales lead
that triage routed to the workflow (`triaged`, route `proposals`, as the sample config says),
and its assets in job order."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import SmtpSink, batch_assets, json_mail, write_config

from resources.llm.scripted import _field, script_proposal_verdicts

LEAD = (
    "Hi, we are a yoga studio and would like a quote for a new six page website with "
    "online class booking. What would it cost, and what do you need from us?"
)


def brief(text: str) -> dict[str, Any]:
    return {
        "client_name": _field(text, "From-Name")[:80],
        "company": "Greenleaf Yoga",
        "needs": ["six page website", "online class booking"],
        "budget_hint": "",
        "deadline_hint": "",
    }


def plan(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "steps": [
            {
                "kind": "question",
                "description": "Ask which payment provider the studio uses.",
                "success_criterion": "The proposal asks about the payment provider.",
            },
            {
                "kind": "scope",
                "description": "Six designed pages and a booking shop.",
                "success_criterion": "The scope lists the pages and the booking.",
            },
            {
                "kind": "timeline",
                "description": "A start date and a duration.",
                "success_criterion": "The proposal states when work starts.",
            },
            {
                "kind": "price_basis",
                "description": "Priced per page and per shop from the rate card.",
                "success_criterion": "Every line is priced per unit from the catalogue.",
            },
        ]
    }


def draft(**change: Any) -> dict[str, Any]:
    answer = {
        "title": "A new website with class booking for Greenleaf Yoga",
        "summary": "Six designed pages and online class booking, built on what you have.",
        "scope": [
            {"heading": "Pages", "text": "Home, classes, teachers, prices, contact and blog."},
            {"heading": "Booking", "text": "Online class booking with payment."},
        ],
        "lines": [
            {"code": "WEB-PAGE", "quantity": 6},
            {"code": "SHOP", "quantity": 1},
            {"code": "DISC", "quantity": 1},
        ],
        "start_in_days": 14,
        "duration_weeks": 6,
        "cover_mail": "Hi Meg,\n\nThank you for your enquiry. Please find our proposal attached; "
        "I am happy to walk you through it.",
    }
    answer.update(change)
    return answer


def is_revision(body: dict[str, Any]) -> bool:
    return any("A check of your proposal failed" in str(m["content"]) for m in body["messages"])


def scripts(
    drafter: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> tuple[dict, dict]:
    return (
        {"proposal_context": brief},
        {
            "proposal_plan": plan,
            "proposal_draft": drafter or (lambda body: draft()),
            "proposal_verdict": script_proposal_verdicts,
        },
    )


def proposal_assets() -> list:
    from ops_assets.defs.proposals.approval.assets import proposal_approval
    from ops_assets.defs.proposals.context.assets import proposal_context
    from ops_assets.defs.proposals.executor.assets import proposal_draft
    from ops_assets.defs.proposals.planner.assets import proposal_plan
    from ops_assets.defs.proposals.sending.assets import proposal_delivery
    from ops_assets.defs.proposals.verifier.assets import proposal_verdict

    return [
        proposal_context,
        proposal_plan,
        proposal_draft,
        proposal_verdict,
        proposal_approval,
        proposal_delivery,
    ]


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    with SmtpSink() as smtp:
        config = write_config(tmp_path / "config.yaml", smtp={"enabled": True, "port": smtp.port})
        monkeypatch.setenv("OPSBENCH_CONFIG", str(config))
        yield smtp


@pytest.fixture
def lead(bench, sink, tmp_path: Path):
    """Triage a sales mail (body as given); the item it routed to the proposals workflow."""

    def make(body: str = LEAD, name: str = "lead") -> dict:
        mail = json_mail(
            tmp_path / "mail",
            name,
            "Meg O'Connell <meg@greenleafyoga.example>",
            "Quote for a new website",
            body,
        )
        key = bench.intake([mail])
        bench.script()
        bench.materialize(batch_assets(), key)
        (item,) = [i for i in bench.store.items() if i["subject"] == "Quote for a new website"]
        assert (item["state"], item["route"]) == ("triaged", "proposals")
        return item

    return make


@pytest.fixture
def kit():
    """The scripts and assets above, for the tests (conftest is not importable by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(draft=draft, scripts=scripts, assets=proposal_assets)
