"""The proposal_nudges asset: with the daily follow-up run (group `follow_ups`, so the
follow-up schedule runs it at the owner's hour), sent proposals unanswered for N business days
get a nudge work item in a batch of their own, which the inbox sensor launches like any batch
(drafted, reviewed and held for the owner); after K nudges the deal becomes `stalled`."""

import datetime as dt

import dagster as dg

from ops_assets.agents.agent_run import holder_is_gone
from ops_assets.defs.follow_ups.assets import SCHEDULED_FOR
from ops_assets.defs.proposals.deals import move_deal
from ops_assets.defs.proposals.nudges.due import due, register
from ops_assets.defs.proposals.replies.episodes import remember_ended
from resources.memory import MemoryResource
from resources.scopes import require_scope
from resources.settings import SettingsResource
from resources.settings.proposals import nudge_settings
from resources.store.resource import StoreResource

AGENT = "proposal_nudges"


@dg.asset(group_name="follow_ups", kinds={"sqlite"})
def proposal_nudges(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    memory: MemoryResource,
) -> dg.MaterializeResult:
    """Nudges for the owner on proposals that got no answer; stalled deals after K."""
    config, st = settings.config(), store.get()
    keys = nudge_settings(config)
    tagged = context.run.tags.get(SCHEDULED_FOR)
    now = dt.datetime.fromisoformat(tagged) if tagged else dt.datetime.now(dt.UTC)
    if not keys.enabled or st.kill_switch_on():
        return dg.MaterializeResult(metadata={"nudges": 0, "held": "off or kill switch"})
    require_scope(st, AGENT, "connector:crm", settings.policy().scopes)
    found = due(st, now, config.identity.timezone, keys)
    nudging = [d for d in found if d.number]
    stalled = 0
    for d in found:
        if not d.number:
            stalled += move_deal(st, d.item, "stalled")
    key = f"nudge-{now.strftime('%Y%m%dT%H%M%S')}"
    if nudging:
        st.create_batch(key, "follow_up_schedule", len(nudging))
        domain = config.identity.reply_from.rsplit("@", 1)[-1]
        for d in nudging:
            register(st, d, now, batch=key, run_id=context.run.run_id, domain=domain)
    remembered = 0
    if stalled:
        require_scope(st, AGENT, "memory:write", settings.policy().scopes)
        remembered = remember_ended(
            st, memory.get(st), context.run.run_id, holder_is_gone(context), asset=AGENT
        )
    return dg.MaterializeResult(
        metadata={
            "nudges": len(nudging),
            "stalled": stalled,
            "episodes_written": remembered,
            **({"batch": key} if nudging else {}),
            "proposal_item_ids": dg.MetadataValue.json([d.item["id"] for d in found]),
        }
    )
