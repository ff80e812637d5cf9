"""Re-running agents: `reprocess` (a backfill over past batches, then a diff) and
`prompts test` (a candidate prompt against the golden set and the failures dataset)."""

from pathlib import Path
from typing import Annotated

import typer

from opsbench.cli import ui
from opsbench.cli.core import (
    EXIT_CONFIG,
    EXIT_FAIL,
    EXIT_OK,
    Config,
    Home,
    Json,
    Llm,
    app,
    err,
    out,
    setup,
)
from opsbench.cli.model import local_server_if_needed, stop
from resources.settings.config import load_config

PANEL = "Agents"
Agent = Annotated[str, typer.Option("--agent", help="triage | reply_draft")]


@app.command(rich_help_panel=PANEL)
def reprocess(
    agent: Agent,
    since: Annotated[
        str | None, typer.Option("--since", help="batches created on or after this ISO date")
    ] = None,
    batch: Annotated[
        list[str] | None, typer.Option("--batch", help="a batch key (repeatable)")
    ] = None,
    ui_url: Annotated[
        str | None,
        typer.Option(
            "--ui", help="a running webserver (http://127.0.0.1:3000): its daemon runs it"
        ),
    ] = None,
    llm: Llm = None,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait")] = 1800.0,
    home: Home = None,
    config: Config = None,
    json: Json = False,
) -> int:
    """Re-run an agent over past batches as a backfill, then diff its outputs."""
    if since and batch:
        raise typer.BadParameter("--since and --batch exclude each other")
    opened, store = setup(home, config, starts_work=True, llm=llm)
    from opsbench import reprocess as backfill

    try:
        job = backfill.plan(store, agent, batches=batch or [], since=since)
        err(f"{job.reprocess_id}: {job.agent} over {len(job.batches)} batch(es)")

        def runs() -> tuple[int, int]:
            return len(job.runs), len(job.batches)

        with ui.counting("batches re-run", runs, as_json=json):
            if ui_url:
                backfill.run_backfill(job, ui_url, opened, timeout_s=timeout)
            else:
                server = local_server_if_needed(opened, as_json=json)
                try:
                    backfill.run_in_process(job, opened)
                finally:
                    stop(server)
    except backfill.ReprocessError as exc:
        err(str(exc))
        return EXIT_FAIL
    summary = backfill.summarize(job, store, opened)
    if json:
        out(summary, True)
    else:
        lines = [
            f"{summary['reprocess_id']} {summary['status']}: {summary['outputs']} outputs, "
            f"{summary['changed']} changed, {summary['category_flips']} category flips, "
            f"{summary['proposed_corrections']} proposed corrections; "
            f"{summary['model_calls']} model calls, {summary['cache_hits']} from the ledger",
        ]
        lines += [
            f"  {d['item_id']} {d['asset']}: {d['changed_fields']}"
            + (f" ({d['category_before']} -> {d['category_after']})" if d["category_flip"] else "")
            for d in summary["diff"]
        ]
        lines.append(f"diff: {summary['diff_file']}")
        out("\n".join(lines), False)
    return EXIT_OK if summary["status"] in ("COMPLETED", "COMPLETED_SUCCESS") else EXIT_FAIL


prompts_app = typer.Typer(help="prompt versions and regression tests")
app.add_typer(prompts_app, name="prompts", rich_help_panel=PANEL)


@prompts_app.command("test")
def prompts_test(
    agent: Annotated[str, typer.Argument(help="triage | reply_draft")],
    prompt: Annotated[
        str | None,
        typer.Option("--prompt", help="candidate: YAML with system/user templates, or text"),
    ] = None,
    llm: Llm = None,
    home: Home = None,
    config: Config = None,
    json: Json = False,
) -> int:
    """Replay the golden set and the failures dataset against a candidate prompt (exit 1 if
    any case regresses)."""
    opened, store = setup(home, config, starts_work=True, llm=llm)
    from ops_assets.quality import regression
    from resources.llm.resource import LLMResource
    from resources.settings import SettingsResource

    try:
        candidate = regression.load_candidate(agent, Path(prompt) if prompt else None)
    except regression.RegressionError as exc:
        err(str(exc))
        return EXIT_CONFIG
    server = local_server_if_needed(opened, as_json=json)
    try:
        client = LLMResource(settings=SettingsResource()).client(store, run_id=None, asset=agent)
        from resources.memory import Memory

        memory = Memory(opened.memory)  # recorded contexts are read, never searched again
        report = regression.run(agent, candidate, store, load_config(config), client, memory)
    finally:
        stop(server)
    out(report.as_dict() if json else report.text(), json)
    if report.not_run:
        err(f"{len(report.not_run)} case(s) got no answer and were not compared")
    return EXIT_FAIL if report.regressions or report.not_run else EXIT_OK
