"""Model access: every call through the `openai` client to an OpenAI-compatible endpoint
(the embedded llama.cpp server, a base URL, or the explicit test doubles), with the call
ledger, claims across processes, per-attempt budget reservations and prices. Knows no agent."""
