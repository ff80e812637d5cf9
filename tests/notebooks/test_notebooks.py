"""Every notebook runs clean on the project's own kernel against a home made by the demo."""

import json
import subprocess

import nbclient
import nbformat
import pytest
from support import OPSBENCH, REPO, SAMPLES

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("nb") / "home"

    def opsbench(*args: str) -> str:
        done = subprocess.run(
            [*OPSBENCH, *args, "--home", str(home)],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return done.stdout

    opsbench("demo", "--inbox", str(SAMPLES), "--llm", "scripted")
    # A second mail from a sender we answered: drafted with memory, and a preference for the
    # archivist to keep (the memory notebook traces it).
    opsbench(
        "demo", "--inbox", str(REPO / "tests" / "data" / "memory_followup"), "--llm", "scripted"
    )
    # The owner's decisions give the failures notebook cases to show: one edit, one rejection.
    held = [r["id"] for r in json.loads(opsbench("approvals", "--json"))]
    assert len(held) >= 2, held
    edit = home / "edit.txt"
    edit.write_text("Hi Sam,\n\nThanks for flagging this. I am checking the two charges now.")
    opsbench("approve", held[0], "--edit", str(edit))
    opsbench("reject", held[1], "--reason", "the owner will call instead")
    # And a reprocess for the costs notebook's diff.
    opsbench("reprocess", "--agent", "triage", "--llm", "scripted")
    return home


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_clean(path, demo_home, monkeypatch) -> None:
    monkeypatch.setenv("OPSBENCH_HOME", str(demo_home))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="opsbench",
        timeout=300,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors
    assert NOTEBOOKS, "no notebook found"
