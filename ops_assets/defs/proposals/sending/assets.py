"""The proposal_delivery asset: each approved proposal by mail with its PDF, at most once per
(item, recipient) under the delivery ledger; the deal moves to `proposal_sent`."""

from collections import Counter
from typing import Any

import dagster as dg

from ops_assets.agents.agent_run import holder_is_gone
from ops_assets.defs.delivery import ledger
from ops_assets.defs.proposals.deals import move_deal
from ops_assets.defs.proposals.leads import in_state, is_lead, to_owner
from ops_assets.defs.proposals.sending.compose import attachment_name, compose_proposal
from ops_assets.defs.proposals.sending.pdf import render_pdf
from ops_assets.defs.proposals.workflow import GROUP, PURPOSE
from resources.connectors.base import Connector, atomic_write
from resources.connectors.resource import ConnectorsResource
from resources.scopes import require_scope
from resources.settings import SettingsResource
from resources.settings.config import Identity
from resources.store import Store
from resources.store import proposals as rows
from resources.store.resource import StoreResource

AGENT = "proposal_delivery"
MAY_HAVE_ARRIVED = "a send was attempted and may have arrived: check before sending again"


@dg.asset(
    group_name=GROUP,
    kinds={"email", "sqlite"},
    deps=["proposal_approval"],
    pool="opsbench_delivery",
)
def proposal_delivery(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    connectors: ConnectorsResource,
) -> dg.MaterializeResult:
    """Approved proposals sent with their PDF and confirmed, at most once each; the PDF is
    also kept under <home>/proposals/."""
    st, run_id = store.get(), context.run.run_id
    channel = connectors.reply_channel(agent=AGENT, store=st)
    healthy, detail = channel.health()
    outcome: Counter[str] = Counter()
    if not healthy:
        context.log.warning(f"{channel.name} unhealthy, nothing sent: {detail}")
    elif not st.acquire_lock(ledger.DRAIN_LOCK, run_id, holder_is_gone(context)):
        context.log.info("another delivery run is draining; this one leaves it to that run")
    else:
        try:
            require_scope(st, AGENT, "connector:crm", settings.policy().scopes)
            identity = settings.config().identity
            folder = settings.home_dir().root / "proposals"
            rate = connectors.rate_per_minute(channel)
            for version in rows.latest_by_status(st, ["approved", "sending"]):
                if not is_lead(st, version["item_id"], "approved", "sending"):
                    continue
                if st.kill_switch_on():
                    outcome[ledger.HELD] += 1
                    break  # approved proposals wait; nothing moves while the switch is on
                result = send(st, channel, version, identity, folder, rate)
                outcome[result] += 1
            for item in in_state(st, "sending"):  # a run died after the send was confirmed
                latest = rows.latest(st, item["id"])
                if latest is not None and latest["status"] == "sent":
                    _delivered(st, item, latest, key=None)
        finally:
            st.release_lock(ledger.DRAIN_LOCK, run_id)
    return dg.MaterializeResult(
        metadata={
            "outcome": dg.MetadataValue.json(dict(outcome)),
            "connector": f"{channel.name}@{channel.version}"
            + (" (sandbox)" if channel.sandbox else ""),
        }
    )


def send(
    st: Store,
    channel: Connector,
    version: dict[str, Any],
    identity: Identity,
    folder: Any,
    per_minute: int | None,
) -> str:
    item_id, number = version["item_id"], version["version"]
    item = st.get_item(item_id) or {}
    if version["status"] == "approved":
        if ledger.rate_limited(st, channel, per_minute):
            return ledger.RATE_LIMITED
        if not rows.set_status(st, item_id, number, "sending", actor=AGENT, expect=("approved",)):
            return ledger.HELD
    st.transition(item_id, "sending", actor=AGENT, expect=("approved",))
    pdf = render_pdf(version["markdown"], title=version["title"], author=identity.business_name)
    atomic_write(folder / f"{item_id}-{attachment_name(version)}", pdf)
    ledger.failpoint(f"proposal:after_sending:{channel.name}")
    result, key = ledger.deliver(
        st,
        channel,
        item_id=item_id,
        destination=version["to_address"],
        purpose=PURPOSE,
        content_hash=version["content_sha256"],
        payload=lambda key: compose_proposal(item, version, pdf, identity, delivery_id=key),
        per_minute=per_minute,
    )
    if result == ledger.DELIVERED:
        rows.set_status(st, item_id, number, "sent", actor=AGENT, expect=("sending",))
        _delivered(st, item, version, key=key)
    elif result in (ledger.RETRY, ledger.RATE_LIMITED):
        rows.set_status(st, item_id, number, "approved", actor=AGENT, expect=("sending",))
        st.transition(item_id, "approved", actor=AGENT, expect=("sending",))
    elif result in (ledger.UNCONFIRMED, ledger.FAILED, ledger.ERASED):
        code, reason = {
            ledger.UNCONFIRMED: ("delivery_unconfirmed", MAY_HAVE_ARRIVED),
            ledger.FAILED: ("delivery_failed", "the far side refused the proposal"),
            ledger.ERASED: ("contact_erased", "this contact was erased: nothing more is sent"),
        }[result]
        rows.set_status(
            st,
            item_id,
            number,
            "send_" + result,
            actor=AGENT,
            expect=("sending",),
            reason_code=code,
        )
        to_owner(st, item_id, actor=AGENT, code=code, reason=reason)
    return result


def _delivered(
    st: Store, item: dict[str, Any], version: dict[str, Any], *, key: str | None
) -> None:
    """The deal moves to `proposal_sent` and the item to `delivered` (both idempotent)."""
    move_deal(st, item, "proposal_sent", amount=f"{version['total']:.2f} {version['currency']}")
    st.transition(
        item["id"],
        "delivered",
        actor=AGENT,
        expect=("sending",),
        detail={"delivery_id": key, "proposal_version": version["version"]},
    )
