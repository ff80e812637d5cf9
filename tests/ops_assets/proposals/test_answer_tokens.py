"""Every proposals agent may be paid for its longest valid answer: a contract whose bounds
allow more than the call's max_tokens gets a JSON cut off mid-string (schema_invalid), as
the embedded model's proposal drafts were at the global 400 tokens."""

from typing import Any

import pytest
from pydantic import BaseModel

from ops_assets.defs.proposals.context.contract import LeadBrief
from ops_assets.defs.proposals.executor.contract import ProposalDraft
from ops_assets.defs.proposals.planner.contract import Plan
from ops_assets.defs.proposals.replies.contract import ClientAnswer
from ops_assets.defs.proposals.verifier.contract import CriterionVerdicts
from ops_assets.defs.proposals.workflow import PROPOSALS

CONTRACTS: dict[str, type[BaseModel]] = {
    "proposal_answer": ClientAnswer,
    "proposal_context": LeadBrief,
    "proposal_plan": Plan,
    "proposal_draft": ProposalDraft,
    "proposal_verdict": CriterionVerdicts,
}
CHARS_PER_TOKEN = 3  # JSON punctuation and short words: fewer than English prose's four


def longest_json(schema: dict[str, Any], defs: dict[str, Any]) -> int:
    """Characters of the longest JSON the schema admits; every string and list must be
    bounded (an unbounded one is what lets a small model ramble until it is cut off)."""
    if "$ref" in schema:
        return longest_json(defs[schema["$ref"].split("/")[-1]], defs)
    if "anyOf" in schema:
        return max(longest_json(s, defs) for s in schema["anyOf"])
    if "enum" in schema:
        return max(len(str(v)) + 2 for v in schema["enum"])
    if "const" in schema:
        return len(str(schema["const"])) + 2
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return 2 + sum(len(k) + 4 + longest_json(v, defs) for k, v in props.items())
    if kind == "array":
        assert "maxItems" in schema, f"an unbounded list: {schema}"
        return 2 + schema["maxItems"] * (longest_json(schema["items"], defs) + 2)
    if kind == "string":
        assert "maxLength" in schema, f"an unbounded string: {schema}"
        return schema["maxLength"] + 2
    return {"integer": 6, "number": 12, "boolean": 5, "null": 4}[kind]


@pytest.mark.parametrize("agent", sorted(CONTRACTS))
def test_each_agent_is_given_the_tokens_its_longest_answer_needs(agent) -> None:
    schema = CONTRACTS[agent].model_json_schema()
    longest = longest_json(schema, schema.get("$defs", {}))
    assert agent in PROPOSALS.agents
    assert PROPOSALS.answer_tokens[agent] * CHARS_PER_TOKEN >= longest, longest


def test_the_client_is_given_them_unless_the_config_says_otherwise(
    bench, monkeypatch, tmp_path
) -> None:
    import yaml

    from resources.settings.config import SAMPLE_CONFIG

    llm = bench.resources["llm"]
    needs = PROPOSALS.answer_tokens["proposal_draft"]
    assert llm.max_tokens("proposal_draft", "large", needs) == needs
    assert llm.max_tokens("triage", None, None) == 400  # the sample's llm.max_tokens
    assert llm.max_tokens("proposal_context", "small", 10) == 400  # never below it

    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["llm"]["models"] = {"proposal_draft": {"max_tokens": 900}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("OPSBENCH_CONFIG", str(path))
    assert llm.max_tokens("proposal_draft", "large", needs) == 900
