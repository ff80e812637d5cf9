"""The `store` resource: the canonical store of the settings' home."""

import dagster as dg

from resources.settings import SettingsResource
from resources.store.store import Store

_OPEN: dict[str, Store] = {}


def store_for(url: str) -> Store:
    """One Store (engine + migration check) per URL and process."""
    if url not in _OPEN:
        _OPEN[url] = Store(url)
    return _OPEN[url]


def close_store(url: str) -> None:
    """Let go of this URL's Store (its engine's connections), if this process opened one."""
    store = _OPEN.pop(url, None)
    if store is not None:
        store.close()


class StoreResource(dg.ConfigurableResource):
    """Work items, ledgers, approvals and the audit log of the settings' home (no run config
    may point it elsewhere)."""

    settings: SettingsResource

    def get(self) -> Store:
        return store_for(self.settings.home_dir().store_url)
