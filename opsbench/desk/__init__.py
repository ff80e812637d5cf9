"""The owner's desk: server-rendered pages for what waits for the owner, and the actions on it
(routes.py: the pages and the one form endpoint; queries.py: what waits; overview.py: the day's
numbers; actions.py: the forms, each the function its CLI verb calls; security.py: CSRF and
form nonces; templates/: autoescaped Jinja2, no script, inline CSS). It may use every layer
below the owner's application; the guard (resources/web/guard.py) stands in front of it."""

from typing import Any

from resources.settings.home import Home


def desk_routes(home: Home) -> list[Any]:
    from opsbench.desk.routes import routes

    return list(routes(home))
