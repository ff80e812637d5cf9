"""Shell completion of ITEM arguments: the ids in the home's store. A completion never fails
loudly and never creates a home: any problem means no suggestions."""

from typing import Any


def item_ids(home: str | None, incomplete: str = "") -> list[str]:
    """The ids in the store of `home` (OPSBENCH_HOME when None) that start with `incomplete`."""
    from resources.settings.home import home_path
    from resources.store.resource import store_for

    root = home_path(home)
    if not (root / "dagster").is_dir():  # no home here: nothing to offer, nothing created
        return []
    from resources.settings.home import open_home

    store = store_for(open_home(root).store_url)
    return [i["id"] for i in store.items() if str(i["id"]).startswith(incomplete)]


def complete_item_ids(ctx: Any, incomplete: str) -> list[str]:
    """typer's autocompletion callback: --home if it was typed before the ITEM, else the
    environment's home."""
    try:
        home = (ctx.params or {}).get("home") if ctx is not None else None
        return item_ids(home, incomplete)
    except Exception:  # a completion must not print a traceback into a shell
        return []
