"""Where outbound mail goes: a smarthost over SMTP (aiosmtplib), or a Maildir on disk."""

from __future__ import annotations

import asyncio
import contextlib
import mailbox
import ssl
from pathlib import Path

import aiosmtplib

from trademail.config import Config
from trademail.errors import DeliveryFailed, PermanentFailure, TemporaryFailure
from trademail.services.bounces import status_in
from trademail.services.delivery import MailTransport, OutboundMail


def _refused(code: int, message: str) -> DeliveryFailed:
    """A smarthost's refusal: permanent for 5xx, temporary otherwise, saying the reply code
    and the enhanced status, never the free text (it may quote addresses). A reply with
    only a basic code stands for the status RFC 3463 section 3 maps it to: 551 and 553 are
    address failures; any other says nothing of the address."""
    first = message.split(maxsplit=1)[0] if message else ""
    given = status_in(first)
    status = given or ("5.1.0" if code in (551, 553) else f"{str(code)[:1]}.0.0")
    failure = PermanentFailure if code >= 500 else TemporaryFailure
    return failure(f"{code} {given}".strip(), status)


class SmtpTransport:
    """One SMTP session per mail to the smarthost; replies map to temporary or permanent."""

    def __init__(self, host: str, port: int, *, username: str = "", password: str = "",
                 tls: str = "starttls", timeout: float = 60.0,
                 tls_context: ssl.SSLContext | None = None) -> None:
        self._host = host
        self._port = port
        self._username = username or None
        self._password = password or None
        self._tls = tls
        self._timeout = timeout
        self._context = tls_context

    async def send(self, mail: OutboundMail) -> None:
        client = aiosmtplib.SMTP(
            hostname=self._host, port=self._port, username=self._username,
            password=self._password, use_tls=self._tls == "tls",
            start_tls=True if self._username and self._tls == "starttls" else (
                None if self._tls == "starttls" else False),
            tls_context=self._context, timeout=self._timeout)
        try:
            await client.connect()
            errors, _ = await client.sendmail(mail.envelope_from, list(mail.recipients),
                                              mail.data)
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.quit()  # the mail is taken: how the session ends is no matter
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # Permanent only when every recipient is refused for good.
            worst = min(exc.recipients, key=lambda r: r.code >= 500)
            raise _refused(worst.code, worst.message) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _refused(exc.code, exc.message) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"connection: {exc.__class__.__name__}") from None
        finally:
            # At once, with no QUIT: a delivery that is stopped (the server shutting down)
            # must not wait for a reply from a smarthost that may never give one.
            client.close()
        refused = [r for r in errors.values() if r.code >= 400]
        if refused and len(refused) == len(mail.recipients):
            reply = min(refused, key=lambda r: r.code >= 500)
            raise _refused(reply.code, reply.message)


class MaildirTransport:
    """The default with no smarthost: every mail TradeMail would send, kept for a look."""

    def __init__(self, path: Path) -> None:
        self._path = path

    async def send(self, mail: OutboundMail) -> None:
        envelope = (f"Return-Path: <{mail.envelope_from}>\r\n"
                    f"X-Envelope-To: {', '.join(mail.recipients)}\r\n").encode()
        await asyncio.get_running_loop().run_in_executor(None, self._write, envelope + mail.data)

    def _write(self, data: bytes) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)  # Maildir makes one level
            mailbox.Maildir(self._path, create=True).add(data)
        except OSError as exc:
            raise TemporaryFailure(f"maildir: {exc.strerror or exc.__class__.__name__}") from None


def mail_transport(config: Config) -> MailTransport:
    """The transport the config names: its smarthost, or else the Maildir."""
    relay = config.relay
    if not relay.smarthost:
        return MaildirTransport(config.maildir_path)
    host, _, port = relay.smarthost.rpartition(":")
    return SmtpTransport(host, int(port), username=relay.username,
                         password=relay.password.reveal(), tls=relay.tls,
                         timeout=relay.timeout_seconds)
