"""Model calls through the `openai` client, with the call ledger as a content-addressed cache.

Order for every call: look up the ledger (a hit costs nothing); otherwise reserve the worst
case against the daily budget, call, store response and cost, then use the answer. A crash
after the store keeps what was paid for; a crash before it released nothing that was spent.

Every HTTP attempt is reserved on its own (the SDK's own retries are off; ours reserve again
for each), and an attempt the server may have billed — it timed out or the connection broke
after the request left — stays counted at its worst case, as does an answer without `usage`.
Only an error answer from the server, or a request that never left, releases its reservation.

A request missing from the ledger is claimed in the store before it is paid for: another
asker — a thread, a process, the UI beside a sensor run — waits for the answer to land in the
ledger instead of paying again, and takes the claim over if its owner died (same host, pid
gone) or stopped renewing it (`claim_ttl_s`).
"""

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import openai
from pydantic import BaseModel, ValidationError

from resources.llm.endpoints import Endpoint
from resources.llm.hashing import canonical_json, request_hash
from resources.llm.replay import Recorder
from resources.store import BudgetExhausted, Store
from resources.store.call_claims import Asker


@dataclass(frozen=True)
class Prices:
    """USD per million tokens."""

    input: float = 0.0
    output: float = 0.0

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input + tokens_out * self.output) / 1_000_000


@dataclass(frozen=True)
class CallRequest:
    agent: str
    item_id: str
    messages: list[dict[str, str]]
    schema: type[BaseModel]
    prompt_version: str


@dataclass
class CallResult:
    item_id: str
    request_hash: str
    output: BaseModel | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    error_code: str | None = None
    error: str | None = None
    model: str = ""
    latency_ms: int | None = None
    """Wall time of the paid call; None for an answer from the ledger."""

    @property
    def ok(self) -> bool:
        return self.output is not None


def json_schema_for(schema: type[BaseModel]) -> dict[str, Any]:
    """The pydantic schema in the strict shape OpenAI-compatible servers enforce."""
    body = schema.model_json_schema()
    body["additionalProperties"] = False
    body["required"] = list(body.get("properties", {}))
    return body


@dataclass
class ModelClient:
    endpoint: Endpoint
    store: Store
    prices: Prices
    max_tokens: int
    temperature: float
    daily_budget_usd: float
    concurrency: int
    workflow_budget_usd: float | None = None
    # Degradation when a budget is spent: this model and its prices, if its worst case fits.
    cheaper: tuple[str, Prices] | None = None
    run_id: str | None = None
    asset: str | None = None
    recorder: Recorder | None = None
    timeout_s: float = 120.0
    max_retries: int = 2
    retry_backoff_s: float = 0.5
    # A claim lasts this long unless its owner renews it (every third of it, while the call
    # runs); a waiter polls the ledger every `claim_poll_s`.
    claim_ttl_s: float = 30.0
    claim_poll_s: float = 0.1

    def _openai(self) -> openai.AsyncOpenAI:
        import httpx2

        http_client = None
        if self.endpoint.transport is not None:
            http_client = httpx2.AsyncClient(transport=self.endpoint.transport)
        return openai.AsyncOpenAI(
            base_url=self.endpoint.base_url,
            api_key=self.endpoint.api_key,
            timeout=self.timeout_s,
            max_retries=0,  # retries are ours: each attempt under its own reservation
            http_client=http_client,
        )

    def body_for(self, request: CallRequest) -> dict[str, Any]:
        return {
            "model": self.endpoint.model,
            "messages": request.messages,
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": request.agent,
                    "strict": True,
                    "schema": json_schema_for(request.schema),
                },
            },
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def run(self, requests: Sequence[CallRequest]) -> list[CallResult]:
        """All requests with bounded concurrency; results in the same order."""
        if not requests:
            return []
        return asyncio.run(self._run_all(requests))

    async def _run_all(self, requests: Sequence[CallRequest]) -> list[CallResult]:
        limit = asyncio.Semaphore(self.concurrency)
        # Identical requests in one run wait for the first: it pays, they read the ledger.
        same_request: dict[str, asyncio.Lock] = {}
        client = self._openai()
        try:

            async def one(request: CallRequest) -> CallResult:
                key = request_hash(self.body_for(request))
                async with same_request.setdefault(key, asyncio.Lock()), limit:
                    return await self._call(client, request)

            return list(await asyncio.gather(*(one(r) for r in requests)))
        finally:
            await client.close()

    async def _call(self, client: openai.AsyncOpenAI, request: CallRequest) -> CallResult:
        body = self.body_for(request)
        result = CallResult(
            item_id=request.item_id, request_hash=request_hash(body), model=body["model"]
        )
        if self.store.kill_switch_on():
            # Checked before every call: a kill stops a running batch at its next call.
            result.error_code, result.error = "kill_switch", "the kill switch is on"
            return result
        try:
            response = await self._answer(client, request, body, self.prices, result)
        except BudgetExhausted as exc:
            if self.cheaper is None or self.cheaper[0] == body["model"]:
                result.error_code, result.error = "budget_exhausted", str(exc)
                return result
            # Degrade as the policy says: the same request on the cheaper model.
            body["model"], prices = self.cheaper
            result.request_hash, result.model = request_hash(body), body["model"]
            try:
                response = await self._answer(client, request, body, prices, result)
            except BudgetExhausted as again:
                result.error_code, result.error = "budget_exhausted", str(again)
                return result
        if response is None:
            return result
        self.store.record_use(
            result.request_hash,
            item_id=request.item_id,
            run_id=self.run_id,
            asset=self.asset,
            cached=result.cached,
        )
        if self.recorder is not None:
            self.recorder.record(result.request_hash, result.model, response)
        self._parse(response, request.schema, result)
        return result

    async def _answer(
        self,
        client: openai.AsyncOpenAI,
        request: CallRequest,
        body: dict[str, Any],
        prices: Prices,
        result: CallResult,
    ) -> dict[str, Any] | None:
        """The ledger's answer, else a paid one; None with the error set in `result`.
        Raises BudgetExhausted when not even the first attempt fits the budget."""
        response = self._from_ledger(result)
        if response is not None:
            return response
        asker, key = Asker.current(), result.request_hash
        if not await self._claim(asker, result):
            return self._from_ledger(result) if result.error_code is None else None
        heartbeat = asyncio.create_task(self._renew(asker, key))
        try:
            # Answered by another asker between our miss and our claim: nothing to pay.
            return self._from_ledger(result) or await self._pay(
                client, request, body, prices, result
            )
        finally:
            heartbeat.cancel()
            self.store.release_call_claim(key, asker)

    async def _claim(self, asker: Asker, result: CallResult) -> bool:
        """True once this asker holds the claim; False when the answer is in the ledger (or,
        with the error set, when the owner kept it longer than any live call can take)."""
        key = result.request_hash
        attempts = self.max_retries + 1
        longest = attempts * self.timeout_s + self.retry_backoff_s * 2**attempts
        deadline = time.monotonic() + longest + self.claim_ttl_s
        while True:
            if self.store.claim_call(key, asker, self.claim_ttl_s):
                return True
            if self.store.get_call(key) is not None:
                return False
            held = self.store.call_claim(key)
            if (
                held is not None
                and asker.sees_gone(held)
                and self.store.take_over_call(key, held["owner"], asker, self.claim_ttl_s)
            ):
                return True
            if time.monotonic() > deadline:
                result.error_code = "model_unavailable"
                result.error = "another asker has held this call for longer than a call lasts"
                return False
            await asyncio.sleep(self.claim_poll_s)

    async def _renew(self, asker: Asker, key: str) -> None:
        while True:
            await asyncio.sleep(self.claim_ttl_s / 3)
            self.store.renew_call_claim(key, asker, self.claim_ttl_s)

    async def _pay(
        self,
        client: openai.AsyncOpenAI,
        request: CallRequest,
        body: dict[str, Any],
        prices: Prices,
        result: CallResult,
    ) -> dict[str, Any] | None:
        worst = self.worst_case(body, prices)
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(self.retry_backoff_s * 2 ** (attempt - 1))
            try:
                reservation = self._reserve(result.request_hash, worst)
            except BudgetExhausted as exc:
                if attempt == 0:
                    raise
                result.error_code, result.error = "budget_exhausted", str(exc)
                return None
            started = time.monotonic()
            try:
                raw = await client.chat.completions.create(**body)
            except openai.APIStatusError as exc:
                self.store.release(reservation)  # the server answered: an error is not billed
                # A request the server refuses as such (too long, malformed, not recorded)
                # will be refused again: the owner decides. Anything else may pass later.
                rejected = exc.status_code in (400, 404, 413, 422)
                result.error_code = "request_rejected" if rejected else "model_unavailable"
                result.error = _error_text(exc)
                if not _retryable(exc.status_code):
                    return None
                continue
            except openai.APIConnectionError as exc:
                if isinstance(exc.__cause__, httpx_never_sent()):
                    self.store.release(reservation)
                else:
                    # Timed out or cut off after the request left: the server may bill it.
                    self.store.settle(reservation, worst)
                result.error_code, result.error = "model_unavailable", _error_text(exc)
                continue
            response = raw.model_dump(mode="json")
            # The wall time of the paid attempt (the one answered), as the owner waits for it.
            result.latency_ms = round((time.monotonic() - started) * 1000)
            self._settle(reservation, worst, request, body, response, prices, result)
            result.error_code = result.error = None
            return response
        return None

    def _from_ledger(self, result: CallResult) -> dict[str, Any] | None:
        stored = self.store.get_call(result.request_hash)
        if stored is None:
            return None
        result.cached = True
        return dict(json.loads(stored["response"]))

    def worst_case(self, body: dict[str, Any], prices: Prices) -> float:
        """The most one attempt of this request can cost."""
        # Every token of a byte-level tokenizer is at least one byte, so the request's UTF-8
        # size (messages and schema) bounds its prompt tokens from above, for any script.
        sent = canonical_json({"messages": body["messages"], "format": body["response_format"]})
        return prices.cost(len(sent.encode("utf-8")) + 64, self.max_tokens)

    def _reserve(self, key: str, worst: float) -> int:
        return self.store.reserve(
            key,
            worst,
            self.daily_budget_usd,
            workflow=self.asset,
            workflow_budget_usd=self.workflow_budget_usd,
        )

    def _settle(
        self,
        reservation: int,
        worst: float,
        request: CallRequest,
        body: dict[str, Any],
        response: dict[str, Any],
        prices: Prices,
        result: CallResult,
    ) -> None:
        usage = response.get("usage") or {}
        tokens_in, tokens_out = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if isinstance(tokens_in, int) and isinstance(tokens_out, int):
            result.tokens_in, result.tokens_out = tokens_in, tokens_out
            result.cost_usd = prices.cost(tokens_in, tokens_out)
        else:
            # The server did not say what it billed: count what it may have billed at most.
            result.cost_usd = worst
        self.store.record_call(
            reservation,
            {
                "request_hash": result.request_hash,
                "agent": request.agent,
                "model": body["model"],
                "prompt_version": request.prompt_version,
                "request": body,
                "response": json.dumps(response),
                "tokens_in": result.tokens_in,
                "tokens_out": result.tokens_out,
                "cost_usd": result.cost_usd,
                "item_id": request.item_id,
                "run_id": self.run_id,
                "latency_ms": result.latency_ms,
            },
        )

    @staticmethod
    def _parse(response: dict[str, Any], schema: type[BaseModel], result: CallResult) -> None:
        try:
            content = response["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            result.error_code, result.error = "schema_invalid", "response has no message content"
            return
        try:
            result.output = schema.model_validate_json(content)
        except ValidationError as exc:
            result.error_code = "schema_invalid"
            result.error = f"{exc.error_count()} schema errors: " + "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(root)'} {e['type']}" for e in exc.errors()
            )
            result.error = result.error[:300]


def _retryable(status: int) -> bool:
    """The statuses the openai SDK itself retries: timeouts, conflicts, rate limits, 5xx."""
    return status in (408, 409, 429) or status >= 500


def _error_text(exc: openai.APIError) -> str:
    return f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"[:300]


def httpx_never_sent() -> tuple[type[BaseException], ...]:
    """Transport errors raised before the request reached the server (nothing to bill)."""
    import httpx2

    return (httpx2.ConnectError, httpx2.ConnectTimeout)
