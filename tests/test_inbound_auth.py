"""Inbound authentication without an upstream: with no trusted_authserv_id the gateway checks
SPF, DKIM and DMARC itself, over a real SMTP socket, asking a real DNS server the test
controls (tests/dns_helpers.py), never the network's."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.dns_helpers import DnsServer
from tests.helpers import OUTBOUND, Member, register, send
from tests.smtp_helpers import Smarthost
from tests.test_gateway import Gateway, gateway_config, mail_bytes, parse, reply_address
from tests.test_gateway_trust import newest
from trademail.app import CORE, build_app
from trademail.gateway.transports import SmtpTransport
from trademail.testing import FakeClock

SPF_LOCAL = '"v=spf1 ip4:127.0.0.1 -all"'
SPF_NONE_ALLOWED = '"v=spf1 -all"'
DMARC_REJECT = '"v=DMARC1; p=reject"'


@pytest.fixture
async def dns() -> AsyncIterator[DnsServer]:
    async with DnsServer() as server:
        yield server


@pytest.fixture
async def relay() -> AsyncIterator[Smarthost]:
    async with Smarthost() as host:
        yield host


@pytest.fixture(scope="module")
def signing_key() -> tuple[bytes, str]:
    """A DKIM key: the private key (PEM) and the TXT record that publishes it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    record = f"v=DKIM1; k=rsa; p={public}"
    return private, " ".join(f'"{record[i:i + 200]}"' for i in range(0, len(record), 200))


async def open_gateway(dns: DnsServer, tmp_path: Path, sqlite_url: str, clock: FakeClock,
                       relay: Smarthost, aiohttp_client: Any,
                       require_dmarc: bool = True) -> Gateway:
    config = gateway_config(tmp_path, sqlite_url, TRADEMAIL_SMTP_CHECK_SENDERS="true",
                            TRADEMAIL_SMTP_DNS_SERVER=f"127.0.0.1:{dns.port}",
                            TRADEMAIL_SMTP_DNS_TIMEOUT_SECONDS="1",
                            TRADEMAIL_SMTP_REQUIRE_DMARC_PASS=str(require_dmarc).lower())
    assert config.smtp.trusted_authserv_id == ""
    app = await build_app(config, clock, transport=SmtpTransport(
        "127.0.0.1", relay.port, tls="none", timeout=5))
    app[OUTBOUND] = relay
    return Gateway(await aiohttp_client(app), app, relay)


async def conversation(gw: Gateway, email: str | None = None) -> tuple[Member, str]:
    """Bakari (at `email`, if given), notified of Amina's message, and the reply address he
    answers."""
    amina = await register(gw.client, "amina")
    bakari = await register(gw.client, "bakari", email=email)
    await send(gw.client, amina, [bakari.username])
    (first,) = await gw.mails(1)
    return bakari, reply_address(parse(first.data))


async def message_count(gw: Gateway) -> int:
    return int(await gw.app[CORE].stores.db.fetchval("SELECT COUNT(*) FROM messages"))


def publish(dns: DnsServer, domain: str, spf: str) -> None:
    dns.set(domain, "TXT", spf)
    dns.set(f"_dmarc.{domain}", "TXT", DMARC_REJECT)


def reply(bakari: Member, reply_to: str, body: str = "ok, 20 tonnes") -> bytes:
    return mail_bytes(sender=bakari.email, to=reply_to, subject="Re: Cashew prices", body=body)


async def test_an_spf_aligned_reply_passes_dmarc_and_a_second_asks_dns_nothing_more(
        dns: DnsServer, tmp_path: Path, sqlite_url: str, clock: FakeClock,
        relay: Smarthost, aiohttp_client: Any) -> None:
    gw = await open_gateway(dns, tmp_path, sqlite_url, clock, relay, aiohttp_client)
    bakari, reply_to = await conversation(gw)
    domain = bakari.email.rpartition("@")[2]
    publish(dns, domain, SPF_LOCAL)
    assert await gw.deliver(bakari.email, [reply_to], reply(bakari, reply_to)) == (
        250, "2.0.0 OK: queued")
    assert await message_count(gw) == 2
    assert (domain, "TXT") in dns.queries and (f"_dmarc.{domain}", "TXT") in dns.queries
    asked = len(dns.queries)
    # Within the records' TTL the same checks come from the cache.
    again = reply(bakari, reply_to, "and 5 more")
    assert (await gw.deliver(bakari.email, [reply_to], again))[0] == 250
    assert await message_count(gw) == 3
    assert len(dns.queries) == asked


async def test_a_forged_reply_from_a_p_reject_domain_is_refused_with_nothing_stored(
        dns: DnsServer, tmp_path: Path, sqlite_url: str, clock: FakeClock,
        relay: Smarthost, aiohttp_client: Any) -> None:
    # require_dmarc_pass off: the domain's own p=reject is reason enough.
    gw = await open_gateway(dns, tmp_path, sqlite_url, clock, relay, aiohttp_client,
                            require_dmarc=False)
    bakari, reply_to = await conversation(gw)
    publish(dns, bakari.email.rpartition("@")[2], SPF_NONE_ALLOWED)
    code, text = await gw.deliver(bakari.email, [reply_to], reply(bakari, reply_to))
    assert code == 550 and "5.7.1" in text and "p=reject" in text
    assert bakari.email not in text
    assert await message_count(gw) == 1
    assert len(await gw.mails(1)) == 1  # nobody was notified of anything


async def test_without_any_dmarc_record_a_required_pass_is_missing(
        dns: DnsServer, tmp_path: Path, sqlite_url: str, clock: FakeClock,
        relay: Smarthost, aiohttp_client: Any) -> None:
    gw = await open_gateway(dns, tmp_path, sqlite_url, clock, relay, aiohttp_client)
    bakari, reply_to = await conversation(gw)
    dns.set(bakari.email.rpartition("@")[2], "TXT", SPF_LOCAL)  # SPF passes, no DMARC
    code, text = await gw.deliver(bakari.email, [reply_to], reply(bakari, reply_to))
    assert code == 550 and "registered address" in text
    assert await message_count(gw) == 1


async def test_alignment_is_by_registered_domain_under_the_public_suffix_list(
        dns: DnsServer, tmp_path: Path, sqlite_url: str, clock: FakeClock,
        relay: Smarthost, aiohttp_client: Any, signing_key: tuple[bytes, str]) -> None:
    # evil.co.uk and victim.co.uk share only the public suffix co.uk: a signature of one
    # is no DKIM pass for the other. A subdomain of the member's own domain is aligned.
    gw = await open_gateway(dns, tmp_path, sqlite_url, clock, relay, aiohttp_client)
    bakari, reply_to = await conversation(gw, "bakari@victim.co.uk")
    publish(dns, "victim.co.uk", SPF_NONE_ALLOWED)
    private, record = signing_key
    for domain in ("evil.co.uk", "mail.victim.co.uk"):
        dns.set(f"s1._domainkey.{domain}", "TXT", record)
    forged = signed(reply(bakari, reply_to), "evil.co.uk", private)
    code, text = await gw.deliver(bakari.email, [reply_to], forged)
    assert code == 550 and "p=reject" in text
    assert await message_count(gw) == 1
    genuine = signed(reply(bakari, reply_to), "mail.victim.co.uk", private)
    assert (await gw.deliver(bakari.email, [reply_to], genuine))[0] == 250
    assert await message_count(gw) == 2


def signed(message: bytes, domain: str, key: bytes) -> bytes:
    signature = dkim.sign(message, b"s1", domain.encode(), key,
                          include_headers=[b"From", b"To", b"Subject", b"Message-ID"])
    return signature + message


async def test_an_aligned_dkim_signature_passes_dmarc_where_spf_fails(
        dns: DnsServer, tmp_path: Path, sqlite_url: str, clock: FakeClock,
        relay: Smarthost, aiohttp_client: Any, signing_key: tuple[bytes, str]) -> None:
    gw = await open_gateway(dns, tmp_path, sqlite_url, clock, relay, aiohttp_client)
    bakari, reply_to = await conversation(gw)
    domain = bakari.email.rpartition("@")[2]
    publish(dns, domain, SPF_NONE_ALLOWED)
    private, record = signing_key
    dns.set(f"s1._domainkey.{domain}", "TXT", record)
    dns.set("s1._domainkey.other.example", "TXT", record)
    # Signed by an unaligned domain, or altered after signing: no pass, and p=reject.
    unaligned = signed(reply(bakari, reply_to), "other.example", private)
    assert (await gw.deliver(bakari.email, [reply_to], unaligned))[0] == 550
    altered = signed(reply(bakari, reply_to), domain, private).replace(b"20 tonnes", b"90 tonnes")
    assert (await gw.deliver(bakari.email, [reply_to], altered))[0] == 550
    assert await message_count(gw) == 1
    good = signed(reply(bakari, reply_to), domain, private)
    assert (await gw.deliver(bakari.email, [reply_to], good))[0] == 250
    assert await message_count(gw) == 2
    assert (f"s1._domainkey.{domain}", "TXT") in dns.queries


async def test_a_dns_time_out_defers_the_mail_and_the_retry_is_taken(
        dns: DnsServer, tmp_path: Path, sqlite_url: str, clock: FakeClock,
        relay: Smarthost, aiohttp_client: Any) -> None:
    gw = await open_gateway(dns, tmp_path, sqlite_url, clock, relay, aiohttp_client)
    bakari, reply_to = await conversation(gw)
    domain = bakari.email.rpartition("@")[2]
    publish(dns, domain, SPF_LOCAL)
    dns.silent.add(domain)
    mail = reply(bakari, reply_to)
    code, text = await gw.deliver(bakari.email, [reply_to], mail)
    assert code == 451 and "4.4.3" in text and "DNS" in text
    assert bakari.email not in text
    assert await message_count(gw) == 0 + 1
    dns.silent.discard(domain)
    assert (await gw.deliver(bakari.email, [reply_to], mail))[0] == 250  # the sender's retry
    assert await message_count(gw) == 2


async def test_mail_to_an_alias_is_a_members_own_only_when_our_checks_pass_dmarc(
        dns: DnsServer, tmp_path: Path, sqlite_url: str, clock: FakeClock,
        relay: Smarthost, aiohttp_client: Any) -> None:
    dns.ttl = 0  # nothing cached: each mail sees the records as they are
    gw = await open_gateway(dns, tmp_path, sqlite_url, clock, relay, aiohttp_client,
                            require_dmarc=False)
    amina, bakari = await register(gw.client, "amina"), await register(gw.client, "bakari")
    domain = amina.email.rpartition("@")[2]
    dns.set(domain, "TXT", SPF_NONE_ALLOWED)
    dns.set(f"_dmarc.{domain}", "TXT", '"v=DMARC1; p=none"')
    # A pass the sender wrote itself counts for nothing: no upstream is trusted.
    forged = mail_bytes(sender=amina.email, to=bakari.alias, subject="Sesame", body="hi",
                        extra={"Authentication-Results": f"mx.relay.test; dmarc=pass "
                                                         f"header.from={domain}"})
    assert (await gw.deliver(amina.email, [bakari.alias], forged))[0] == 250  # p=none
    assert (await newest(gw, bakari))["from"]["external"] is True
    dns.set(domain, "TXT", SPF_LOCAL)  # TTL 0: the next mail sees the change
    proven = mail_bytes(sender=amina.email, to=bakari.alias, subject="Sesame", body="again")
    assert (await gw.deliver(amina.email, [bakari.alias], proven))[0] == 250
    message = await newest(gw, bakari)
    assert message["from"]["username"] == "amina" and message["from"]["external"] is False


async def test_mail_to_an_alias_written_as_a_p_reject_domain_is_refused(
        dns: DnsServer, tmp_path: Path, sqlite_url: str, clock: FakeClock,
        relay: Smarthost, aiohttp_client: Any) -> None:
    # An outsider writing as a bank that publishes p=reject: refused, nothing stored, the
    # member not told. The bank's own mail, sent from the hosts its SPF names, is taken.
    gw = await open_gateway(dns, tmp_path, sqlite_url, clock, relay, aiohttp_client,
                            require_dmarc=False)
    bakari = await register(gw.client, "bakari")
    publish(dns, "bank.example", SPF_NONE_ALLOWED)
    dns.ttl = 0
    forged = mail_bytes(sender="billing@bank.example", to=bakari.alias,
                        subject="Your account", body="Confirm your details here.")
    code, text = await gw.deliver("billing@bank.example", [bakari.alias], forged)
    assert code == 550 and "5.7.1" in text and "p=reject" in text
    assert await message_count(gw) == 0
    dns.set("bank.example", "TXT", SPF_LOCAL)
    assert (await gw.deliver("billing@bank.example", [bakari.alias], forged))[0] == 250
    assert await message_count(gw) == 1
    assert len(await gw.mails(1)) == 1  # one notification: of the genuine mail only
