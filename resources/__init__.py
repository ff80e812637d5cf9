"""Resources by role: settings, store, llm, outbox, memory."""
