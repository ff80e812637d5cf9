"""SMTP email through smtplib. The idempotency key is the Message-ID the composer wrote; the
send is confirmed by the server's acceptance of the message (250 after DATA). SMTP servers do
not dedupe, so a send without a recorded receipt is never retried automatically."""

import email
import email.policy
import email.utils
import smtplib
import ssl

from resources.connectors.base import ConnectorError, Receipt


class SmtpConnector:
    name = "smtp"
    version = "1"
    can_dedupe = False
    sandbox = False

    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool = False,
        use_ssl: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.host, self.port = host, port
        self.starttls, self.use_ssl = starttls, use_ssl
        self.username, self._password = username, password
        self.timeout_s = timeout_s

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.use_ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout_s, context=context
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            if self.starttls:
                client.starttls(context=context)
        if self.username:
            client.login(self.username, self._password or "")
        return client

    def send(self, payload: bytes, idempotency_key: str) -> Receipt:
        message = email.message_from_bytes(payload, policy=email.policy.SMTP)
        sender = email.utils.parseaddr(str(message["From"]))[1]
        recipients = [a for _, a in email.utils.getaddresses([str(message["To"] or "")]) if a]
        if not recipients:
            raise ConnectorError(
                "the message has no recipient", code="smtp_no_recipient", permanent=True
            )
        if idempotency_key not in str(message["Message-ID"] or ""):
            raise ConnectorError(
                "the Message-ID must carry the idempotency key",
                code="smtp_bad_message_id",
                permanent=True,
            )
        if not all(a.isascii() for a in (sender, *recipients)):
            # Plain SMTP cannot carry them (SMTPUTF8 is not negotiated): refused before sending.
            raise ConnectorError(
                "an address is not ASCII", code="smtp_address_not_ascii", permanent=True
            )
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectorError(
                f"SMTP {self.host}:{self.port} unreachable ({type(exc).__name__})",
                code="smtp_unreachable",
                permanent=False,
            ) from exc
        # Only codes leave this method, never the server's text: a bounce quotes the
        # recipient's address, and what is said here ends in the append-only audit log.
        try:
            refused = client.sendmail(sender, recipients, payload)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise ConnectorError(
                f"SMTP refused the recipient ({', '.join(map(str, codes))})",
                code=f"smtp_{codes[0]}" if codes else "smtp_recipient_refused",
                permanent=True,
            ) from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx: the server refuses this message for good; 4xx: try again later.
            raise ConnectorError(
                f"SMTP answered {exc.smtp_code}",
                code=f"smtp_{exc.smtp_code}",
                permanent=exc.smtp_code >= 500,
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            # The line broke mid-conversation (or the answer to DATA never came in time): the
            # server may have taken the message.
            raise ConnectorError(
                f"SMTP connection lost ({type(exc).__name__}): the message may have arrived",
                code="smtp_connection_lost",
                permanent=False,
                maybe_sent=True,
            ) from exc
        finally:
            # The server's answer to QUIT says nothing about a message it already took.
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        if refused:
            codes = sorted({code for code, _ in refused.values()})
            raise ConnectorError(
                f"SMTP refused {len(refused)} recipient(s) ({', '.join(map(str, codes))})",
                code=f"smtp_{codes[0]}",
                permanent=True,
            )
        return Receipt(self.name, idempotency_key, f"smtp://{self.host}:{self.port} accepted")

    def lookup(self, idempotency_key: str) -> Receipt | None:
        return None  # an SMTP server cannot say whether it saw a message

    def health(self) -> tuple[bool, str]:
        try:
            with self._connect() as client:
                code, _ = client.noop()
        except (OSError, smtplib.SMTPException) as exc:
            return False, f"SMTP {self.host}:{self.port} unreachable: {exc}"[:300]
        return code == 250, f"SMTP {self.host}:{self.port} answers {code}"
