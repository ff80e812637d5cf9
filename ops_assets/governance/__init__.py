"""Governance: the operator's policy file, approval gate, budgets, kill switch, scopes and
prompt-injection flags. Policy comes from the policy file and code, never from model output or
message content."""
