"""The CRM executor: a contact per sender and a deal per sales mail, kept idempotently from
triage and delivery outcomes."""

import yaml
from support import batch_assets, outcome_assets, permissive_policy

from ops_assets.defs.crm.assets import crm
from resources.settings.config import SAMPLE_CONFIG

QUOTE = "meg@greenleafyoga.example.com"  # sales-quote-request.eml


def _metadata(result, name="crm"):
    (mat,) = result.asset_materializations_for_node(name)
    return {k: v.value for k, v in mat.metadata.items()}


def test_contacts_and_deals_follow_the_outcomes_and_reruns_change_nothing(
    bench, monkeypatch, tmp_path
) -> None:
    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["routing"]["sales"] = "reply_draft"  # so the sales mail gets a reply
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("OPSBENCH_CONFIG", str(tmp_path / "c.yaml"))
    monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "p.yaml")))
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    first = _metadata(bench.materialize(outcome_assets()))

    contacts = {c["email"]: c for c in bench.store.contacts()}
    triaged = {
        i["sender"]
        for i in bench.store.items()
        if (bench.store.get_output(i["id"], "triage") or {}).get("valid")
        and i["category"] != "spam"
    }
    assert set(contacts) == triaged and first["contacts"] == len(triaged)
    assert "newsletter@webdevweekly.example.org" not in contacts  # settled by rules
    priya = contacts["priya@harbourbakery.example"]
    assert (priya["name"], priya["messages"], priya["replies_sent"]) == ("Priya Shah", 1, 1)
    (deal,) = bench.store.deals()
    assert (deal["contact_email"], deal["stage"]) == (QUOTE, "contacted")

    again = _metadata(bench.materialize([crm]))
    assert (again["contacts_changed"], again["deals_changed"]) == (0, 0)

    # A second mail from a known sender updates the contact, once.
    second = tmp_path / "again.json"
    second.write_text(
        '{"from": "Priya Shah <priya@harbourbakery.example>", "subject": "Login works now",'
        ' "body": "Thanks, the admin login works again after your fix. One more question."}'
    )
    key2 = bench.intake([second])
    bench.materialize(batch_assets(), key2)
    bench.materialize(outcome_assets())
    priya = next(c for c in bench.store.contacts() if c["email"] == priya["email"])
    assert priya["messages"] == 2
    assert bench.store.audit_for_event("contact_updated")  # every change is audited
