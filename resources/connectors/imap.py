"""A small IMAP client for intake (imap-tools underneath): connect with retries, read a
folder's UIDVALIDITY, fetch messages by UID after a mark without touching their flags, then
flag them \\Seen or move them. Nothing here ever deletes or expunges a message by itself.

Failures come out as `ImapUnavailable` with a reason code (never the password, never text)."""

import contextlib
import imaplib
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from resources.connectors.imap_config import ImapAccount

if TYPE_CHECKING:
    from imap_tools import BaseMailBox

CONNECT_ATTEMPTS = 3
FIRST_DELAY_S = 0.2  # doubles on each attempt: a brief outage is ridden out within one tick


class ImapUnavailable(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    raw: bytes


def _mailbox(account: ImapAccount) -> "BaseMailBox":
    from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

    host, port, timeout = account.host, account.effective_port, account.timeout_s
    if account.tls == "ssl":
        return MailBox(host, port, timeout=timeout, ssl_context=ssl.create_default_context())
    if account.tls == "starttls":
        return MailBoxStartTls(
            host, port, timeout=timeout, ssl_context=ssl.create_default_context()
        )
    return MailBoxUnencrypted(host, port, timeout=timeout)


def _login(account: ImapAccount, password: str) -> "BaseMailBox":
    from imap_tools.errors import MailboxLoginError

    try:
        box = _mailbox(account)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapUnavailable("connect_failed", type(exc).__name__) from exc
    try:
        box.login(account.user, password, initial_folder=None)
    except MailboxLoginError as exc:
        _close_quietly(box)
        raise ImapUnavailable("login_failed", "the server refused the user or password") from exc
    except (OSError, imaplib.IMAP4.error) as exc:
        _close_quietly(box)
        raise ImapUnavailable("connect_failed", type(exc).__name__) from exc
    return box


def _close_quietly(box: "BaseMailBox") -> None:
    with contextlib.suppress(Exception):  # a broken connection: nothing left to save
        box.client.shutdown()


def connect_with_retries(
    account: ImapAccount,
    password: str,
    *,
    attempts: int = CONNECT_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> "BaseMailBox":
    """Log in, retrying a connection failure with a doubling delay; a refused login is final
    (asking again with the same password only locks the account)."""
    delay = FIRST_DELAY_S
    for attempt in range(1, attempts + 1):
        try:
            return _login(account, password)
        except ImapUnavailable as exc:
            if exc.code == "login_failed" or attempt == attempts:
                raise
        sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


class ImapSession:
    """One logged-in connection; folders are selected as they are used."""

    def __init__(self, box: "BaseMailBox") -> None:
        self._box = box

    def uidvalidity(self, folder: str) -> int:
        return int(self._box.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])

    def fetch_after(self, folder: str, last_uid: int, *, limit: int) -> list[FetchedMessage]:
        """Messages with a UID above `last_uid`, oldest first, flags untouched (BODY.PEEK)."""
        from imap_tools import MailMessage

        class _Raw(MailMessage):
            def __init__(self, fetch_data: list[Any]) -> None:
                super().__init__(fetch_data)
                self.raw: bytes = self._get_message_data_parts(fetch_data)[0]

        self._box.folder.set(folder)
        # `n:*` always matches the highest UID, even below n: filter again here.
        uids = [int(u) for u in self._box.uids(f"UID {last_uid + 1}:*") if int(u) > last_uid]
        uids = sorted(uids)[:limit]
        if not uids:
            return []
        self._box.email_message_class = _Raw
        fetched = []
        for message in self._box.fetch(uid_list=[str(u) for u in uids], mark_seen=False, bulk=50):
            if not (isinstance(message, _Raw)):  # an invariant, kept under python -O
                raise RuntimeError("invariant broken: isinstance(message, _Raw)")
            if message.uid is not None:
                fetched.append(FetchedMessage(int(message.uid), message.raw))
        return sorted(fetched, key=lambda m: m.uid)

    def find_message_id(self, folder: str, message_id: str) -> int | None:
        """The UID of a message in `folder` whose Message-ID contains `message_id`."""
        from imap_tools import AND, H

        self._box.folder.set(folder)
        uids = self._box.uids(AND(header=H("Message-ID", message_id)))
        return int(uids[0]) if uids else None

    def append(self, folder: str, raw: bytes, flags: tuple[str, ...]) -> None:
        """Add a message to `folder` (never replacing one: the caller checks first)."""
        result = self._box.append(raw, folder, flag_set=list(flags))
        if result[0] != "OK":
            raise ImapUnavailable("append_refused", f"the server refused APPEND ({result[0]})")

    def can_idle(self) -> bool:
        return "IDLE" in self._box.client.capabilities

    def wait_for_mail(self, folder: str, timeout_s: float) -> bool:
        """Block in IDLE on `folder` until the server reports a change or `timeout_s` passes;
        whether something changed. RFC 2177 asks clients to re-issue IDLE within 29 minutes."""
        self._box.folder.set(folder)
        responses = self._box.idle.wait(timeout=min(timeout_s, 29 * 60))
        return bool(responses)

    def mark_taken(self, folder: str, uids: list[int], move_to: str | None) -> None:
        """Flag \\Seen, and move when the config asks (a server without MOVE gets COPY, then
        the original is flagged deleted by imap-tools: that is the move, not a deletion)."""
        from imap_tools import MailMessageFlags

        if not uids:
            return
        self._box.folder.set(folder)
        wanted = [str(u) for u in uids]
        self._box.flag(wanted, MailMessageFlags.SEEN, True)
        if move_to:
            self._box.move(wanted, move_to)


@contextmanager
def imap_session(account: ImapAccount, password: str) -> Iterator[ImapSession]:
    from imap_tools.errors import ImapToolsError

    box = connect_with_retries(account, password)
    try:
        yield ImapSession(box)
    except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:
        # A folder that does not exist lands here too: the code says which kind it was.
        raise ImapUnavailable("server_error", type(exc).__name__) from exc
    finally:
        try:
            box.logout()
        except Exception:  # the server went away: the session is over either way
            _close_quietly(box)
