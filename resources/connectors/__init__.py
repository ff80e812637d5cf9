"""Connectors behind one contract (send, lookup, health, version, sandbox): SMTP, the webhook
and the file outbox. They pass the delivery ledger's idempotency key on and report refusals as
codes, never a server's text. Knows no agent."""
