"""Modes attacked that no test covered before: replies and member mail under
`require_dmarc_pass` behind a trusted upstream (forged, conflicting and malformed
Authentication-Results), STARTTLS-only intake (nothing in clear), and webhooks over real
HTTPS with a throwaway CA (unknown CA, expired, wrong host: refused and retried). What is
stored after a refusal is checked on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiohttp import web
from aiohttp.abc import ResolveResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import OUTBOUND, make_config, register, register_all, send
from tests.smtp_helpers import Smarthost
from tests.test_gateway import (  # noqa: F401 - fixtures are used by name
    Gateway,
    gateway_config,
    mail_bytes,
    parse,
    reply_address,
    smarthost,
)
from tests.test_gateway_tls import make_certificate
from tests.test_webhooks import ResolveTo, verify
from trademail.app import CORE, build_app
from trademail.appkeys import SMTP_GATEWAY
from trademail.errors import ConfigError, PermanentFailure
from trademail.gateway.transports import SmtpTransport
from trademail.gateway.webhooks import AiohttpWebhookSender
from trademail.mail.parse import dmarc_pass
from trademail.services.delivery import Webhook
from trademail.testing import FakeClock, MemoryTransport

UPSTREAM = "mx.relay.test"


# ---------------------------------------------------------------- require_dmarc_pass


def results(domain: str, *kinds: str) -> list[str]:
    """Authentication-Results values, topmost first, each named by what it says."""
    made = {
        "pass": f"{UPSTREAM}; spf=pass smtp.mailfrom={domain}; dmarc=pass header.from={domain}",
        "fail": f"{UPSTREAM}; dmarc=fail (p=reject) header.from={domain}",
        "none": f"{UPSTREAM}; dmarc=none header.from={domain}",
        "spf only": f"{UPSTREAM}; spf=pass smtp.mailfrom={domain}",
        "pass and fail": f"{UPSTREAM}; dmarc=pass header.from={domain}; "
                         f"dmarc=fail header.from={domain}",
        "forger's pass": f"mx.forger.example; dmarc=pass header.from={domain}",
        "pass elsewhere": f"{UPSTREAM}; dmarc=pass header.from=forger.example",
        "pass, no domain": f"{UPSTREAM}; dmarc=pass",
        "malformed": f"{UPSTREAM} dmarc=fail header.from {domain}",
        "malformed, commented": f"(filter 2) {UPSTREAM.upper()} (v1) dmarc fail",
    }
    return [made[kind] for kind in kinds]


# Each list is the mail's Authentication-Results, topmost (the upstream's) first; none of
# them proves the sender. A header below the upstream's was written by the sender.
UNPROVEN = {
    "dmarc fail": ["fail"],
    "dmarc none": ["none"],
    "no header": [],
    "untrusted authserv-id": ["forger's pass"],
    "pass for another domain": ["pass elsewhere"],
    "pass naming no domain": ["pass, no domain"],
    "malformed": ["malformed"],
    "conflicting headers": ["pass", "fail"],
    "conflicting results in one header": ["pass and fail"],
    "forged pass below the upstream's fail": ["fail", "pass"],
    "forged pass below an unreadable upstream header": ["malformed", "pass"],
    "forged pass below a commented unreadable header": ["malformed, commented", "pass"],
}


@pytest.mark.parametrize("kinds", UNPROVEN.values(), ids=UNPROVEN.keys())
def test_only_one_unanimous_pass_of_the_trusted_upstream_proves_dmarc(
        kinds: list[str]) -> None:
    """None of them says the sender's domain passed (a pass for another domain is no pass
    for theirs: the service compares the two)."""
    assert dmarc_pass(results("real-amina.example", *kinds), UPSTREAM) != "real-amina.example"


@pytest.mark.parametrize("kinds", [["pass"], ["forger's pass", "pass"], ["pass", "pass"],
                                   ["pass", "spf only"], ["spf only", "pass"], ["fail"]])
def test_the_upstreams_pass_counts_whatever_stands_above_it(kinds: list[str]) -> None:
    """Headers naming another authserv-id are ignored; the upstream's own headers are read
    together (its DKIM or SPF one may stand above its DMARC one), and a second one of
    them agreeing is no conflict."""
    expected = "" if kinds == ["fail"] else "real-amina.example"
    assert dmarc_pass(results("real-amina.example", *kinds), UPSTREAM) == expected
    assert dmarc_pass(results("real-amina.example", *kinds), "") == ""  # none trusted


def with_results(raw: bytes, values: list[str]) -> bytes:
    """The mail with these Authentication-Results on top, in order (as MTAs prepend)."""
    return b"".join(b"Authentication-Results: " + v.encode() + b"\r\n" for v in values) + raw


@pytest.fixture
async def strict(tmp_path: Path, store_url: str, clock: FakeClock, smarthost: Smarthost,  # noqa: F811
                 aiohttp_client: Any) -> Gateway:
    """The gateway behind a trusted upstream, taking replies by mail only with its DMARC
    pass (the database first, so it outlives the app at teardown)."""
    settings = gateway_config(tmp_path, store_url, TRADEMAIL_SMTP_REQUIRE_DMARC_PASS="true",
                              TRADEMAIL_SMTP_TRUSTED_AUTHSERV_ID=UPSTREAM)
    app = await build_app(settings, clock, transport=SmtpTransport(
        "127.0.0.1", smarthost.port, tls="none", timeout=5))
    app[OUTBOUND] = smarthost
    return Gateway(await aiohttp_client(app), app, smarthost)


async def count(gw: Gateway, table: str) -> int:
    return int(await gw.app[CORE].stores.db.fetchval(f"SELECT COUNT(*) FROM {table}"))  # noqa: S608 - a name of ours


async def sent_subjects(gw: Gateway, member: Any) -> list[str]:
    sent = await (await gw.client.get("/api/v1/messages?folder=sent",
                                      headers=member.auth)).json()
    return [m["subject"] for m in sent["messages"]]


async def test_a_reply_by_mail_without_the_upstreams_pass_is_refused_and_nothing_stored(
        strict: Gateway) -> None:
    amina, bakari = await register_all(strict.client, "amina", "bakari")
    await send(strict.client, amina, [bakari.username])
    reply_to = reply_address(parse((await strict.mails(1))[0].data))
    domain = bakari.email.rpartition("@")[2]
    for name, kinds in UNPROVEN.items():
        raw = mail_bytes(sender=bakari.email, name="Bakari", to=reply_to,
                         subject=f"Re: {name}", body="Confirmed, 20 t at 1,450 USD.")
        code, text = await strict.deliver(bakari.email, [reply_to],
                                          with_results(raw, results(domain, *kinds)))
        assert (code, text) == (550, "5.7.1 This reply address takes mail only from its "
                                     "owner's registered address"), name
        assert bakari.email not in text
        assert await count(strict, "messages") == 1, name  # Amina's message alone
        assert await count(strict, "inbound_mail") == 0, name
    assert await sent_subjects(strict, bakari) == []
    raw = mail_bytes(sender=bakari.email, name="Bakari", to=reply_to, subject="Re: proven",
                     body="Confirmed, 20 t at 1,450 USD.")
    code, text = await strict.deliver(bakari.email, [reply_to],
                                      with_results(raw, results(domain, "pass")))
    assert code == 250, text
    assert await count(strict, "messages") == 2
    assert await sent_subjects(strict, bakari) == ["Re: proven"]


async def test_member_mail_to_an_alias_without_the_upstreams_pass_is_outside_mail(
        strict: Gateway) -> None:
    """The documented behaviour: unproven, a member's address writing to an alias is an
    outsider's mail, its addresses hidden, and nothing is put in the member's name."""
    amina, bakari = await register_all(strict.client, "amina", "bakari")
    domain = amina.email.rpartition("@")[2]
    for n, (name, kinds) in enumerate(UNPROVEN.items(), start=1):
        raw = mail_bytes(sender=amina.email, name="Amina", to=bakari.alias, subject=name,
                         body=f"Write to {amina.email}")
        code, text = await strict.deliver(amina.email, [bakari.alias],
                                          with_results(raw, results(domain, *kinds)))
        assert code == 250, (name, text)
        inbox = await (await strict.client.get("/api/v1/messages",
                                               headers=bakari.auth)).json()
        assert len(inbox["messages"]) == n, name
        newest = inbox["messages"][0]
        assert newest["subject"] == name and newest["from"]["external"] is True, name
        assert newest["from"].get("username") != "amina", name
    assert await sent_subjects(strict, amina) == []
    raw = mail_bytes(sender=amina.email, name="Amina", to=bakari.alias, subject="proven",
                     body="From me, really.")
    code, _ = await strict.deliver(amina.email, [bakari.alias],
                                   with_results(raw, results(domain, "pass")))
    assert code == 250
    assert await sent_subjects(strict, amina) == ["proven"]


# ---------------------------------------------------------------- STARTTLS-only intake


def tls_only_config(tmp_path: Path, store_url: str) -> Any:
    cert, key = make_certificate(tmp_path)
    return make_config(tmp_path, store_url, TRADEMAIL_SMTP_TLS_CERT_FILE=str(cert),
                       TRADEMAIL_SMTP_TLS_KEY_FILE=str(key), TRADEMAIL_SMTP_REQUIRE_TLS="true")


async def clear_dialogue(port: int, lines: list[bytes]) -> list[str]:
    """Everything a client says in clear, pipelined in one write, then NOOP: the replies up
    to NOOP's."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        assert (await reader.readline()).startswith(b"220")
        writer.write(b"EHLO client.example\r\n")
        ehlo = []
        while not (line := await reader.readline()).startswith(b"250 "):
            ehlo.append(line)
        assert b"250-STARTTLS\r\n" in ehlo and not any(b"AUTH" in x for x in ehlo)
        writer.write(b"".join(line + b"\r\n" for line in lines) + b"NOOP\r\n")
        replies = []
        while True:
            reply = (await asyncio.wait_for(reader.readline(), 10)).decode().rstrip()
            if reply.startswith("250 ") and "OK" in reply:
                return replies
            replies.append(reply)
    finally:
        writer.close()


async def test_with_require_tls_nothing_is_taken_in_clear_and_all_of_it_after_starttls(
        aiohttp_client: Any, tmp_path: Path, store_url: str, clock: FakeClock) -> None:
    config = tls_only_config(tmp_path, store_url)
    transport = MemoryTransport()
    app = await build_app(config, clock, transport=transport)
    app[OUTBOUND] = transport
    client = await aiohttp_client(app)
    member = await register(client, "tilda")
    port = int(app[SMTP_GATEWAY].address[1])
    mail = (b"From: Buyer <buyer@outside.example>\r\nTo: " + member.alias.encode()
            + b"\r\nSubject: Sesame\r\nMessage-ID: <q1@outside.example>\r\n\r\n"
            b"Our price: 1,450 USD.\r\n")
    # A client that ignores the refusals and pipelines a whole transaction, AUTH included.
    replies = await clear_dialogue(port, [
        b"MAIL FROM:<buyer@outside.example>", b"RCPT TO:<" + member.alias.encode() + b">",
        b"DATA", *mail.split(b"\r\n"), b".", b"HELO client.example", b"RSET",
        b"AUTH PLAIN AGJ1eWVyAGxldC1tZS1pbg=="])
    refusal = "530 5.7.0 Must issue a STARTTLS command first"
    assert replies[:3] == [refusal] * 3
    assert all(r.startswith(("530 5.7.0 ", "500 ")) for r in replies), replies
    assert replies[-1] == refusal  # AUTH too: no password is read in clear
    assert await client.app[CORE].stores.db.fetchval("SELECT COUNT(*) FROM messages") == 0
    trust = ssl.create_default_context(cafile=config.smtp.tls_cert_file)
    async with aiosmtplib.SMTP(hostname="localhost", port=port, start_tls=False,
                               tls_context=trust, timeout=10) as smtp:
        await smtp.ehlo()
        await smtp.starttls()
        await smtp.ehlo()
        assert not smtp.supports_extension("starttls")
        errors, reply = await smtp.sendmail("buyer@outside.example", [member.alias], mail)
        assert errors == {} and reply.startswith("2"), reply
    assert await client.app[CORE].stores.db.fetchval("SELECT COUNT(*) FROM messages") == 1
    inbox = await (await client.get("/api/v1/messages", headers=member.auth)).json()
    assert [m["subject"] for m in inbox["messages"]] == ["Sesame"]


def test_require_tls_without_a_certificate_is_refused_at_start(
        tmp_path: Path, sqlite_url: str) -> None:
    """aiosmtpd drops require_starttls silently without a TLS context: mail would be taken
    in clear though the operator asked for TLS."""
    with pytest.raises(ConfigError, match=r"\[smtp\] require_tls: needs tls_cert_file"):
        make_config(tmp_path, sqlite_url, TRADEMAIL_SMTP_REQUIRE_TLS="true")
    cert, _ = make_certificate(tmp_path)
    with pytest.raises(ConfigError, match="require_tls"):
        make_config(tmp_path, sqlite_url, TRADEMAIL_SMTP_REQUIRE_TLS="true",
                    TRADEMAIL_SMTP_TLS_CERT_FILE=str(cert))


# ---------------------------------------------------------------- webhooks over HTTPS

HOOK_HOST = "hooks.bakari.example"


@dataclass
class Authority:
    """A throwaway certificate authority that signs server certificates."""

    name: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def __post_init__(self) -> None:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        now = dt.datetime.now(dt.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=1))
                     .not_valid_after(now + dt.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(
                         digital_signature=True, key_cert_sign=True, crl_sign=True,
                         content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, encipher_only=False,
                         decipher_only=False), critical=True)
                     .sign(self.key, hashes.SHA256()))

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, directory: Path, host: str, *, expired: bool = False) -> tuple[Path, Path]:
        """A server certificate for `host` (and its key), as PEM files."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        start = now - dt.timedelta(days=10 if expired else 1)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(start)
                .not_valid_after(now - dt.timedelta(days=2) if expired
                                 else now + dt.timedelta(days=7))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]),
                               critical=False)
                .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        stem = f"{self.name}-{host}-{'expired' if expired else 'valid'}"
        cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_path, key_path


@dataclass
class Receiver:
    """An HTTPS webhook receiver behind a tap that keeps every byte the sender wrote on
    the wire. Its certificate can be changed between connections (`serve`)."""

    context: ssl.SSLContext = field(
        default_factory=lambda: ssl.create_default_context(ssl.Purpose.CLIENT_AUTH))
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    wire: bytearray = field(default_factory=bytearray)
    port: int = 0

    def serve(self, cert_and_key: tuple[Path, Path]) -> None:
        self.context.load_cert_chain(*cert_and_key)

    async def hook(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    tap: bytearray | None) -> None:
        try:
            while data := await reader.read(65536):
                if tap is not None:
                    tap.extend(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _tapped(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._tls_port)
        await asyncio.gather(self._pipe(reader, up_writer, self.wire),
                             self._pipe(up_reader, writer, None))

    async def open(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.hook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.context)
        await site.start()
        self._tls_port = self._runner.addresses[0][1]
        self._tap = await asyncio.start_server(self._tapped, "127.0.0.1", 0)
        self.port = self._tap.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self._tap.close()
        await self._runner.cleanup()


@dataclass
class Hooked:
    """The whole server, its webhook sender trusting `ca` (through [webhooks] ca_file) and
    sending hooks.bakari.example to the receiver's tap on 127.0.0.1."""

    client: Any
    receiver: Receiver
    ca: Authority
    directory: Path

    @property
    def url(self) -> str:
        return f"https://{HOOK_HOST}:{self.receiver.port}/hook"

    async def webhook_row(self) -> Any:
        return await self.client.app[CORE].stores.db.fetchrow(
            "SELECT state, attempts, last_error FROM outbox WHERE kind = 'webhook'")

    async def until(self, done: Any) -> None:
        """Wait (on real I/O, not on time) until `done()` is true."""
        deadline = asyncio.get_running_loop().time() + 10.0
        while not await done():
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.02)


@pytest.fixture
async def hooked(tmp_path: Path, store_url: str, clock: FakeClock,
                 aiohttp_client: Any) -> AsyncIterator[Hooked]:
    ca = Authority("TradeMail test CA")
    (tmp_path / "ca.pem").write_bytes(ca.pem())
    config = make_config(tmp_path, store_url,
                         TRADEMAIL_WEBHOOKS_CA_FILE=str(tmp_path / "ca.pem"))
    receiver = Receiver()
    receiver.serve(ca.issue(tmp_path, HOOK_HOST))
    await receiver.open()
    # The real sender, told to reach the name at 127.0.0.1 (allowed for this test only).
    sender = AiohttpWebhookSender(timeout=5, resolver=ResolveTo("127.0.0.1"),
                                  allow_private=True, ca_file=config.webhooks.ca_file)
    transport = MemoryTransport()
    app = await build_app(config, clock, transport=transport, webhooks=sender)
    app[OUTBOUND] = transport

    async def close_sender(_: web.Application) -> None:
        await sender.close()

    app.on_cleanup.append(close_sender)  # after the relay that uses it has stopped
    try:
        yield Hooked(await aiohttp_client(app), receiver, ca, tmp_path)
    finally:
        await receiver.close()


async def hook_and_send(hooked: Hooked) -> tuple[str, str]:
    """Bakari registers the receiver as his webhook, Amina writes to him: (the webhook's
    secret, the message id)."""
    client = hooked.client
    amina, bakari = await register_all(client, "amina", "bakari")
    resp = await client.post("/api/v1/webhooks", headers=bakari.auth, json={"url": hooked.url})
    assert resp.status == 201, await resp.text()
    secret = (await resp.json())["secret"]
    sent = await send(client, amina, [bakari.username], subject="Cashew offer")
    return secret, str(sent["id"])


async def delivered(hooked: Hooked) -> bool:
    row = await hooked.webhook_row()
    return row is not None and row["state"] == "sent"


def assert_delivered(hooked: Hooked, secret: str, message_id: str) -> None:
    ((headers, body),) = hooked.receiver.received
    assert verify(secret, headers, body)
    event = json.loads(body)
    assert event["type"] == "message.received" and event["message_id"] == message_id
    # On the wire, TLS records only: neither the event nor its signature in clear.
    wire = bytes(hooked.receiver.wire)
    assert wire[:1] == b"\x16"  # a TLS handshake record opens the connection
    for clear in (body, headers["X-TradeMail-Signature"].encode(), b"POST /hook",
                  message_id.encode()):
        assert clear not in wire


async def test_a_signed_event_reaches_a_receiver_whose_ca_is_the_configured_one(
        hooked: Hooked) -> None:
    secret, message_id = await hook_and_send(hooked)

    await hooked.until(functools.partial(delivered, hooked))
    assert_delivered(hooked, secret, message_id)
    assert (await hooked.webhook_row())["attempts"] == 1


BAD_CERTIFICATES = {
    "unknown CA": lambda h: Authority("Unknown CA").issue(h.directory, HOOK_HOST),
    "expired": lambda h: h.ca.issue(h.directory, HOOK_HOST, expired=True),
    "wrong host": lambda h: h.ca.issue(h.directory, "hooks.other.example"),
}


@pytest.mark.parametrize("bad", BAD_CERTIFICATES.values(), ids=BAD_CERTIFICATES.keys())
async def test_a_certificate_that_does_not_verify_is_refused_retried_and_never_in_clear(
        hooked: Hooked, clock: FakeClock, bad: Any) -> None:
    hooked.receiver.serve(bad(hooked))
    secret, message_id = await hook_and_send(hooked)

    async def failed_once() -> bool:
        row = await hooked.webhook_row()
        return row is not None and row["last_error"] is not None

    await hooked.until(failed_once)
    row = await hooked.webhook_row()
    assert (row["state"], row["attempts"]) == ("pending", 1)  # to be retried, not given up
    assert row["last_error"] == "connection: ClientConnectorCertificateError"
    assert hooked.receiver.received == []
    assert b"POST" not in hooked.receiver.wire and b"message.received" not in hooked.receiver.wire
    # The receiver renews its certificate; the retry, when due, is delivered.
    hooked.receiver.serve(hooked.ca.issue(hooked.directory, HOOK_HOST))
    clock.advance(3 * 3600)
    await hooked.client.app[CORE].events.publish("outbox", "")

    await hooked.until(functools.partial(delivered, hooked))
    assert_delivered(hooked, secret, message_id)
    assert (await hooked.webhook_row())["attempts"] == 2


async def test_an_unreadable_ca_file_stops_the_start_with_a_clear_error(
        tmp_path: Path, sqlite_url: str, clock: FakeClock) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    for ca_file in (tmp_path / "missing.pem", tmp_path / "ca.pem"):
        config = make_config(tmp_path, sqlite_url, TRADEMAIL_WEBHOOKS_CA_FILE=str(ca_file))
        with pytest.raises(ConfigError, match=r"^\[webhooks\] ca_file: cannot be read"):
            await build_app(config, clock, transport=MemoryTransport())


class Unreachable(ResolveTo):
    """A resolver that notes every name asked and answers none."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        self.asked.append(host)
        raise OSError("no answer")


async def test_the_sender_never_posts_to_a_plain_http_url() -> None:
    """Registration takes https only; a row that says http (written before, or by hand) is
    given up before any connection is tried."""
    resolver = Unreachable()
    sender = AiohttpWebhookSender(timeout=2, resolver=resolver)
    try:
        with pytest.raises(PermanentFailure, match="https only"):
            await sender.post(Webhook(f"http://{HOOK_HOST}/hook", (), b"{}"))
        assert resolver.asked == []
    finally:
        await sender.close()
