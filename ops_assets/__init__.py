"""Agents and workflows, the layer between the triggers (sensors/) and the infrastructure
(resources/): agent folders in defs/ (found by load_from_defs_folder), what they share
(agents/), policy and its gate (governance/), checks and failures (quality/), cost and alert
tables (observability/) and batching (orchestration/). Imports resources/ only; never
sensors/, the code location or the owner's application."""
