"""Intake batches: one dynamic partition per sensor tick's batch (bounded size, not per item)."""

import dagster as dg

BATCHES = "intake_batches"
batches = dg.DynamicPartitionsDefinition(name=BATCHES)
