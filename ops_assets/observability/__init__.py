"""Observability: cost per outcome and alerts (ids and reason codes, never text). May use
resources/. The reprocess verb lives with the owner's application (opsbench/reprocess.py)."""
