"""Replies in the owner's own mailbox over IMAP (the account of `intake.imap` that names a
`sent_folder` or says `drafts: true`; resources/connectors/imap_config.py).

`ImapDrafts` is a reply channel: `send` puts the reply into the Drafts folder instead of
sending it, for the owner to send from their own client; the delivery is recorded as
`drafted_in_mailbox`. `file_copy` puts a copy of a reply sent by SMTP into the Sent folder.
Both look the message up by its Message-ID (which carries the delivery key) before they
append, so a crash after an APPEND, or a retry, never files it twice: the mailbox itself is
the far side that dedupes."""

from resources.connectors.base import ConnectorError, Receipt
from resources.connectors.imap import ImapUnavailable, imap_session
from resources.connectors.imap_config import ImapAccount

DRAFT_FLAGS = ("\\Draft", "\\Seen")
SENT_FLAGS = ("\\Seen",)


def file_copy(
    account: ImapAccount, password: str, folder: str, raw: bytes, key: str, flags: tuple[str, ...]
) -> str:
    """Append `raw` to `folder` unless a message carrying `key` in its Message-ID is there;
    a reference (account/folder:uid). Raises ImapUnavailable."""
    with imap_session(account, password) as session:
        uid = session.find_message_id(folder, key)
        if uid is None:
            session.append(folder, raw, flags)
            uid = session.find_message_id(folder, key)
    return f"imap:{account.name}/{folder}:{uid if uid is not None else '?'}"


class ImapDrafts:
    name = "imap_drafts"
    version = "1"
    can_dedupe = True  # looked up by Message-ID before every append
    sandbox = False
    delivered_state = "drafted_in_mailbox"

    def __init__(self, account: ImapAccount, password: str | None) -> None:
        self.account, self._password = account, password or ""
        self.folder = account.drafts_folder

    def send(self, payload: bytes, idempotency_key: str) -> Receipt:
        try:
            reference = file_copy(
                self.account, self._password, self.folder, payload, idempotency_key, DRAFT_FLAGS
            )
        except ImapUnavailable as exc:
            # Nothing is sent anywhere: a retry looks the draft up before appending again.
            raise ConnectorError(
                f"IMAP {self.account.name}: {exc.code}",
                code=f"imap_{exc.code}",
                permanent=exc.code == "login_failed",
            ) from exc
        return Receipt(self.name, idempotency_key, reference)

    def lookup(self, idempotency_key: str) -> Receipt | None:
        try:
            with imap_session(self.account, self._password) as session:
                uid = session.find_message_id(self.folder, idempotency_key)
        except ImapUnavailable:
            return None  # the drain tries again; send() looks it up once more first
        if uid is None:
            return None
        reference = f"imap:{self.account.name}/{self.folder}:{uid}"
        return Receipt(self.name, idempotency_key, reference)

    def health(self) -> tuple[bool, str]:
        try:
            with imap_session(self.account, self._password) as session:
                session.uidvalidity(self.folder)
        except ImapUnavailable as exc:
            return False, f"IMAP {self.account.name} {self.folder}: {exc.code}"
        return True, f"IMAP {self.account.name} {self.folder} reachable"
