"""The proposal_approval asset: the policy's `send_proposal` over every verified version."""

from collections import Counter

import dagster as dg

from ops_assets.defs.proposals.approval.gate import gate, settle_item
from ops_assets.defs.proposals.leads import in_state, is_lead
from ops_assets.defs.proposals.workflow import GROUP
from resources.settings import SettingsResource
from resources.store import proposals as rows
from resources.store.resource import StoreResource


@dg.asset(group_name=GROUP, kinds={"sqlite"}, deps=["proposal_verdict"])
def proposal_approval(settings: SettingsResource, store: StoreResource) -> dg.MaterializeResult:
    """Each verified proposal sent on, held for the owner, or refused, as the policy's
        `send_proposal` says (the sample policy holds every one): the `reviewed` item moves to
    `approved`, `awaiting_approval` or `rejected` with its version."""
    st, policy = store.get(), settings.policy()
    verdicts: Counter[str] = Counter()
    for version in rows.latest_by_status(st, ["verified"]):
        if is_lead(st, version["item_id"], "reviewed"):
            verdicts[gate(st, policy, version)] += 1
    # A run that died between the version's verdict and the item's move finishes the move.
    for item in in_state(st, "reviewed"):
        settle_item(st, item["id"])
    return dg.MaterializeResult(metadata={"verdicts": dg.MetadataValue.json(dict(verdicts))})
