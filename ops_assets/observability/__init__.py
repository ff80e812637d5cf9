"""Observability: cost per outcome, reprocessing with a diff, and alerts."""
