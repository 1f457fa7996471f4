"""The inbound SMTP door: aiosmtpd on the server's one loop (loop.create_server).

Hooks parse, call the Inbound service, and turn its answer or a domain error into an SMTP
reply line in `smtp_reply`, the one place that knows the pairs. 250 is said only after
the mail is committed.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import weakref
from collections import defaultdict
from dataclasses import replace
from typing import Any, AnyStr

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session, syntax

from trademail import metrics
from trademail.config import SmtpConfig
from trademail.errors import (
    Forbidden,
    InvalidInput,
    LimitReached,
    MailDeferred,
    MailRefused,
    MasterKeyError,
    NotFound,
    SpamRefused,
    StorageFull,
    StoreError,
    TooLarge,
    TradeMailError,
)
from trademail.gateway.dnscache import CachingResolver
from trademail.gateway.senderchecks import SenderChecks
from trademail.gateway.smtpdata import WorkBudget, read_data
from trademail.mail.reader import MailReader
from trademail.services.inbound import Destination, Inbound
from trademail.services.incoming import ReadMail

log = structlog.get_logger(__name__)

MAX_RECIPIENTS = 20
# The reply to each reason the inbound service gives for refusing or deferring a mail.
REPLIES = {
    "unreadable": "550 5.6.0 A header of the message cannot be read",
    "too_complex": "550 5.6.0 The message is too complex to read",
    "mixed_recipients": "550 5.5.3 One conversation per message",
    "loop": "554 5.4.6 Too many hops: a mail loop",
    "forged_reply": "550 5.7.1 This reply address takes mail only from its owner's "
                    "registered address",
    "conversation_gone": "550 5.1.1 This conversation no longer exists",
    "sender_not_ascii": "550 5.6.7 This address cannot be answered (it is not ASCII)",
    "no_sender": "550 5.1.7 The mail names no valid sender address",
    "busy": "451 4.3.0 The message could not be read now; try again later",
    "spam_unchecked": "451 4.7.1 The message could not be checked for spam now; try again "
                      "later",
    "blocked": "550 5.7.1 The recipient does not accept mail from this sender",
    "dmarc_reject": "550 5.7.1 DMARC failed, and the sender's domain asks for such mail to "
                    "be rejected (p=reject)",
    "dns_timeout": "451 4.4.3 DNS did not answer while checking the sender (SPF, DKIM, "
                   "DMARC); try again later",
}


def smtp_reply(exc: BaseException) -> str:
    """A domain error as an SMTP reply line. Never quotes an address or the mail."""
    if isinstance(exc, NotFound):
        return "550 5.1.1 No such recipient here"
    if isinstance(exc, TooLarge):  # its messages name limits, never the mail's content
        detail = "; ".join(p.message for p in exc.problems)[:200]
        return f"552 5.3.4 Message too big: {detail}" if detail else "552 5.3.4 Message too big"
    if isinstance(exc, LimitReached):
        return "450 4.7.1 The sender's sending limit is reached; try again later"
    if isinstance(exc, Forbidden):
        return "550 5.7.1 The sender may not send this message"
    if isinstance(exc, SpamRefused):  # the filter's action and rule names, never an address
        return f"550 5.7.1 Refused as spam: {exc.summary}"[:300]
    if isinstance(exc, MailRefused | MailDeferred):
        return REPLIES.get(exc.reason, "550 5.7.1 Message refused" if isinstance(
            exc, MailRefused) else "451 4.3.0 Temporary failure; try again later")
    if isinstance(exc, InvalidInput):
        detail = "; ".join(p.message for p in exc.problems)[:200]
        return f"550 5.6.0 Message refused: {detail}"
    if isinstance(exc, StorageFull):
        log.error("smtp: storage full", error=exc.__class__.__name__)
        return "452 4.3.1 Insufficient system storage; try again later"
    if isinstance(exc, StoreError | MasterKeyError):
        log.error("smtp: store unavailable", error=exc.__class__.__name__)
        return "451 4.3.0 Temporary failure; try again later"
    if isinstance(exc, TradeMailError):
        log.error("smtp: unmapped domain error", error=exc.__class__.__name__)
        return "451 4.3.0 Temporary failure; try again later"
    log.error("smtp: unexpected error", error=exc.__class__.__name__, exc_info=exc)
    return "451 4.3.0 Temporary failure; try again later"


class ClientLimits:
    """Open connections per client address and in all, in this process: a connection is
    the process's own resource (its socket, its memory). Messages per minute are counted by
    the inbound service, across processes."""

    def __init__(self, max_connections: int, *, max_total: int) -> None:
        self._max_connections = max_connections
        self._max_total = max_total
        self._total = 0
        self._open: dict[str, int] = defaultdict(int)

    def connect(self, client: str) -> str | None:
        """None when the client may connect, else the 421 line that turns it away."""
        if self._total >= self._max_total:
            return "421 4.3.2 Too many connections; try again later"
        if self._open[client] >= self._max_connections:
            return "421 4.7.0 Too many connections from your address"
        self._open[client] += 1
        self._total += 1
        return None

    def disconnect(self, client: str) -> None:
        self._total -= 1
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]


def _not_text(address: str) -> bool:
    """aiosmtpd hands over bytes that are not UTF-8 as lone surrogates: no address has them,
    and nothing below the door can encode them."""
    try:
        address.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


BAD_BYTES = "553 5.1.3 The address is not valid UTF-8"


def _peer_host(peer: object) -> str:
    """The client's IP address from a socket's peername, or "unknown"."""
    return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"


class GatewayHandler:
    """aiosmtpd hooks: thin, one service call each (DATA reads the mail first)."""

    def __init__(self, inbound: Inbound, reader: MailReader, limits: ClientLimits,
                 budget: WorkBudget, checks: SenderChecks | None = None) -> None:
        self._inbound = inbound
        self._reader = reader
        self._limits = limits
        self._budget = budget
        self._checks = checks
        # What each transaction's first recipient is; gone with its envelope (aiosmtpd makes
        # a new one after DATA and on RSET).
        self._first: weakref.WeakKeyDictionary[Envelope, Destination] = \
            weakref.WeakKeyDictionary()

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if _not_text(address):
            return BAD_BYTES
        if not await self._inbound.admit_client(_peer_host(session.peer)):
            return "451 4.7.1 Too many messages from your address; try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        if _not_text(address):
            return BAD_BYTES
        try:
            where = await self._inbound.destination(address)
        except Exception as exc:
            return smtp_reply(exc)
        if not envelope.rcpt_tos:
            self._first[envelope] = where
        first = self._first[envelope]
        if first.kind != where.kind:
            return "550 5.5.3 One conversation per message: send this one on its own"
        if envelope.rcpt_tos and not self._inbound.compatible(first, where):
            return "452 4.5.3 One reply or bounce address per message; send the rest again"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        first = self._first.get(envelope)
        try:
            async with self._budget.hold(len(raw)):
                mail = await self._reader.read(raw, bounce=first is not None
                                               and first.kind == "bounce")
                mail = await self._checked(session, envelope, mail, raw, first)
                outcomes = await self._inbound.receive(
                    envelope.mail_from or "", list(envelope.rcpt_tos), mail, raw,
                    client=(_peer_host(session.peer), session.host_name or ""))
        except Exception as exc:
            reply = smtp_reply(exc)
            metrics.SMTP_MESSAGES.labels("deferred" if reply[0] == "4" else "refused").inc()
            return reply
        metrics.SMTP_MESSAGES.labels("accepted").inc()
        log.info("mail received", outcomes=outcomes, size=len(raw))
        return "250 2.0.0 OK: queued"

    async def _checked(self, session: Session, envelope: Envelope, mail: ReadMail,
                       raw: bytes, first: Destination | None) -> ReadMail:
        """The mail with our own DMARC verdict, when we make one (no trusted upstream);
        not for bounces, whose null sender nothing can be checked for."""
        senders = mail.addresses["from"]
        if self._checks is None or first is None or first.kind == "bounce" or \
                not envelope.mail_from or len(senders) != 1:
            return mail
        found = await self._checks.check_off_loop(
            raw, _peer_host(session.peer), session.host_name or "", envelope.mail_from,
            senders[0][1].rpartition("@")[2].lower())
        return replace(mail, dmarc_pass=found.dmarc_pass, dmarc_reject=found.reject)

    async def handle_exception(self, error: Exception) -> str:
        return smtp_reply(error)


class GatewaySMTP(SMTP):
    """aiosmtpd's SMTP with limits on open connections (per client and in all), answered
    with 421."""

    def __init__(self, handler: GatewayHandler, limits: ClientLimits,
                 registry: set[GatewaySMTP], **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._limits = limits
        self._registry = registry
        self._counted: str | None = None
        self._turned_away = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None and self._counted is None:  # not the STARTTLS one
            client = _peer_host(transport.get_extra_info("peername"))
            refusal = self._limits.connect(client)
            if refusal is not None:
                self._turned_away = True
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(refusal.encode() + b"\r\n")
                transport.close()
                return
            self._counted = client
            self._registry.add(self)
            metrics.SMTP_SESSIONS.inc()
            metrics.SMTP_OPEN.inc()
        super().connection_made(transport)

    async def _call_handler_hook(self, command: str, *args: Any) -> Any:
        # [smtp] timeout_seconds measures the client, not us: aiosmtpd's timer would run on
        # while a hook reads and commits a mail, and cut an honest sender off before its
        # 250. It stops while a hook works and starts again once the reply is known.
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()
        try:
            return await super()._call_handler_hook(command, *args)
        finally:
            if self.transport is not None:
                self._reset_timeout()

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        # aiosmtpd's own, but with the mail read by gateway/smtpdata.py in the pieces that
        # arrive rather than a line at a time: less memory, and no one else held up.
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content, reply = await read_data(self._reader, self.data_size_limit,
                                             self.line_length_limit)
        except asyncio.CancelledError:  # the connection went in the middle of the mail
            self._writer.close()
            raise
        if reply is None:
            self.envelope.content = self.envelope.original_content = content
            reply = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(reply)

    def _timeout_cb(self) -> None:
        # A client gone quiet in the middle of the TLS handshake: closing the TLS transport
        # would never reach connection_lost (the TLS layer reports a loss only after a
        # handshake), and the connection would stay counted for good. Cut the socket.
        socket_side = self._original_transport
        if (self._tls_protocol is not None and isinstance(socket_side, asyncio.Transport)
                and self.session is not None and self.session.ssl is None):
            socket_side.abort()
            self.connection_lost(None)
            return
        super()._timeout_cb()

    def connection_lost(self, error: Exception | None) -> None:
        if self._turned_away or self.transport is None:  # refused, or already let go
            return
        if self._counted is not None:
            self._limits.disconnect(self._counted)
            self._counted = None
            self._registry.discard(self)
            metrics.SMTP_OPEN.dec()
        super().connection_lost(error)

    async def push(self, status: AnyStr) -> None:
        # aiosmtpd's refusal before STARTTLS carries no enhanced status code (RFC 3207 s. 4).
        if status == "530 Must issue a STARTTLS command first":
            await super().push("530 5.7.0 Must issue a STARTTLS command first")
        else:
            await super().push(status)


def tls_context(config: SmtpConfig) -> ssl.SSLContext | None:
    if not (config.tls_cert_file and config.tls_key_file):
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    return context


class SmtpGateway:
    """The listening socket and its sessions, started and stopped with the app."""

    def __init__(self, inbound: Inbound, reader: MailReader, config: SmtpConfig) -> None:
        self._config = config
        self._limits = ClientLimits(config.max_connections_per_client,
                                    max_total=config.max_connections)
        checks = SenderChecks(CachingResolver(
            config.dns_server, timeout=config.dns_timeout_seconds)) \
            if config.check_senders and not config.trusted_authserv_id.strip() else None
        # Two of the largest mails worked on at once: as many as the reading workers take.
        budget = WorkBudget(2 * config.max_message_bytes)
        self._handler = GatewayHandler(inbound, reader, self._limits, budget, checks)
        if checks is not None:
            log.info("smtp: no trusted_authserv_id: the gateway checks SPF, DKIM and DMARC "
                     "itself")
        elif config.require_dmarc_pass and not config.trusted_authserv_id.strip():
            log.warning("smtp: require_dmarc_pass is on but trusted_authserv_id is empty: no "
                        "Authentication-Results header is trusted, so every reply by mail "
                        "is refused")
        elif not config.trusted_authserv_id.strip():
            log.warning("smtp: trusted_authserv_id is empty: no mail to an alias can be "
                        "proven a member's (DMARC), so all of it is taken as outside mail")
        self._sessions: set[GatewaySMTP] = set()
        self._server: asyncio.Server | None = None
        self.address: tuple[str, int] = (config.host, config.port)

    async def start(self, sock: socket.socket | None = None) -> None:
        """Listen on the configured address, or on `sock` (bound by a supervisor)."""
        loop = asyncio.get_running_loop()
        context = tls_context(self._config)

        def session() -> GatewaySMTP:
            return GatewaySMTP(self._handler, self._limits, self._sessions, loop=loop,
                               data_size_limit=self._config.max_message_bytes,
                               hostname=self._config.relay_domain, ident="TradeMail ESMTP",
                               enable_SMTPUTF8=True, tls_context=context,
                               require_starttls=self._config.require_tls,
                               timeout=self._config.timeout_seconds)

        try:
            self._server = await (
                loop.create_server(session, sock=sock) if sock is not None
                else loop.create_server(session, self._config.host, self._config.port))
        except OSError as exc:
            raise TradeMailError(f"cannot listen for SMTP on {self._config.host}:"
                                 f"{self._config.port}: {exc.strerror or exc}") from None
        host, port = self._server.sockets[0].getsockname()[:2]
        self.address = (str(host), int(port))

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for smtp in list(self._sessions):
            if smtp.transport is not None:
                smtp.transport.close()
        await self._server.wait_closed()
        self._server = None
