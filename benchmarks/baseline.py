"""The plain loop the pipeline is measured against: asyncio and the `openai` client, nothing else.

Each item makes the pipeline's three calls in order — triage, then a draft, then a review of
that draft — with the same response schemas, so the stub answers them as it answers the
pipeline, and each answer is parsed as JSON (the least any caller does). At most C items are
in flight at once. What this costs in CPU is the model client's own share; what the pipeline
spends beyond it is orchestration.
"""

import asyncio
import json
from typing import Any

EMAIL = "<<<UNTRUSTED_EMAIL\n{}\nUNTRUSTED_EMAIL>>>"
DRAFT = "<<<DRAFT_REPLY\n{}\nDRAFT_REPLY>>>"


def _schema(name: str) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": {"type": "object"}, "strict": True},
    }


def mail_text(n: int) -> str:
    """The text of the benchmark's n-th mail, as benchmarks/throughput.py writes it."""
    return (
        f"From: client{n}@customer{n % 50}.example\n"
        f"Subject: Cannot log in to the dashboard ({n})\n\n"
        f"Hello, I cannot log in since this morning, error {n}. Please help."
    )


async def _call(client: Any, model: str, schema: str, system: str, user: str) -> dict[str, Any]:
    answer = await client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        response_format=_schema(schema),
        temperature=0,
    )
    parsed: dict[str, Any] = json.loads(answer.choices[0].message.content or "{}")
    return parsed


async def _item(client: Any, model: str, n: int, gate: asyncio.Semaphore) -> bool:
    async with gate:
        mail = EMAIL.format(mail_text(n))
        triage = await _call(client, model, "triage", "Classify this mail.", mail)
        draft = await _call(
            client, model, "reply_draft", f"Draft a {triage['category']} reply.", mail
        )
        review = await _call(
            client, model, "review", "Review this draft.", mail + "\n" + DRAFT.format(draft["body"])
        )
        return bool(review["verdict"] == "pass")


async def run(base_url: str, items: int, concurrency: int, model: str = "stub") -> int:
    """Process `items` mails, at most `concurrency` at once; returns how many passed review."""
    import openai

    gate = asyncio.Semaphore(concurrency)
    async with openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0) as client:
        done = await asyncio.gather(*(_item(client, model, n, gate) for n in range(items)))
    return sum(done)
