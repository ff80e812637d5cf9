"""What an item leaves in episodic memory once it rests: the message itself, the triage
decision, the outcome (for a delivered reply: what we told them) and the owner's corrections,
each with the provenance of whatever produced it. Row ids are stable, so re-runs replace
rows instead of adding them."""

from typing import Any

from ops_assets.agents.agent_run import NOT_FOR_AGENTS, final_draft
from ops_assets.agents.quoting import reply_text_only
from ops_assets.governance.addresses import company_of
from ops_assets.quality.failures import HUMAN_CORRECTION
from resources.store import Store

MAX_TEXT = 2000


def episodes(st: Store, item: dict[str, Any], memory_run_id: str) -> list[dict[str, Any]]:
    sender = (item["sender"] or "").lower()
    base = {
        "item_id": item["id"],
        "batch": item["batch"] or "",
        "memory_run_id": memory_run_id,
        "contact": sender,
        "company": company_of(sender),
        "state": item["state"],
        "reason_code": item["reason_code"] or "",
        "category": item["category"] or "",
    }
    rows = [_outcome(st, item, base)]
    if item["state"] in NOT_FOR_AGENTS:
        return rows  # unusable or repeated input: only where it rests
    # What they wrote this time: the thread they quote is remembered where it was written.
    body = reply_text_only(item["body"] or "")[:MAX_TEXT]
    rows.append(
        {
            **base,
            "row_id": f"{item['id']}:item",
            "kind": "item",
            "asset": "intake",
            "run_id": "",
            "text": f"They wrote (subject: {item['subject'] or ''}):\n{body}",
            # When it reached us (the store's clock, UTC): `received_at` is the sender's claim.
            "created_at": item["created_at"],
        }
    )
    triage = st.get_output(item["id"], "triage")
    if triage is not None and triage["valid"] and triage["output"]:
        out = triage["output"]
        rows.append(
            {
                **base,
                **_provenance(triage),
                "row_id": f"{item['id']}:decision",
                "kind": "decision",
                "text": f"Triaged as {out['category']}: {out['summary']}",
            }
        )
    for failure in st.failures(item_id=item["id"]):
        if failure["kind"] != HUMAN_CORRECTION:
            continue
        said = failure["output"] or {}
        text = (
            f"The owner corrected our reply to: {said.get('corrected')}"
            if said.get("corrected")
            else f"The owner rejected our draft reply: {said.get('note') or failure['reason']}"
        )
        rows.append(
            {
                **base,
                "row_id": f"{item['id']}:correction:{failure['id']}",
                "kind": "correction",
                "asset": "operator",
                "run_id": failure["run_id"] or "",
                "prompt_version": failure["prompt_version"] or "",
                "model": failure["model"] or "",
                "text": text[:MAX_TEXT],
                "created_at": failure["at"],
            }
        )
    return rows


def _outcome(st: Store, item: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    source = None if item["state"] in NOT_FOR_AGENTS else final_draft(st, item["id"])
    if item["state"] == "delivered" and source is not None and source["output"]:
        text = f"We replied: {source['output']['body'][:MAX_TEXT]}"
    else:
        source = source or st.get_output(item["id"], "triage")
        reason = f" ({item['reason_code']})" if item["reason_code"] else ""
        text = f"Rests as {item['state']}{reason}."
    return {
        **base,
        **(_provenance(source) if source else {"asset": "intake", "run_id": ""}),
        "row_id": f"{item['id']}:outcome:{item['state']}",
        "kind": "outcome",
        "text": text,
        "created_at": item["updated_at"],
    }


def _provenance(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "asset": row["asset"],
        "run_id": row["run_id"] or "",
        "prompt_version": row["prompt_version"] or "",
        "model": row["model"] or "",
        "created_at": row["created_at"],
    }
