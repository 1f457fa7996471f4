"""DKIM: every mail the real relay hands to a real smarthost carries an Ed25519 and an RSA
signature that dkimpy verifies against the records `txt_records()` gives, served by a real
DNS server; a rotation signs only once its records are published; private keys are never
in the database in clear."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import re
from pathlib import Path
from typing import Any

import dkim
import dns.resolver

from tests.dns_helpers import DnsServer
from tests.helpers import MASTER_KEY, register, send
from tests.test_gateway import (  # noqa: F401 - fixtures are used by name
    DOMAIN,
    Gateway,
    config,
    gateway,
    parse,
    smarthost,
)
from trademail.app import CORE
from trademail.cli import main
from trademail.crypto.dkim import open_private
from trademail.services.dkim import Dkim
from trademail.testing import FakeClock


def zone_txt(value: str) -> str:
    """A TXT value as a zone file writes it: strings of 255 characters at most."""
    return " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))


async def publish(dns_server: DnsServer, records: list[tuple[str, str]]) -> None:
    for name, value in records:
        dns_server.set(name, "TXT", zone_txt(value))


def verify_all(data: bytes, dns_server: DnsServer) -> list[bool]:
    """dkimpy's verdict on each DKIM-Signature, the keys asked of the DNS server over the
    wire (run in a thread: the server answers on the test's loop)."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = dns_server.port
    resolver.lifetime = 5.0

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        try:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT")
        except dns.exception.DNSException:
            return None
        return b"".join(b"".join(r.strings) for r in answer)

    def one(index: int) -> bool:
        try:
            return bool(dkim.DKIM(data).verify(idx=index, dnsfunc=dnsfunc))
        except dkim.DKIMException:  # what dkim.verify says False for
            return False

    return [one(i) for i in range(len(re.findall(rb"(?im)^DKIM-Signature:", data)))]


def signatures(data: bytes) -> list[dict[str, str]]:
    """The tags of each DKIM-Signature header, unfolded."""
    mail = parse(data)
    found = []
    for header in mail.get_all("DKIM-Signature") or []:
        text = re.sub(r"\s+", "", str(header))
        found.append(dict(tag.split("=", 1) for tag in text.split(";") if "=" in tag))
    return found


async def verified(data: bytes, dns_server: DnsServer) -> list[bool]:
    return await asyncio.to_thread(verify_all, data, dns_server)


async def test_every_mail_from_the_relay_verifies_with_both_signatures(
        gateway: Gateway) -> None:  # noqa: F811
    amina = await register(gateway.client, "amina")
    bakari = await register(gateway.client, "bakari")
    await register(gateway.client, "chidi", confirmed=False)  # the link stays unread
    await send(gateway.client, amina, [bakari.username], subject="Cashew prices")
    mails = await gateway.mails(2)  # a notification, an account mail
    async with DnsServer() as dns_server:
        await publish(dns_server, await gateway.app[CORE].dkim.txt_records())
        for mail in mails:
            tags = signatures(mail.data)
            assert sorted(t["a"] for t in tags) == ["ed25519-sha256", "rsa-sha256"]
            assert all(t["d"] == DOMAIN for t in tags)
            assert await verified(mail.data, dns_server) == [True, True]
        notification = next(m for m in mails if bakari.email in m.rcpt_tos
                            and b"Cashew prices" in m.data)
        signed = signatures(notification.data)[0]["h"].lower().split(":")
        for header in ("from", "to", "subject", "date", "message-id", "reply-to",
                       "list-unsubscribe", "list-unsubscribe-post", "mime-version",
                       "content-type", "feedback-id"):
            assert header in signed
        assert {n for n, _ in dns_server.queries} == {
            f"{t['s']}._domainkey.{DOMAIN}" for t in signatures(notification.data)}

        # A body changed on the way, or a header, fails both signatures.
        tampered = notification.data.replace(b"Cashew", b"Walnut", 1)
        head, _, body = notification.data.partition(b"\r\n\r\n")
        body_only = head + b"\r\n\r\n" + body.replace(b"Stop these", b"Stop those")
        assert body_only != notification.data
        assert await verified(body_only, dns_server) == [False, False]
        assert await verified(tampered, dns_server) == [False, False]
        # And a key that is not the published one fails too.
        dns_server.records.clear()
        assert await verified(notification.data, dns_server) == [False, False]


async def test_notifications_are_auto_submitted_and_every_mail_has_a_feedback_id(
        gateway: Gateway) -> None:  # noqa: F811
    amina = await register(gateway.client, "amina")
    bakari = await register(gateway.client, "bakari")
    await register(gateway.client, "chidi", confirmed=False)  # the link stays unread
    await send(gateway.client, amina, [bakari.username], subject="Cashew prices")
    mails = [parse(m.data) for m in await gateway.mails(2)]
    notification = next(m for m in mails if m["Subject"] == "Cashew prices")
    assert notification["Auto-Submitted"] == "auto-generated"
    assert notification["Feedback-ID"] == f"notification:trademail:{DOMAIN}"
    accounts = [m for m in mails if m is not notification]
    assert {m["Feedback-ID"] for m in accounts} == {f"account:trademail:{DOMAIN}"}
    assert all(m["Auto-Submitted"] == "auto-generated" for m in accounts)


def selectors(data: bytes) -> set[str]:
    return {t["s"] for t in signatures(data)}


async def test_a_rotation_signs_once_published_and_retires_the_old_pair_after_grace(
        gateway: Gateway, clock: FakeClock) -> None:  # noqa: F811
    core = gateway.app[CORE]
    amina = await register(gateway.client, "amina")
    bakari = await register(gateway.client, "bakari")
    first = {k.selector for k in await core.dkim.status()}
    assert len(first) == 2 and all(k.state == "active" for k in await core.dkim.status())
    new = {k.selector for k in await core.dkim.rotate()}
    assert not new & first and {k.state for k in await core.dkim.status()
                                if k.selector in new} == {"pending"}
    grace = gateway.app[CORE].dkim._grace
    async with DnsServer() as dns_server:
        checker = Dkim(core.stores.dkim, core.keyring, clock, relay_domain=DOMAIN,
                       grace_seconds=grace, resolver=dns_server.resolver())
        await publish(dns_server, [r for r in await core.dkim.txt_records()
                                   if r[0].split(".")[0] in first])
        assert await checker.advance() == []  # not published: still pending
        await send(gateway.client, amina, [bakari.username], subject="one")
        one = (await gateway.mails(1))[-1].data
        assert selectors(one) == first

        await publish(dns_server, await core.dkim.txt_records())
        assert {k.selector for k in await checker.advance()} == new
        assert {(n.split(".")[0], t) for n, t in dns_server.queries} >= {
            (s, "TXT") for s in new}
        await send(gateway.client, amina, [bakari.username], subject="two")
        two = (await gateway.mails(2))[-1].data
        assert selectors(two) == new
        assert await verified(two, dns_server) == [True, True]
        states = {k.selector: k.state for k in await core.dkim.status()}
        assert {states[s] for s in first} == {"retiring"}
        # Still published for the grace period (mail it signed is still being read) ...
        clock.advance(grace - 1)
        await checker.advance()
        live = {n.split(".")[0] for n, _ in await core.dkim.txt_records()}
        assert live == first | new
        # ... and retired after it.
        clock.advance(2)
        await checker.advance()
        live = {n.split(".")[0] for n, _ in await core.dkim.txt_records()}
        assert live == new
        states = {k.selector: k.state for k in await core.dkim.status()}
        assert {states[s] for s in first} == {"retired"}


async def test_private_keys_are_never_in_the_database_in_clear(
        gateway: Gateway, config: Any) -> None:  # noqa: F811
    core = gateway.app[CORE]
    await core.dkim.rotate()
    db = core.stores.db
    rows = await db.fetch("SELECT * FROM dkim_keys")
    assert len(rows) == 4
    secrets = []
    for row in rows:
        private = open_private(core.keyring, row["id"], bytes(row["private_ct"]))
        if row["algorithm"] == "ed25519":
            secrets += [private, base64.b64decode(private)]
        else:
            body = b"".join(private.splitlines()[1:-1])
            secrets += [body[:40], body[-40:], base64.b64decode(body)[-64:]]
    raw = [bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode()
           for row in rows for v in tuple(row)]
    if db.dialect == "sqlite":  # the file itself, and its write-ahead log
        path = Path(config.store_url.removeprefix("sqlite:///"))
        raw += [p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists()]
    for secret in secrets:
        assert all(secret not in value for value in raw)


async def test_the_command_line_rotates_and_shows_the_records_to_publish(
        tmp_path: Path, sqlite_url: str) -> None:
    async with DnsServer() as dns_server:
        environ = {"TRADEMAIL_DATA_DIR": str(tmp_path / "var"),
                   "TRADEMAIL_STORE_URL": sqlite_url,
                   "TRADEMAIL_CRYPTO_MASTER_KEY": MASTER_KEY,
                   "TRADEMAIL_DNS_NAMESERVER": f"127.0.0.1:{dns_server.port}"}

        async def run(*argv: str) -> str:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                assert await asyncio.to_thread(main, list(argv), environ) == 0
            return out.getvalue()

        await run("migrate")  # the first pair, active at once
        status = await run("dkim", "status")
        assert len(re.findall(r"\tactive\t", status)) == 2
        rotated = await run("dkim", "rotate")
        records = re.findall(r'^  (\S+)\. IN TXT (.+)$', rotated, re.M)
        assert len(records) == 2 and "k=ed25519" in rotated and "k=rsa" in rotated
        status = await run("dkim", "status")
        assert len(re.findall(r"\tpending\t", status)) == 2
        for name, value in records:  # published exactly as printed
            dns_server.set(name, "TXT", value)
        status = await run("dkim", "status")
        assert len(re.findall(r"\tactive\t", status)) == 2
        assert len(re.findall(r"\tretiring\t", status)) == 2

