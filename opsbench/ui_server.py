"""The owner's one web server, on 127.0.0.1, behind the guard (resources/web/guard.py): the
desk (opsbench/desk/), the HTTP intake (`POST /intake`, opsbench/intake_http.py) and Dagster's UI
for everything else; the login link lands on the desk. `opsbench run` starts it as
`python -m opsbench.ui_server --port P` in place of `dagster-webserver`, which checks no Host,
no Origin and no token (see the stack notes)."""

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from resources.settings.home import REPO_ROOT, Home, home_path
from resources.web import GuardedApp, Refusal, home_key
from resources.web.keys import UI_TOKEN, ui_auth_headers

WORKSPACE = REPO_ROOT / "workspace.yaml"
DESK_PATH = "/desk"
log = logging.getLogger("opsbench.ui")


def login_url(home: Home, port: int) -> str:
    return f"http://127.0.0.1:{port}/login?token={home_key(home.root, UI_TOKEN)}"


def auth_headers(home: Home) -> dict[str, str]:
    return ui_auth_headers(home.root)


def _audit_refusal(home: Home):  # type: ignore[no-untyped-def]
    def on_refusal(refusal: Refusal, path: str) -> None:
        log.warning("refused %s: %s", path, refusal.reason)
        if refusal.reason != "run_config_names_resources":
            return
        from resources.store.resource import store_for

        store_for(home.store_url).audit(
            None, "ui_guard", "run_config_refused", {"reason": refusal.reason}
        )

    return on_refusal


def composed_app(home: Home, dagster_app: Any) -> Any:
    """The desk's and the intake's routes first; every other path is Dagster's UI."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from opsbench.desk import desk_routes
    from opsbench.intake_http import intake_routes

    return Starlette(routes=[*desk_routes(home), *intake_routes(home), Mount("/", app=dagster_app)])


def guarded_app(home: Home, port: int, app: Any) -> GuardedApp:
    """The composed app behind the guard, as `serve` runs it (tests serve it with a stand-in
    for Dagster's UI)."""
    return GuardedApp(
        app,
        port=port,
        token=home_key(home.root, UI_TOKEN),
        # The intake checks its own per-source bearer tokens (opsbench/intake_http.py).
        public_paths=frozenset({"/intake"}),
        on_refusal=_audit_refusal(home),
        landing=DESK_PATH,  # the login link opens the desk; Dagster's UI is one click away
    )


def serve(home: Home, port: int, workspace: Path = WORKSPACE) -> None:
    import dagster as dg
    import uvicorn

    # Dagster has no public API to put its UI behind middleware; these are the pieces its own
    # `dagster-webserver` command assembles (dagster_webserver/cli.py).
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster_webserver.app import create_app_from_workspace_process_context
    from dagster_webserver.version import __version__

    with (
        dg.DagsterInstance.get() as instance,
        WorkspaceProcessContext(
            instance,
            version=__version__,
            read_only=False,
            workspace_load_target=WorkspaceFileTarget(paths=[str(workspace)]),
        ) as context,
    ):
        app = composed_app(home, create_app_from_workspace_process_context(context, ""))
        guarded = guarded_app(home, port, app)
        print(f"serving the guarded Dagster UI on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        uvicorn.run(guarded, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workspace", type=Path, default=WORKSPACE)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    serve(Home(home_path()).ensure(), args.port, args.workspace)
