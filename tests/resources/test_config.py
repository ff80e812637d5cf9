"""The config file: the sample is valid, errors are clear and name the field."""

import pytest

from resources.settings.config import SAMPLE_CONFIG, ConfigError, load_config


def test_the_sample_config_is_valid() -> None:
    config = load_config()
    assert config.identity.business_name
    assert config.route_for("support") == "reply_draft"
    assert config.route_for("sales") == "proposals"
    assert config.route_for("other") == "human"


def test_env_var_selects_the_file(monkeypatch, tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE_CONFIG.read_text().replace("Northwind Studio", "Acme"))
    monkeypatch.setenv("OPSBENCH_CONFIG", str(path))
    assert load_config().identity.business_name == "Acme"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("max_items: 25", "max_items: 0"), "batching.max_items"),
        (("  support: reply_draft", "  supprot: reply_draft"), "routing.supprot"),
        (("support: reply_draft", "support: reply-draft"), "routing.support"),
        (("tone:", "tonne:"), "identity.tonne"),
        (("identity:", "identity: [oops"), "cannot read config"),
    ],
)
def test_errors_name_what_is_wrong(tmp_path, change, message) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SAMPLE_CONFIG.read_text().replace(*change, 1))
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_a_webhook_url_must_be_http(tmp_path) -> None:
    import pytest
    import yaml

    from resources.settings.config import SAMPLE_CONFIG, ConfigError, load_config

    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["connectors"]["webhook"]["url"] = "file:///etc/passwd"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=r"connectors\.webhook\.url"):
        load_config(tmp_path / "c.yaml")


def test_a_route_may_name_a_workflow_and_models_per_agent(tmp_path) -> None:
    import yaml

    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["routing"]["other"] = "newsletter"  # any workflow name: ops_assets checks it exists
    config["llm"]["models"] = {
        "triage": "small-model",
        "large": {"model": "big-model", "endpoint": "http://127.0.0.1:9/v1"},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    loaded = load_config(tmp_path / "c.yaml")
    assert loaded.route_for("other") == "newsletter"
    assert loaded.llm.models["triage"].model == "small-model"
    assert loaded.llm.models["large"].endpoint == "http://127.0.0.1:9/v1"
    config["llm"]["models"] = {"triage": {"endpoint": "ftp://x"}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=r"llm\.models\.triage\.endpoint"):
        load_config(tmp_path / "c.yaml")


def test_proposal_nudges_are_read_from_the_config(tmp_path) -> None:
    """`proposals.nudges` reaches the nudge asset's settings (they were defaults only)."""
    from resources.settings.proposals import nudge_settings

    path = tmp_path / "c.yaml"
    sample = SAMPLE_CONFIG.read_text()
    path.write_text(sample.replace("after_business_days: 3", "after_business_days: 5"))
    chosen = nudge_settings(load_config(path))
    assert (chosen.after_business_days, chosen.max_nudges) == (5, 2)
    path.write_text(sample.replace("max_nudges: 2", "max_nudges: 9"))
    with pytest.raises(ConfigError, match="max_nudges"):
        load_config(path)
