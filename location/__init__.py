"""The code location that workspace.yaml loads: it assembles the agents (found in
ops_assets/defs/), the sensors and schedules (sensors/) and the resources (resources/) into
one `Definitions`. It may import every layer; no layer imports it (the owner's application
does, to run the same definitions headless)."""
