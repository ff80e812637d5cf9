"""The environment is read in one place, at call time, with one precedence; secrets stay
wrapped until they are sent."""

import ast
from pathlib import Path

from resources.settings.environment import environment, secret_value

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("opsbench", "location", "ops_assets", "resources", "sensors")
ONE_PLACE = REPO / "resources" / "settings" / "environment.py"


def test_the_workbench_key_wins_over_the_generic_one_and_never_prints(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-generic")
    assert environment().api_key_value() == "sk-generic"
    monkeypatch.setenv("OPSBENCH_API_KEY", "sk-workbench")
    env = environment()
    assert env.api_key_value() == "sk-workbench"
    assert "sk-workbench" not in repr(env) and "sk-workbench" not in str(env.model_dump())


def test_values_are_read_at_call_time(monkeypatch) -> None:
    monkeypatch.setenv("OPSBENCH_LLM", "scripted")
    assert environment().llm == "scripted"
    monkeypatch.setenv("OPSBENCH_LLM", "http://127.0.0.1:9/v1")
    assert environment().llm == "http://127.0.0.1:9/v1"
    monkeypatch.setenv("OPSBENCH_SMTP_PASSWORD", "pw")
    assert secret_value("OPSBENCH_SMTP_PASSWORD") == "pw"
    assert secret_value("OPSBENCH_NOT_SET") is None


def test_the_environment_beats_the_config_file(monkeypatch) -> None:
    from resources.memory.embeddings import chosen_spec

    monkeypatch.delenv("OPSBENCH_EMBEDDER", raising=False)
    assert chosen_spec("local") == "local"  # the config file's value
    monkeypatch.setenv("OPSBENCH_EMBEDDER", "hashing")
    assert chosen_spec("local") == "hashing"


def test_a_flag_beats_the_environment(monkeypatch, tmp_path) -> None:
    """The CLI writes its flags into its own environment before anything reads it."""
    from opsbench.cli import main
    from resources.settings.home import open_home
    from resources.store.resource import store_for

    store_for(open_home(tmp_path / "h").store_url)  # a home the verb can open
    monkeypatch.setenv("OPSBENCH_HOME", str(tmp_path / "elsewhere"))
    assert main(["items", "--home", str(tmp_path / "h"), "--json"]) == 0
    assert environment().home == str((tmp_path / "h").resolve())


def _reads_of_the_environment(path: Path) -> list[int]:
    """Lines where a module reads os.environ or os.getenv (writes and setdefault, which
    hand values to other libraries and children, are not reads of our settings)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if (
                node.func.attr == "get"
                and isinstance(owner, ast.Attribute)
                and owner.attr == "environ"
            ) or (node.func.attr == "getenv" and isinstance(owner, ast.Name)):
                found.append(node.lineno)
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "environ"
        ):
            found.append(node.lineno)
    return found


def test_no_module_but_one_reads_the_environment() -> None:
    readers = {
        str(path.relative_to(REPO)): lines
        for package in PACKAGES
        for path in (REPO / package).rglob("*.py")
        if path != ONE_PLACE and (lines := _reads_of_the_environment(path))
    }
    assert readers == {}
