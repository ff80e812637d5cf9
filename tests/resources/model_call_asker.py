"""One process asking a stub server the same N requests, for the cross-process claim tests:
`python model_call_asker.py STORE_URL BASE_URL N CONCURRENCY CLAIM_TTL_S`. Prints one line per
answer (`ok <item>` or `error <item> <code>`) and exits 0."""

import sys
from pathlib import Path

from pydantic import BaseModel

from resources.llm.client import CallRequest, ModelClient, Prices
from resources.llm.endpoints import resolve
from resources.store import Store


class Answer(BaseModel):
    category: str


def requests(n: int) -> list[CallRequest]:
    return [
        CallRequest("answer", f"i{k}", [{"role": "user", "content": f"q {k}"}], Answer, "v1")
        for k in range(n)
    ]


def main(store_url: str, base_url: str, n: int, concurrency: int, claim_ttl_s: float) -> None:
    client = ModelClient(
        endpoint=resolve(base_url, home=Path("."), model="m"),
        store=Store(store_url),
        prices=Prices(1.0, 2.0),
        max_tokens=50,
        temperature=0.0,
        daily_budget_usd=10.0,
        concurrency=concurrency,
        claim_ttl_s=claim_ttl_s,
    )
    for result in client.run(requests(n)):
        line = (
            f"ok {result.item_id}" if result.ok else f"error {result.item_id} {result.error_code}"
        )
        print(line, flush=True)


if __name__ == "__main__":
    url, base, n, concurrency, ttl = sys.argv[1:6]
    main(url, base, int(n), int(concurrency), float(ttl))
