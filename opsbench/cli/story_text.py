"""`opsbench show ITEM` for a person: the item, what each agent said, its proposal (plan,
versions, the verifier's rows, the diff), its deliveries and its audit trail, as text.

--json prints the same story as one record; this is the reading of it, so every section
comes from that record and nothing here queries the store."""

from typing import Any

ORIGINAL_LINES = 40
"""Enough of the original mail to recognise it; the whole file is in --json and on disk."""


def render(story: dict[str, Any]) -> str:
    sections = [
        _item(story["item"]),
        _original(story.get("original")),
        _outputs(story["outputs"]),
        _proposal(story.get("proposal")),
        _deliveries(story["deliveries"]),
        _audit(story["audit"]),
    ]
    return "\n\n".join(s for s in sections if s)


def _item(item: dict[str, Any]) -> str:
    lines = [
        f"{item['id']}  {item['state']}"
        + (f" / {item['reason_code']}" if item["reason_code"] else ""),
        f"  from     {item['sender'] or '-'}",
        f"  subject  {item['subject'] or '-'}",
        f"  category {item['category'] or '-'}   source {item['source']}   batch {item['batch']}",
    ]
    if item["reason"]:
        lines.append(f"  why      {item['reason']}")
    if item["duplicate_of"]:
        lines.append(f"  duplicate of {item['duplicate_of']}")
    return "\n".join(lines)


def _original(text: str | None) -> str:
    if text is None:
        return "original: not on disk (erased or never kept)"
    lines = text.splitlines()
    shown = [f"  | {line}" for line in lines[:ORIGINAL_LINES]]
    if len(lines) > ORIGINAL_LINES:
        shown.append(f"  | … {len(lines) - ORIGINAL_LINES} more lines (--json has them all)")
    return "\n".join(["original:", *shown])


def _outputs(outputs: dict[str, dict[str, Any]]) -> str:
    if not outputs:
        return "outputs: none yet"
    lines = ["outputs:"]
    for asset, o in outputs.items():
        cost = f"${o['cost_usd']:.6f}" if o["cost_usd"] is not None else "-"
        verdict = "valid" if o["valid"] else f"INVALID {o['failure'] or ''}".rstrip()
        cached = " cached" if o["cached"] else ""
        lines.append(
            f"  {asset:<16} {verdict}  {o['model'] or '-'} {o['prompt_version']}{cached} {cost}"
        )
        for key, value in _fields(o["output"]):
            lines.append(f"      {key}: {value}")
    return "\n".join(lines)


def _fields(output: Any) -> list[tuple[str, str]]:
    """An agent's output one field a line; long text folded to its first line."""
    if not isinstance(output, dict):
        return [] if output is None else [("value", _short(output))]
    return [(str(k), _short(v)) for k, v in output.items() if v not in (None, "", [], {})]


def _short(value: Any, width: int = 160) -> str:
    text = str(value).strip()
    first = text.splitlines()[0] if text else ""
    more = len(first) > width or first != text
    return first[:width] + (" …" if more else "")


def _proposal(proposal: dict[str, Any] | None) -> str:
    if proposal is None:
        return ""
    lines = ["proposal plan:"]
    lines += [
        f"  {s['step']}. [{s['kind']}] {s['description']}\n       criterion: {s['criterion']}"
        for s in proposal["plan"]
    ]
    for v in proposal["versions"]:
        head = f"version {v['version']}  {v['status']}  {v['title']}  {v['total']} {v['currency']}"
        if v["reason_code"]:
            head += f"  ({v['reason_code']})"
        if v["revises"]:
            head += f"  revises {v['revises']}"
        lines += ["", head]
        lines += [
            f"  {line['code']:<12} {line['quantity']} x {line['unit_price']} = {line['amount']}"
            for line in v["lines"]
        ]
        lines += [
            f"  check {'pass' if c['passed'] else 'FAIL'} {c['kind']}:{c['name']}"
            + (f" — {c['evidence']}" if c["evidence"] else "")
            for c in v["checks"]
        ]
        if v["diff"]:
            lines += ["  diff:", *(f"    {d}" for d in v["diff"].splitlines())]
    return "\n".join(lines)


def _deliveries(deliveries: list[dict[str, Any]]) -> str:
    if not deliveries:
        return "deliveries: none"
    return "\n".join(
        ["deliveries:"]
        + [
            f"  {d['id']}  {d['purpose']} to {d['destination']} by {d['connector']}: "
            f"{d['state']} {d['receipt'] or ''}".rstrip()
            for d in deliveries
        ]
    )


def _audit(audit: list[dict[str, Any]]) -> str:
    return "\n".join(
        ["audit:"]
        + [f"  {e['at']} {e['actor']}: {e['event']} {e['detail'] or ''}".rstrip() for e in audit]
    )
