"""Prompt regression: replay the failures dataset and a golden set against a candidate prompt.

`opsbench prompts test AGENT [--prompt FILE]` runs every case through the current prompt and
the candidate on the configured model (the current version's answers come from the call ledger
at no cost), judges both with the agent's own rules, and names the cases that regress.
"""

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from ops_assets.agents.agent_run import RETRYABLE
from ops_assets.agents.context import recorded_context
from ops_assets.agents.prompting import NOTHING_ON_RECORD, prompt_version
from ops_assets.defs.reply_draft.compose import strip_sign_off
from ops_assets.quality.suites import validate
from resources.llm.client import CallRequest, ModelClient
from resources.memory import Memory
from resources.settings.config import Config
from resources.store import Store

AGENTS = ("triage", "reply_draft")


class RegressionError(Exception):
    """An unknown agent or an unreadable candidate prompt; the message says which."""


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str
    version: str


@dataclass(frozen=True)
class Case:
    case_id: str
    item: dict[str, Any]
    triage: dict[str, Any] | None = None
    expect: dict[str, Any] = field(default_factory=dict)
    memory: str = NOTHING_ON_RECORD
    """The memory the agent's prompt carried for this item (so the current prompt's request
    is the one in the ledger)."""


@dataclass
class Report:
    agent: str
    current: str
    candidate: str
    cases: int
    current_passed: int
    candidate_passed: int
    regressions: dict[str, str]
    """Case id -> why the candidate fails where the current prompt passed."""
    improvements: list[str]
    not_run: dict[str, str] = field(default_factory=dict)
    """Case id -> why no answer came (model down, budget, kill switch): left out of the
    comparison, never counted as a regression."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "current": {"version": self.current, "passed": self.current_passed},
            "candidate": {"version": self.candidate, "passed": self.candidate_passed},
            "cases": self.cases,
            "regressions": self.regressions,
            "improvements": self.improvements,
            "not_run": self.not_run,
        }

    def text(self) -> str:
        lines = [
            f"prompts test {self.agent}: {self.cases} cases",
            f"  current   {self.current}: {self.current_passed}/{self.cases} pass",
            f"  candidate {self.candidate}: {self.candidate_passed}/{self.cases} pass",
        ]
        for case_id, why in sorted(self.regressions.items()):
            lines.append(f"  REGRESSES {case_id}: {why}")
        lines += [f"  improves  {case_id}" for case_id in self.improvements]
        lines += [f"  NOT RUN   {case_id}: {why}" for case_id, why in sorted(self.not_run.items())]
        return "\n".join(lines)


def _module(agent: str, name: str) -> Any:
    if agent not in AGENTS:
        raise RegressionError(f"no prompt regression for agent {agent!r} (one of {AGENTS})")
    return importlib.import_module(f"ops_assets.defs.{agent}.{name}")


def current_prompt(agent: str) -> Prompt:
    module = _module(agent, "prompt")
    return Prompt(module.SYSTEM, module.USER, module.VERSION)


def load_candidate(agent: str, path: Path | None) -> Prompt:
    """A YAML file with `system` and/or `user` templates, or a text file (the system prompt).
    What it leaves out stays as in the current prompt."""
    current = current_prompt(agent)
    if path is None:
        return current
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegressionError(f"cannot read candidate prompt {path}: {exc}") from exc
    parts: dict[str, str] = {"system": text}
    if path.suffix in (".yaml", ".yml"):
        loaded = yaml.safe_load(text)
        if not isinstance(loaded, dict) or not set(loaded) <= {"system", "user"}:
            raise RegressionError(f"{path}: expected a mapping with `system` and/or `user`")
        parts = {k: str(v) for k, v in loaded.items()}
    system, user = parts.get("system", current.system), parts.get("user", current.user)
    schema = _module(agent, "contract")
    contract = next(v for v in vars(schema).values() if _is_contract(v))
    return Prompt(system, user, prompt_version(agent, system, user, schema=contract))


def _is_contract(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel


def cases(agent: str, store: Store, memory: Memory | None = None) -> list[Case]:
    """The golden set beside the agent, then every item of the failures dataset still stored."""
    golden_file = Path(_module(agent, "prompt").__file__).with_name("golden.yaml")
    found = [
        Case(
            f"golden:{entry['id']}",
            {"id": f"golden:{entry['id']}", "reply_to": None, **entry},
            entry.get("triage"),
            entry.get("expect") or {},
        )
        for entry in yaml.safe_load(golden_file.read_text(encoding="utf-8"))
    ]
    seen: set[str] = set()
    for failure in store.failures(agent=agent):
        item_id = failure["item_id"]
        item = store.get_item(item_id) if item_id else None
        if item is None or item_id in seen:
            continue  # erased or already a case
        triage = store.get_output(item_id, "triage")
        if agent != "triage" and (triage is None or not triage["valid"]):
            continue
        seen.add(item_id)
        recorded = recorded_context(store, memory, item_id, agent) if memory else None
        found.append(
            Case(
                item_id,
                item,
                triage["output"] if triage else None,
                memory=recorded.render() if recorded else NOTHING_ON_RECORD,
            )
        )
    return found


def run(
    agent: str,
    candidate: Prompt,
    store: Store,
    config: Config,
    client: ModelClient,
    memory: Memory | None = None,
) -> Report:
    current = current_prompt(agent)
    all_cases = cases(agent, store, memory)
    verdicts = {
        prompt.version: _judge(
            agent, all_cases, _answers(agent, prompt, all_cases, config, client), config
        )
        for prompt in (current, candidate)
    }
    before, after = verdicts[current.version], verdicts[candidate.version]
    not_run = {
        c.case_id: str(v[c.case_id])
        for v in (before, after)
        for c in all_cases
        if str(v[c.case_id]) in RETRYABLE
    }
    all_cases = [c for c in all_cases if c.case_id not in not_run]
    return Report(
        agent=agent,
        current=current.version,
        candidate=candidate.version,
        cases=len(all_cases),
        not_run=not_run,
        current_passed=sum(1 for c in all_cases if before[c.case_id] is None),
        candidate_passed=sum(1 for c in all_cases if after[c.case_id] is None),
        regressions={
            c.case_id: str(after[c.case_id])
            for c in all_cases
            if before[c.case_id] is None and after[c.case_id] is not None
        },
        improvements=[
            c.case_id
            for c in all_cases
            if before[c.case_id] is not None and after[c.case_id] is None
        ],
    )


def _answers(
    agent: str, prompt: Prompt, all_cases: list[Case], config: Config, client: ModelClient
) -> list[Any]:
    module, contract = _module(agent, "prompt"), _module(agent, "contract")
    schema = next(v for v in vars(contract).values() if _is_contract(v))
    requests = []
    for case in all_cases:
        if agent == "triage":
            messages = module.messages(case.item, config, system=prompt.system, user=prompt.user)
        else:
            messages = module.messages(
                case.item,
                case.triage or {},
                config,
                system=prompt.system,
                user=prompt.user,
                memory=case.memory,
            )
        requests.append(CallRequest(agent, case.item["id"], messages, schema, prompt.version))
    return client.run(requests)


def _judge(
    agent: str, all_cases: list[Case], results: list[Any], config: Config
) -> dict[str, str | None]:
    """Case id -> None when it passes, else the first reason it fails."""
    rules = _module(agent, "expectations")
    verdicts: dict[str, str | None] = {}
    rows = []
    for case, result in zip(all_cases, results, strict=True):
        if result.output is None:
            verdicts[case.case_id] = result.error_code or "no_answer"
            continue
        output = result.output.model_dump()
        if agent == "triage":
            output["urgency"] = "normal"
            expected = case.expect.get("category")
            if expected and output["category"] != expected:
                verdicts[case.case_id] = f"category {output['category']} != {expected}"
                continue
            rows.append(rules.row(case.case_id, output))
        else:
            # Judged as production judges it: after the persona's sign-off replaces the model's.
            rows.append(rules.row(case.case_id, strip_sign_off(output["body"], config.identity)))
        verdicts[case.case_id] = None
    suite_rules = rules.rules() if agent == "triage" else rules.rules(config.quality)
    outcome = validate(f"{agent}_prompts_test", rows, suite_rules)
    for case_id, reasons in outcome.failing.items():
        verdicts[case_id] = reasons[0]
    return verdicts
