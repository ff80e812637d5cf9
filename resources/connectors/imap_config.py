"""The IMAP accounts intake reads (config: `intake.imap`). The password is never in the file:
`password_env` names the environment variable that holds it.

The same account is the owner's mailbox for replies: with `sent_folder`, every reply sent by
SMTP is filed there too; with `drafts: true`, replies are put into `drafts_folder` instead of
being sent, for the owner to send from their own client (ops_assets/defs/delivery/mailbox.py).
The first account that says either is the one used."""

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ImapAccount(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    """Names the account in item sources, alerts and the store's intake state."""
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, gt=0, lt=65536)
    """None = 993 for `ssl`, 143 otherwise."""
    tls: Literal["ssl", "starttls", "none"] = "ssl"
    user: str = Field(min_length=1)
    password_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    folders: list[str] = Field(default_factory=lambda: ["INBOX"], min_length=1)
    move_to: str | None = None
    """A folder taken messages are moved to; None = they stay where they are, flagged \\Seen."""
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Per connection attempt; a tick tries three times, and the sensor waits for it."""
    max_messages_per_tick: int = Field(default=100, gt=0, le=10_000)
    idle: bool = True
    """Wait on IMAP IDLE between ticks where the server offers it (sensors/imap_idle.py)."""
    sent_folder: str | None = None
    """Where each reply sent by SMTP is filed (`Sent`, `Sent Items`); None = nowhere."""
    drafts: bool = False
    """Put replies into `drafts_folder` instead of sending them (the owner presses send)."""
    drafts_folder: str = Field(default="Drafts", min_length=1)

    @property
    def files_replies(self) -> bool:
        return self.drafts or self.sent_folder is not None

    @model_validator(mode="after")
    def _no_plaintext_password_abroad(self) -> "ImapAccount":
        # A password sent in clear text to another machine is readable on every hop.
        if self.tls == "none" and not is_loopback(self.host):
            raise ValueError(
                f"tls: none is allowed for a server on this machine only, not {self.host}"
            )
        if self.move_to is not None and self.move_to in self.folders:
            raise ValueError(f"move_to {self.move_to!r} is one of the folders read")
        for name in (self.sent_folder, self.drafts_folder if self.drafts else None):
            if name is not None and name in self.folders:
                # Our own replies would come back in as mail to answer.
                raise ValueError(f"{name!r} is one of the folders read")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 993 if self.tls == "ssl" else 143


def mailbox_account(accounts: list[ImapAccount]) -> ImapAccount | None:
    """The account replies are filed in (Sent) or drafted in (Drafts), if any."""
    return next((account for account in accounts if account.files_replies), None)
