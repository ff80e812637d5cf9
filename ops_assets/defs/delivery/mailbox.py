"""Replies in the owner's own mailbox (the IMAP account that names `sent_folder` or says
`drafts: true`): drafted there instead of sent, or filed in Sent after SMTP took them.

Filing in Sent runs under the ledger, once: the send marks the delivery as wanted in the
mailbox, the copy is looked up by Message-ID before it is appended (a crash after an APPEND
finds it there), and then recorded. An IMAP outage leaves it wanted, with an alert: the next
drain files it, recomposed from the reply the ledger sent (same Message-ID, its send time)."""

import email.utils
from datetime import datetime

from ops_assets.agents.agent_run import final_draft
from ops_assets.defs.delivery import ledger
from ops_assets.defs.reply_draft.compose import compose_reply
from ops_assets.observability.alerts import write_alert
from resources.connectors.base import Connector, Sandbox
from resources.connectors.imap import ImapUnavailable
from resources.connectors.imap_config import ImapAccount, mailbox_account
from resources.connectors.imap_mailbox import SENT_FLAGS, ImapDrafts, file_copy
from resources.settings import SettingsResource
from resources.settings.environment import secret_value
from resources.store import Store
from resources.store.mailbox_links import (
    MailboxCopy,
    delivery,
    record_copy,
    want_copy,
    wanted_copies,
)

AFTER_APPEND = "delivery:after_sent_copy:imap"


def _account(settings: SettingsResource) -> ImapAccount | None:
    return mailbox_account(settings.config().intake.imap)


def drafts_channel(settings: SettingsResource, st: Store, *, agent: str) -> Connector | None:
    """The Drafts folder as the reply channel, when the config says `drafts: true`."""
    from resources.scopes import require_scope

    account = _account(settings)
    if account is None or not account.drafts:
        return None
    connector = ImapDrafts(account, secret_value(account.password_env))
    require_scope(st, agent, f"connector:{connector.name}", settings.policy().scopes)
    if settings.config().connectors.sandbox:
        return Sandbox(connector, settings.home_dir().root / "sandbox" / connector.name, ".eml")
    return connector


def _recompose(st: Store, settings: SettingsResource, key: str) -> bytes | None:
    row = delivery(st, key)
    item = st.get_item(row["item_id"]) if row else None
    draft = final_draft(st, item["id"]) if item else None
    if row is None or item is None or draft is None:
        return None
    body = draft["output"]
    sent_at = datetime.fromisoformat(row["updated_at"])
    payload = compose_reply(
        item, body["body"], settings.config().identity, delivery_id=key, invite=body.get("invite")
    )
    return f"Date: {email.utils.format_datetime(sent_at)}\r\n".encode() + payload


def file_in_sent(
    st: Store, settings: SettingsResource, sent: dict[str, bytes]
) -> tuple[list[str], list[str]]:
    """File the replies SMTP took now (and any left over) in Sent: (filed, still waiting)."""
    account = _account(settings)
    if account is None or account.drafts or account.sent_folder is None:
        return [], []
    for key in sent:
        want_copy(st, key)
    password = secret_value(account.password_env) or ""
    filed, waiting = [], []
    for key in wanted_copies(st):
        raw = sent.get(key) or _recompose(st, settings, key)
        if raw is None:
            continue  # its item was erased: nothing left to file
        try:
            reference = file_copy(account, password, account.sent_folder, raw, key, SENT_FLAGS)
        except ImapUnavailable as exc:
            waiting.append(key)
            write_alert(
                settings.home_dir(), "mailbox_copy_failed", delivery_id=key, reason_code=exc.code
            )
            continue
        ledger.failpoint(AFTER_APPEND)
        record_copy(st, key, MailboxCopy(folder=account.sent_folder, reference=reference))
        filed.append(key)
    return filed, waiting
