"""The owner's desk: server-rendered pages for what waits for the owner, and the actions on it.
(Being built; its routes join the guarded server through `desk_routes`.)"""

from typing import Any

from resources.settings.home import Home


def desk_routes(home: Home) -> list[Any]:
    return []
