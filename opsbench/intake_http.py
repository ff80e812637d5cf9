"""`POST /intake`: work items from contact forms and other tools, on the owner's server.

The guard (resources/web/guard.py) still checks Host and Origin, but lets `/intake` through
without the UI's token: each source (config `intake.http.sources`) has its own bearer token,
read from the environment variable it names, and this route checks it. A request carries a
JSON work item (a source's `mapping` renames a form's fields into the contract of
sensors/mail/json_item.py) or a raw RFC 822 message (`Content-Type: message/rfc822`).

Answers: 202 `{"item_id", "state"}` once the item is registered; 400 with the first problem
as one line; 401 for a missing or wrong token; 413 over `max_bytes`; 415 for another type.
An `Idempotency-Key` fixes the item id (from the source and the key): a repeated key answers
with the same id and registers nothing new, whatever its body says.

Registration is the files' (sensors/intake.py): the body is written where intake expects a
claimed file, under a name fixed by its key, then registered, deduped by Message-ID, kept
under <home>/intake/originals, or quarantined; the inbox sensor launches the batch's run."""

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from resources.settings.config import Config, ConfigError, load_config
from resources.settings.environment import secret_value
from resources.settings.home import Home
from resources.settings.http_intake import ContractField, HttpIntake, HttpSource
from resources.store import Store
from sensors.intake import SEPARATOR, TickResult, _register_safely, batch_key, item_id_for
from sensors.mail.json_item import canonical, load_json_object, validate_item
from sensors.parsing import UnusableInput, parse_input

PATH = "/intake"
KEY_HEADER = "idempotency-key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# One registration at a time in this server: two requests with one key must not race for
# the same staged file (the store's own id check keeps the item single either way).
_registering = threading.Lock()


def http_settings(config: Config) -> HttpIntake:
    """The config's `intake.http` (no sources: every post is refused)."""
    return config.intake.http


def source_for(settings: HttpIntake, authorization: str | None) -> str | None:
    """The source whose token this `Authorization: Bearer` header carries, if any."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    given = authorization[7:].strip().encode()
    found = None
    for name, source in settings.sources.items():
        token = secret_value(source.token_env)
        # Every source compared: the time taken says nothing about which one matched.
        if token and hmac.compare_digest(given, token.encode()) and found is None:
            found = name
    return found


def mapped(payload: dict[str, Any], mapping: dict[ContractField, str]) -> dict[str, Any]:
    """The posted object in the contract's names: mapped fields renamed, the rest kept."""
    taken = set(mapping.values())
    item = {key: value for key, value in payload.items() if key not in taken}
    for field, posted in mapping.items():
        if posted in payload:
            item[field] = payload[posted]
    return item


class Rejected(Exception):
    def __init__(self, status: int, error: str, reason: str | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.reason = status, error, reason

    def body(self) -> dict[str, str]:
        return {"error": self.error, **({"reason": self.reason} if self.reason else {})}


def checked_body(
    data: bytes, content_type: str, source: HttpSource, config: Config
) -> tuple[str, bytes]:
    """(file suffix, bytes to register) for a usable body; Rejected (400/415) otherwise."""
    kind = content_type.split(";")[0].strip().lower()
    limits = config.intake
    try:
        if kind == "application/json":
            payload, _ = load_json_object(data)
            item = mapped(payload, source.mapping)
            validate_item(canonical(item)[0])
            return ".json", json.dumps(item, ensure_ascii=False).encode()
        if kind == "message/rfc822":
            parse_input(
                "post.eml", data, max_bytes=limits.max_bytes, max_body_chars=limits.max_body_chars
            )
            return ".eml", data
    except UnusableInput as unusable:
        raise Rejected(400, unusable.code, unusable.reason) from None
    raise Rejected(415, "unsupported_media_type", "send application/json or message/rfc822")


def staged_path(home: Home, source: str, key: str | None, suffix: str) -> Path:
    """Where the body waits for registration; its name fixes the item id (a key: always the
    same name; no key: a new one). The leading dot keeps the orphan replay away from it."""
    basis = (
        f"key|{source}|{key}" if key else f"once|{source}|{time.time_ns()}|{secrets.token_hex(8)}"
    )
    digest = hashlib.sha256(basis.encode()).hexdigest()
    return home.claimed / f".http-{digest[:24]}{SEPARATOR}http-{source}-{digest[:12]}{suffix}"


def register_post(
    store: Store, home: Home, config: Config, source: str, key: str | None, suffix: str, data: bytes
) -> tuple[str, str, bool]:
    """(item id, its state, whether it was there already), through the files' intake."""
    with _registering:
        path = staged_path(home, source, key, suffix)
        item_id = item_id_for(path)
        existing = store.get_item(item_id)
        if existing is not None:
            return item_id, str(existing["state"]), True
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(path.name + ".part")
        temp.write_bytes(data)
        temp.replace(path)
        batch = batch_key([item_id], time.time())
        store.create_batch(batch, "http", 1)
        _register_safely(store, home, config, path, batch, TickResult())
        registered = store.get_item(item_id)
        if registered is None:
            raise Rejected(503, "store_unavailable", "the item could not be registered; retry")
        return item_id, str(registered["state"]), False


def intake_routes(home: Home, settings: HttpIntake | None = None) -> list[Any]:
    """`POST /intake`; `settings` for tests, else the config's `intake.http` per request."""
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from resources.store.resource import store_for

    async def read_body(request: Request, limit: int) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Rejected(413, "request_too_large", f"the limit is {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Rejected(413, "request_too_large", f"the limit is {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def intake(request: Request) -> JSONResponse:
        if request.method != "POST":
            # Answered here, never left to the next route: the guard lets /intake through
            # without the UI's token, so Dagster's UI must not serve this path.
            return JSONResponse({"error": "method_not_allowed"}, 405, {"Allow": "POST"})
        try:
            config = await run_in_threadpool(load_config)
            current = settings or http_settings(config)
            source = source_for(current, request.headers.get("authorization"))
            if source is None:
                raise Rejected(401, "token_required")
            key = request.headers.get(KEY_HEADER)
            if key is not None and not _KEY.match(key):
                raise Rejected(400, "bad_idempotency_key", "1 to 255 printable ASCII characters")
            data = await read_body(request, current.max_bytes)
            suffix, body = checked_body(
                data, request.headers.get("content-type", ""), current.sources[source], config
            )
            item_id, state, replayed = await run_in_threadpool(
                lambda: register_post(
                    store_for(home.store_url), home, config, source, key, suffix, body
                )
            )
        except Rejected as rejected:
            headers = {"WWW-Authenticate": "Bearer"} if rejected.status == 401 else None
            return JSONResponse(rejected.body(), status_code=rejected.status, headers=headers)
        except (ConfigError, ValidationError):
            return JSONResponse({"error": "config_error"}, status_code=503)
        headers = {"Idempotent-Replayed": "true"} if replayed else None
        return JSONResponse({"item_id": item_id, "state": state}, status_code=202, headers=headers)

    every = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return [Route(PATH, intake, methods=every)]
