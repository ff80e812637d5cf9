"""The code location `workspace.yaml` loads: the defs folder (ops_assets/defs: agents, jobs,
resources, executor) and the triggers room (sensors/), each found, none listed here."""

from pathlib import Path

import dagster as dg

from location.triggers import triggers
from ops_assets.defs.resources import resource_defs

__all__ = ["defs", "resource_defs"]

REPO = Path(__file__).resolve().parent.parent

defs = dg.Definitions.merge(
    dg.load_from_defs_folder(path_within_project=REPO / "ops_assets"),
    triggers(),
)
