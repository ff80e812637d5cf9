"""The desk's Starlette routes: the desk page, the overview, and one POST endpoint for every
form. Pages are rendered on the server with autoescaping and served with a policy that runs no
script at all: a mail's HTML is text here, whatever it holds."""

import urllib.parse
from pathlib import Path
from typing import Any

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from opsbench.desk import actions, corrections, overview, queries
from opsbench.desk.security import csrf_token, csrf_valid, new_nonce, new_session, session_cookie
from resources.settings.home import Home
from resources.store import Store

TEMPLATES = Path(__file__).parent / "templates"
MAX_FORM_BYTES = 200_000
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",  # no-referrer makes a browser send `Origin: null`
    "cache-control": "no-store",
}
DESK_PATH, OVERVIEW_PATH, ACT_PATH = "/desk", "/desk/overview", "/desk/act"
PDF_PATH = "/desk/proposal/{item}/v{version:int}.pdf"


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
    )


def dagster_links(record: queries.Waiting) -> dict[str, Any]:
    """Where the Dagster UI (mounted at /) shows an item's runs and its batch's lineage."""
    batch = record["batch"]
    return {
        "runs": [(run[:8], f"/runs/{urllib.parse.quote(run)}") for run in record["run_ids"]],
        "batch_runs": (
            "/runs?" + urllib.parse.urlencode({"q[]": f"tag:dagster/partition={batch}"})
            if batch
            else None
        ),
        "lineage": "/assets/review?view=lineage",
    }


class Desk:
    def __init__(self, home: Home, store: Store | None = None) -> None:
        self.home = home
        self._store = store
        self.templates = environment()

    @property
    def store(self) -> Store:
        if self._store is None:
            from resources.store.resource import store_for

            self._store = store_for(self.home.store_url)
        return self._store

    def _session(self, request: Request) -> tuple[str, bool]:
        given = request.cookies.get(session_cookie(request.url.port))
        return (given, False) if given else (new_session(), True)

    def _page(self, request: Request, template: str, **context: Any) -> Response:
        session, fresh = self._session(request)
        page = self.templates.get_template(template).render(
            csrf=csrf_token(self.home.root, session),
            nonce=new_nonce,
            note=request.query_params.get("note", "")[:500],
            ok=request.query_params.get("ok") == "1",
            kill_switch=self.store.kill_switch_on(),
            **context,
        )
        response = HTMLResponse(page, headers=HEADERS)
        if fresh:
            response.set_cookie(
                session_cookie(request.url.port),
                session,
                httponly=True,
                samesite="strict",
                path="/",
            )
        return response

    def desk(self, request: Request) -> Response:
        from resources.settings.config import load_config

        config = load_config()
        waiting = queries.waiting(self.store)
        return self._page(
            request,
            "desk.html",
            waiting=waiting,
            links={w["id"]: dagster_links(w) for w in waiting},
            facts=queries.contested_facts(self.home),
            corrections=corrections.proposed(self.home, self.store, config),
            min_chars=config.quality.min_reply_chars,
        )

    def overview(self, request: Request) -> Response:
        from resources.settings.config import load_config

        return self._page(
            request, "overview.html", view=overview.overview(self.store, load_config())
        )

    async def act(self, request: Request) -> Response:
        from resources.settings.config import load_config

        body = await request.body()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if len(body) > MAX_FORM_BYTES or content_type != "application/x-www-form-urlencoded":
            return await run_in_threadpool(self._refuse, "form_expected", 400)
        parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        form = {key: values[0] for key, values in parsed.items()}
        session = request.cookies.get(session_cookie(request.url.port))
        if not csrf_valid(self.home.root, session, form.get("csrf")):
            return await run_in_threadpool(self._refuse, "csrf_token_missing_or_wrong", 403)
        # The store is synchronous: off the event loop, as Starlette runs a plain endpoint.
        outcome = await run_in_threadpool(actions.act, self.home, self.store, load_config(), form)
        back = OVERVIEW_PATH if form.get("back") == "overview" else DESK_PATH
        query = urllib.parse.urlencode({"note": outcome.message, "ok": int(outcome.ok)})
        return RedirectResponse(f"{back}?{query}", status_code=303, headers=HEADERS)

    def proposal_pdf(self, request: Request) -> Response:
        """A proposal version as the client gets it (the sending step's renderer), as a
        download; behind the same guard and login as every desk page."""
        from ops_assets.defs.proposals.sending.pdf import render_pdf
        from resources.settings.config import load_config
        from resources.store import proposals

        item, number = request.path_params["item"], int(request.path_params["version"])
        version = (
            proposals.get_version(self.store, item, number)
            if item.startswith("itm_") and len(item) <= 64
            else None
        )
        if version is None:
            return Response("no such proposal version", status_code=404, headers=HEADERS)
        author = load_config().identity.business_name
        pdf = render_pdf(version["markdown"], title=version["title"], author=author)
        disposition = f'attachment; filename="proposal-{item}-v{number}.pdf"'
        return Response(
            pdf,
            media_type="application/pdf",
            headers={**HEADERS, "content-disposition": disposition},
        )

    def _refuse(self, reason: str, status: int) -> Response:
        self.store.audit(None, "desk", "desk_refused", {"reason": reason})
        page = self.templates.get_template("refused.html").render(reason=reason)
        return HTMLResponse(page, status_code=status, headers=HEADERS)


def routes(home: Home, store: Store | None = None) -> list[Route]:
    desk = Desk(home, store)
    return [
        Route(DESK_PATH, desk.desk, methods=["GET"]),
        Route(OVERVIEW_PATH, desk.overview, methods=["GET"]),
        Route(ACT_PATH, desk.act, methods=["POST"]),
        Route(PDF_PATH, desk.proposal_pdf, methods=["GET"]),
    ]
