"""`POST /intake`: work items from contact forms and other tools, on the owner's server.
(Being built; its routes join the guarded server through `intake_routes`.)"""

from typing import Any

from resources.settings.home import Home


def intake_routes(home: Home) -> list[Any]:
    return []
