"""The `settings` resource: which home and which config file this process works on.

Values come from OPSBENCH_HOME / OPSBENCH_CONFIG at run time (the CLI sets them for the
Dagster processes it starts), else the defaults. Never from run config: a launched run must not
be able to point the workbench at another home or config, so these resources declare no fields.
"""

from functools import cache
from pathlib import Path

import dagster as dg

from resources.settings.config import Config, config_path, load_config
from resources.settings.home import Home, open_home
from resources.settings.policy import Policy, load_policy


@cache
def _config(path: Path, mtime_ns: int) -> Config:
    return load_config(path)


class SettingsResource(dg.ConfigurableResource):
    """Home folder and operator config for this workbench."""

    def home_dir(self) -> Home:
        return open_home()

    def policy(self) -> Policy:
        return load_policy(self.config().policy_file)

    def config(self) -> Config:
        path = config_path()
        mtime = path.stat().st_mtime_ns if path.exists() else 0
        return _config(path, mtime)
