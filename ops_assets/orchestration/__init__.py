"""How work is cut and resumed for Dagster: intake batches as dynamic partitions, and the
follow-up work items a schedule creates. May use resources/; knows no sensor."""
