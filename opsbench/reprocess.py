"""Reprocessing: re-run an agent over past batches as a Dagster backfill, then diff its outputs.

`opsbench reprocess --agent AGENT [--since DATE | --batch KEY ...]` snapshots the outputs of the
agent (and the batch assets downstream of it) for the chosen batches, launches a backfill of
those partitions — through the running webserver's GraphQL API when `--ui URL` is given (the
daemon runs it), or in process when headless — waits for it, and writes the per-item diff
(changed fields, category flips) to `<home>/reports/reprocess/<id>/`. Unchanged requests come
from the call ledger at no cost; a delivered item whose output changes is never sent again:
it waits for the owner as a proposed correction (`keep_output`).
"""

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from resources.settings.home import Home
from resources.store import Store, now_iso
from resources.web.keys import ui_auth_headers

BATCH_ASSETS = ("triage", "reply_draft", "review")
# The reviewer only looks at new drafts: reprocessing drafts re-runs it for those that change.
AGENTS = ("triage", "reply_draft")
TAG = "opsbench/reprocess"
DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


class ReprocessError(Exception):
    """Nothing to reprocess, an unknown agent, or a backfill the server refused."""


@dataclass
class Reprocess:
    reprocess_id: str
    agent: str
    assets: list[str]
    batches: list[str]
    started_at: str
    before: list[dict[str, Any]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    backfill_id: str | None = None
    status: str = "started"


def plan(store: Store, agent: str, *, batches: list[str], since: str | None) -> Reprocess:
    if agent not in AGENTS:
        raise ReprocessError(f"reprocess works on {', '.join(AGENTS)}, not {agent!r}")
    known = store.batch_keys()
    chosen = batches or store.batch_keys(since=since)
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ReprocessError(f"no such batch: {', '.join(unknown)}")
    if not chosen:
        raise ReprocessError("no batch to reprocess" + (f" since {since}" if since else ""))
    assets = list(BATCH_ASSETS[BATCH_ASSETS.index(agent) :])
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    job = Reprocess(f"rp-{stamp}-{secrets.token_hex(3)}", agent, assets, chosen, now_iso())
    job.before = _outputs(store, chosen, assets)
    return job


def _outputs(store: Store, batches: list[str], assets: list[str]) -> list[dict[str, Any]]:
    rows = []
    for batch in batches:
        for item in store.items(batch=batch):
            for asset in assets:
                row = store.get_output(item["id"], asset)
                if row is not None:
                    rows.append(
                        {
                            "item_id": item["id"],
                            "asset": asset,
                            "output": row["output"],
                            "output_hash": row["output_hash"],
                            "prompt_version": row["prompt_version"],
                        }
                    )
    return rows


def run_in_process(job: Reprocess, home: Home) -> None:
    """Headless: one in-process run per batch partition, tagged as part of this reprocess."""
    import dagster as dg

    from location.definitions import defs
    from ops_assets.defs.jobs import BATCH_JOB
    from opsbench.headless import QUIET

    batch_job = defs.resolve_job_def(BATCH_JOB)
    failed = False
    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        for batch in job.batches:
            result = batch_job.execute_in_process(
                instance=instance,
                partition_key=batch,
                asset_selection=[dg.AssetKey(a) for a in job.assets],
                tags=_tags(job, batch),
                raise_on_error=False,
                run_config=QUIET,
            )
            job.runs.append(result.run_id)
            failed = failed or not result.success
    job.status = "COMPLETED_FAILED" if failed else "COMPLETED"


def run_backfill(job: Reprocess, ui_url: str, home: Home, *, timeout_s: float) -> None:
    """Live: a Dagster backfill through the webserver's GraphQL API, run by the daemon (the
    home's UI token says it is the owner asking)."""
    headers = ui_auth_headers(home.root)
    params = {
        "assetSelection": [{"path": [a]} for a in job.assets],
        "partitionNames": job.batches,
        "tags": [{"key": k, "value": v} for k, v in _tags(job, None).items()],
        "title": f"reprocess {job.agent}",
    }
    answer = _graphql(
        ui_url,
        headers,
        """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams:
        $params) { __typename ... on LaunchBackfillSuccess { backfillId }
        ... on Error { message } } }""",
        {"params": params},
    )["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise ReprocessError(f"the webserver refused the backfill: {answer.get('message')}")
    job.backfill_id = answer["backfillId"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = _graphql(
            ui_url,
            headers,
            """query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
            ... on PartitionBackfill { status runs { runId } } ... on Error { message } } }""",
            {"id": job.backfill_id},
        )["partitionBackfillOrError"]
        job.status = str(state.get("status") or state["__typename"])
        if job.status in DONE:
            job.runs = [r["runId"] for r in state.get("runs") or []]
            return
        time.sleep(1.0)
    raise ReprocessError(f"backfill {job.backfill_id} still {job.status} after {timeout_s:.0f}s")


def _tags(job: Reprocess, batch: str | None) -> dict[str, str]:
    tags = {TAG: job.reprocess_id, "opsbench/trigger": "reprocess", "opsbench/reason": job.agent}
    if batch is not None:
        tags["opsbench/batch"] = batch
    return tags


def _graphql(
    url: str, headers: dict[str, str], query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    endpoint = url.rstrip("/") + ("" if url.rstrip("/").endswith("/graphql") else "/graphql")
    import httpx

    # trust_env=False: the owner's server is on 127.0.0.1, never behind a proxy.
    with httpx.Client(timeout=30, trust_env=False) as client:
        response = client.post(
            endpoint, json={"query": query, "variables": variables}, headers=headers
        )
        if response.status_code >= 400:  # e.g. 401: the home's token was not accepted
            raise ReprocessError(f"the Dagster UI at {endpoint} answered {response.status_code}")
        body = response.json()
    if body.get("errors"):
        raise ReprocessError(f"GraphQL error: {body['errors'][0].get('message')}")
    return dict(body["data"])


def diff(job: Reprocess, store: Store) -> pd.DataFrame:
    """One row per item and asset whose output was there before: what changed."""
    rows = []
    for before in job.before:
        now = store.get_output(before["item_id"], before["asset"])
        after = (now or {}).get("output")
        old = before["output"] or {}
        fields = sorted(
            k for k in set(old) | set(after or {}) if old.get(k) != (after or {}).get(k)
        )
        item = store.get_item(before["item_id"]) or {}
        category_before = old.get("category") if before["asset"] == "triage" else None
        category_after = (after or {}).get("category") if before["asset"] == "triage" else None
        # Which stage of the cascade decided (rules, classifier, model, owner) before and now:
        # a retrained classifier shows here as decisions it takes over or gives back.
        stage_before = old.get("stage") if before["asset"] == "triage" else None
        stage_after = (after or {}).get("stage") if before["asset"] == "triage" else None
        rows.append(
            {
                "item_id": before["item_id"],
                "asset": before["asset"],
                "changed": (now or {}).get("output_hash") != before["output_hash"],
                "changed_fields": ",".join(fields),
                "category_before": category_before,
                "category_after": category_after,
                "category_flip": category_before != category_after,
                "stage_before": stage_before,
                "stage_after": stage_after,
                "prompt_before": before["prompt_version"],
                "prompt_after": (now or {}).get("prompt_version"),
                "state_now": item.get("state"),
                "reason_now": item.get("reason_code"),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "item_id", "asset", "changed", "changed_fields", "category_before",
            "category_after", "category_flip", "stage_before", "stage_after", "prompt_before",
            "prompt_after", "state_now", "reason_now",
        ],
    )  # fmt: skip


def summarize(job: Reprocess, store: Store, home: Home) -> dict[str, Any]:
    """Write the diff beside the home's reports and say what the reprocess did and cost."""
    table = diff(job, store)
    folder = home.reports / "reprocess" / job.reprocess_id
    folder.mkdir(parents=True, exist_ok=True)
    table.to_parquet(folder / "diff.parquet", index=False)
    spent = store.call_totals_for_runs(job.runs)  # this reprocess's runs, nobody else's
    summary = {
        "reprocess_id": job.reprocess_id,
        "agent": job.agent,
        "assets": job.assets,
        "batches": job.batches,
        "backfill_id": job.backfill_id,
        "status": job.status,
        "runs": job.runs,
        "model_calls": spent["model_calls"],
        "cache_hits": spent["cache_hits"],
        "cost_usd": spent["cost_usd"],
        "outputs": len(table),
        "changed": int(table["changed"].sum()),
        "category_flips": int(table["category_flip"].sum()),
        "proposed_corrections": int(
            table.loc[table["reason_now"] == "proposed_correction", "item_id"].nunique()
        ),
        "diff": table[table["changed"]].to_dict("records"),
        "diff_file": str(folder / "diff.parquet"),
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
