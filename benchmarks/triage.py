"""Triage quality and cost on the labelled evaluation set, four ways side by side in one run:
rules only, classifier only, model only, and the cascade (rules -> classifier -> model -> owner).

Run on purpose (`make benchmark-triage`), never in CI:

    python benchmarks/triage.py [--llm local|scripted|none] [--embedder local|hashing]
                                [--sample N] [--cascade-only] [--out FILE]

The classifier trains on the shipped seed set (ops_assets/defs/triage/seed_labels.jsonl) and is
scored on benchmarks/data/triage_eval.jsonl, which it never sees. `--llm local` starts this
run's own embedded model server (weights fetched once by resources.llm.weights.prepare);
`--llm scripted` is the keyword test double, for a quick run; `--llm none` leaves the model
column out (the cascade then hands every mail it would send to the model to the owner, so its
quality is a floor and its share without a model call is exact).

Scoring: a mail the rules let through in "rules only" counts as "other" (what is left when no
rule fires). A mail the cascade hands to the owner counts as wrong for its category (the owner
has to sort it) and is reported as `owner_share`. The cascade reuses the model-only column's
answers, so each mail is sent to the model once; the cascade's model time is those calls'.
CPU is this process's (with `--llm local` the model server's CPU is not in it; its wall time is).
Results go to benchmarks/results/triage.json.

Targets (issue 17): macro-F1 >= 0.85, spam recall >= 0.95 with no legitimate client mail
marked spam, at least half of the mail decided without a model call.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

EVAL = REPO / "benchmarks" / "data" / "triage_eval.jsonl"
OWNER = ["alex@northwind.example", "hello@northwind.example"]
LEGITIMATE_KINDS = {"client", "lead", "contact_form", "referral"}
UNDECIDED = "undecided"


def as_item(row: dict[str, Any]) -> dict[str, Any]:
    """An evaluation row in the shape of a stored work item."""
    return {
        "id": row["id"],
        "sender": row["from"],
        "sender_name": "",
        "subject": row["subject"],
        "body": row["body"],
        "headers": row.get("headers") or {},
        "flags": [],
        "kind": "email",
    }


def scores(truth: list[str], predicted: list[str]) -> dict[str, Any]:
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    from ops_assets.defs.triage.classifier import CATEGORIES

    labels = list(CATEGORIES)
    precision, recall, _, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    return {
        "macro_f1": round(float(f1_score(truth, predicted, labels=labels, average="macro")), 3),
        "per_category": {
            c: {"precision": round(float(p), 3), "recall": round(float(r), 3), "n": int(n)}
            for c, p, r, n in zip(labels, precision, recall, support, strict=True)
        },
    }


def column(
    rows: list[dict[str, Any]],
    predicted: list[str],
    *,
    without_model: int,
    cpu_s: float,
    wall_s: float,
    owner: int = 0,
) -> dict[str, Any]:
    truth = [r["category"] for r in rows]
    legit_as_spam = [
        r["id"]
        for r, p in zip(rows, predicted, strict=True)
        if p == "spam" and r["category"] != "spam" and r["kind"] in LEGITIMATE_KINDS
    ]
    n = len(rows)
    return {
        **scores(truth, predicted),
        "accuracy": round(sum(t == p for t, p in zip(truth, predicted, strict=True)) / n, 3),
        "legitimate_marked_spam": legit_as_spam,
        "share_without_model": round(without_model / n, 3),
        "owner_share": round(owner / n, 3),
        "cpu_ms_per_message": round(1000 * cpu_s / n, 2),
        "wall_ms_per_message": round(1000 * wall_s / n, 2),
    }


class Timer:
    def __enter__(self) -> "Timer":
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu_s = time.process_time() - self.cpu
        self.wall_s = time.perf_counter() - self.wall


def model_asker(spec: str, home: Path) -> tuple[Callable[[dict[str, Any]], str | None], Any]:
    """A function asking the triage prompt of one item, and the server to stop (or None)."""
    import httpx2
    import openai

    from ops_assets.defs.triage import prompt
    from ops_assets.defs.triage.contract import TriageResult
    from resources.llm.client import json_schema_for
    from resources.llm.endpoints import resolve
    from resources.settings.config import load_config

    server = None
    if spec == "local":
        from resources.llm import weights
        from resources.llm.local_server import ensure_server
        from resources.settings.home import Home

        server = ensure_server(Home(home), weights.prepare(), threads=2)
    config = load_config(REPO / "resources" / "settings" / "sample_config.yaml")
    endpoint = resolve(spec, home=home, model=None)
    http_client = None
    if endpoint.transport is not None:
        http_client = httpx2.Client(transport=endpoint.transport)  # type: ignore[arg-type]
    client = openai.OpenAI(
        base_url=endpoint.base_url,
        api_key=endpoint.api_key,
        timeout=300,
        http_client=http_client,  # type: ignore[arg-type]
    )
    schema = {"name": "triage", "strict": True, "schema": json_schema_for(TriageResult)}

    def ask(item: dict[str, Any]) -> str | None:
        response = client.chat.completions.create(
            model=endpoint.model,
            messages=prompt.messages(item, config),  # type: ignore[arg-type]
            response_format={"type": "json_schema", "json_schema": schema},  # type: ignore[typeddict-item]
            temperature=config.llm.temperature,
            max_tokens=config.llm.max_tokens,
        )
        try:
            return TriageResult.model_validate_json(
                response.choices[0].message.content or ""
            ).category
        except ValueError:
            return None

    return ask, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--llm", default="local", choices=["local", "scripted", "none"])
    parser.add_argument("--embedder", default="local", choices=["local", "hashing"])
    parser.add_argument(
        "--sample",
        type=int,
        default=0,
        help="about N rows, every k-th (all categories and languages keep their share)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "triage.json")
    parser.add_argument(
        "--cascade-only",
        action="store_true",
        help="ask the model only for the mails the cascade sends it (no model-only column)",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from ops_assets.defs.triage import cascade as cascade_module
    from ops_assets.defs.triage import classifier
    from ops_assets.defs.triage.rules import no_action_rule
    from resources.memory.embeddings import resolve

    rows = [json.loads(line) for line in EVAL.read_text().splitlines() if line.strip()]
    if args.sample and args.sample < len(rows):
        rows = rows[:: -(-len(rows) // args.sample)]
    items = [as_item(r) for r in rows]
    home = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    embedder = resolve(args.embedder, home=home)
    embedder.embed(["warm up"])  # loading torch is not the classifier's per-mail cost

    with Timer() as training:
        clf = classifier.train(embedder)
    results: dict[str, Any] = {}

    with Timer() as t:
        ruled = [no_action_rule(item, OWNER) for item in items]
    rule_pred = [(cascade_module.RULE_CATEGORY.get(r[0], "other") if r else "other") for r in ruled]
    results["rules"] = column(
        rows, rule_pred, without_model=len(rows), cpu_s=t.cpu_s, wall_s=t.wall_s
    )

    with Timer() as t:
        answers = clf.predict([classifier.item_text(i) for i in items], embedder)
    results["classifier"] = column(
        rows,
        [a[0] for a in answers],
        without_model=len(rows),
        cpu_s=t.cpu_s,
        wall_s=t.wall_s,
    )

    modelled: dict[str, str | None] = {}
    spent: dict[str, tuple[float, float]] = {}
    server, ask = None, None

    def ask_timed(item: dict[str, Any]) -> str | None:
        assert ask is not None
        with Timer() as one:
            modelled[item["id"]] = ask(item)
        spent[item["id"]] = (one.cpu_s, one.wall_s)
        if len(spent) % 20 == 0:
            print(f"model: {len(spent)} calls", file=sys.stderr, flush=True)
        return modelled[item["id"]]

    asked: list[str] = []

    def ask_model(pending: list[dict[str, Any]]) -> list[Any]:
        asked.extend(i["id"] for i in pending)
        if ask is None:
            return [None for _ in pending]
        return [modelled[i["id"]] if i["id"] in modelled else ask_timed(i) for i in pending]

    try:
        if args.llm != "none":
            ask, server = model_asker(args.llm, home)
        if ask is not None and not args.cascade_only:
            with Timer() as t:
                for item in items:
                    ask_timed(item)
            results["model"] = column(
                rows,
                [modelled[i["id"]] or UNDECIDED for i in items],
                without_model=0,
                cpu_s=t.cpu_s,
                wall_s=t.wall_s,
            )
        with Timer() as t:
            decisions = cascade_module.cascade(
                items,
                owner_addresses=OWNER,
                classify=lambda texts: clf.predict(texts, embedder),
                ask_model=ask_model,
            )
    finally:
        if server is not None and server.started:
            server.stop()
    model_cpu = sum(spent.get(i, (0.0, 0.0))[0] for i in asked)
    model_wall = sum(spent.get(i, (0.0, 0.0))[1] for i in asked)
    if args.cascade_only:  # its model calls ran inside its timer: counted once, below
        t.cpu_s, t.wall_s = t.cpu_s - model_cpu, t.wall_s - model_wall
    stages: dict[str, int] = {}
    for d in decisions:
        stages[d.stage] = stages.get(d.stage, 0) + 1
    results["cascade"] = column(
        rows,
        [d.category or UNDECIDED for d in decisions],
        without_model=sum(d.stage in ("rules", "classifier") for d in decisions),
        cpu_s=t.cpu_s + model_cpu,
        wall_s=t.wall_s + model_wall,
        owner=sum(d.stage == "owner" for d in decisions),
    )
    results["cascade"]["stages"] = stages
    # Per mail, what each stage read and who decided: where the cascade lost a mail, and why.
    results["cascade"]["decisions"] = {
        i["id"]: {
            "truth": r["category"],
            "stage": d.stage,
            "category": d.category,
            "classified": list(d.classified) if d.classified is not None else None,
            "modelled": modelled.get(i["id"]),
            "rule": d.rule,
            "risky": sorted(d.risky),
        }
        for i, r, d in zip(items, rows, decisions, strict=True)
    }
    results["cascade"]["sent_to_model"] = round(len(asked) / len(rows), 3)

    report = {
        "rows": len(rows),
        "languages": sorted({r["language"] for r in rows}),
        "embedder": embedder.name,
        "llm": args.llm,
        "model_column": args.llm != "none" and not args.cascade_only,
        "classifier_version": clf.version,
        "classifier_training_s": round(training.wall_s, 2),
        "confident": cascade_module.CONFIDENT,
        "columns": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"\nwritten to {args.out}")


def table(report: dict[str, Any]) -> str:
    """The columns side by side, as a Markdown table (the README's)."""
    columns = report["columns"]
    names = list(columns)
    lines = [
        f"{report['rows']} mails, embedder {report['embedder']}, model {report['llm']}",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]

    def row(label: str, value: Callable[[dict[str, Any]], Any]) -> None:
        lines.append(f"| {label} | " + " | ".join(str(value(columns[n])) for n in names) + " |")

    row("macro-F1", lambda c: c["macro_f1"])
    for category in columns[names[0]]["per_category"]:
        row(
            f"{category} P / R",
            lambda c, k=category: (
                f"{c['per_category'][k]['precision']} / {c['per_category'][k]['recall']}"
            ),
        )
    row("legitimate mail marked spam", lambda c: len(c["legitimate_marked_spam"]))
    row("decided without a model call", lambda c: c["share_without_model"])
    row("handed to the owner", lambda c: c["owner_share"])
    row("CPU ms / mail", lambda c: c["cpu_ms_per_message"])
    row("wall ms / mail", lambda c: c["wall_ms_per_message"])
    return "\n".join(lines)


if __name__ == "__main__":
    main()
