"""Which OpenAI-compatible endpoint a `--llm` spec means.

`scripted` and `replay:FILE` are explicit test doubles served in-process; `local` is the
embedded llama.cpp server whose URL its owner wrote to `<home>/llm.url`; anything starting
with http(s) is any OpenAI-compatible server (OpenAI, Ollama, vLLM, LM Studio...).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from resources.llm.replay import ReplayModel
from resources.llm.scripted import ScriptedModel
from resources.settings.environment import environment

LOCAL_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"


class EndpointError(Exception):
    """The --llm spec cannot be used as given; the message says what to do."""


@dataclass
class Endpoint:
    spec: str
    base_url: str
    model: str
    api_key: str
    default_concurrency: int
    transport: httpx2.AsyncBaseTransport | None = None
    double: ScriptedModel | ReplayModel | None = None

    @property
    def live(self) -> bool:
        """Does a call here reach a real server (and so may cost money or time)?"""
        return self.double is None


def require_price(
    endpoint: Endpoint, prices: Mapping[str, Any], *, cheaper_model: str | None = None
) -> None:
    """A model without a price would make every budget meaningless: refuse it (a server on
    this machine too, unless it is the embedded one; see resources/llm/pricing.py)."""
    from resources.llm.pricing import require_prices

    require_prices(endpoint.spec, endpoint.model, prices, cheaper_model=cheaper_model)


def resolve(
    spec: str, *, home: Path, model: str | None, scripted: ScriptedModel | None = None
) -> Endpoint:
    if spec == "scripted":
        double = scripted or ScriptedModel()
        return Endpoint(
            spec,
            "http://scripted.invalid/v1",
            model or "scripted-v1",
            "scripted",
            4,
            double.transport(),
            double,
        )
    if spec.startswith("replay:"):
        replay = ReplayModel(spec.removeprefix("replay:"))
        return Endpoint(
            spec,
            "http://replay.invalid/v1",
            model or replay.model or "replay",
            "replay",
            4,
            replay.transport(),
            replay,
        )
    if spec == "local":
        url_file = home / "llm.url"
        if not url_file.exists():
            raise EndpointError(
                f"no local model server for this home ({url_file} is missing); start one with "
                "`make run` or `opsbench demo`, or choose --llm scripted or a base URL"
            )
        from resources.web.keys import SERVER_KEY, home_key

        key = home_key(home, SERVER_KEY)  # the embedded server admits only this home's tools
        return Endpoint(spec, url_file.read_text().strip(), model or LOCAL_MODEL, key, 1)
    if spec.startswith(("http://", "https://")):
        key = environment().api_key_value()
        chosen = model or environment().model
        if not chosen:
            raise EndpointError(
                "a base-URL endpoint needs a model: set llm.model in the config or OPSBENCH_MODEL"
            )
        return Endpoint(spec, spec, chosen, key, 4)
    raise EndpointError(f"unknown --llm {spec!r}: use scripted, replay:FILE, local or a URL")
