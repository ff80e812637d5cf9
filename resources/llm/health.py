"""A cheap health probe of a model endpoint, asked before deferred work is tried again: one
GET of `/models` (OpenAI, llama.cpp, Ollama, vLLM and the test doubles all answer it), so an
endpoint that is still down costs a probe, not a batch of failed chat requests."""

import asyncio

from resources.llm.endpoints import Endpoint


def endpoint_healthy(endpoint: Endpoint, *, timeout_s: float = 5.0) -> bool:
    """Does the endpoint answer its model list with a 2xx? Any error means no."""
    import httpx2

    async def probe() -> bool:
        async with httpx2.AsyncClient(transport=endpoint.transport, timeout=timeout_s) as client:
            response = await client.get(
                f"{endpoint.base_url.rstrip('/')}/models",
                headers={"Authorization": f"Bearer {endpoint.api_key}"},
            )
            return response.is_success

    try:
        return asyncio.run(probe())
    except Exception:  # refused, timed out, unresolvable: all mean "not yet"
        return False
