"""`trademail dns` and `trademail dns --check` as an operator runs them: a real process
asking a real name server (tests/dns_helpers.DnsServer), never the network's DNS."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset
import pytest

from tests.dns_helpers import DnsServer
from tests.helpers import MASTER_KEY, register, send
from tests.test_dkim import verified
from tests.test_gateway import Gateway, gateway, gateway_config, smarthost  # noqa: F401
from trademail.app import build_app
from trademail.config import Config, DnsConfig
from trademail.services import dnsrecords

DOMAIN = "relay.test"


@pytest.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    async with DnsServer() as server:
        yield server


@pytest.fixture
def config(tmp_path: Path, sqlite_url: str) -> Config:
    """The gateway's config (tests/test_gateway.py), on SQLite: the backend is no matter."""
    return gateway_config(tmp_path, sqlite_url)


async def trademail_dns(server: DnsServer, data_dir: Path, *args: str,
                        **env: str) -> tuple[int, str, str]:
    """`trademail dns ARGS` run to its end while the name server answers: (exit status,
    standard output, standard error)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TRADEMAIL_")} | {
        "TRADEMAIL_DATA_DIR": str(data_dir), "TRADEMAIL_SMTP_RELAY_DOMAIN": DOMAIN,
        "TRADEMAIL_DNS_MAIL_HOST": f"mx.{DOMAIN}",
        "TRADEMAIL_DNS_SENDING_HOSTS": "192.0.2.25,2001:db8:25::/64,mx",
        "TRADEMAIL_DNS_DMARC_RUA": "dmarc-reports@ops.test",
        "TRADEMAIL_DNS_TLSRPT_RUA": "tls-reports@ops.test",
        "TRADEMAIL_DNS_NAMESERVER": f"127.0.0.1:{server.port}",
        "TRADEMAIL_DNS_CHECK_TIMEOUT_SECONDS": "1"} | env
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trademail", "dns", *args, env=environ,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def zone_lines(out: str) -> list[dns.rrset.RRset]:
    """The printed records, each parsed as a zone file's line (comments left out)."""
    parsed = []
    for line in out.splitlines():
        if line and not line.startswith(";"):
            name, ttl, rdclass, rdtype, rdata = line.split(" ", 4)
            assert name.endswith(".") and rdclass == "IN", line
            parsed.append(dns.rrset.from_text(name, int(ttl), rdclass, rdtype, rdata))
    return parsed


def publish(server: DnsServer, rrsets: list[dns.rrset.RRset]) -> None:
    for rrset in rrsets:
        name = rrset.name.to_text(omit_final_dot=True)
        rdtype = dns.rdatatype.to_text(rrset.rdtype)
        server.set(name, rdtype, *server.records.get((name, rdtype), []),
                   *(rdata.to_text() for rdata in rrset))


def txt(rrsets: list[dns.rrset.RRset], owner: str) -> str:
    [rrset] = [r for r in rrsets if r.name.to_text() == owner and r.rdtype == dns.rdatatype.TXT]
    [rdata] = list(rrset)
    assert isinstance(rdata, dns.rdtypes.ANY.TXT.TXT)
    return b"".join(rdata.strings).decode()


async def test_records_print_as_zone_lines_and_check_ok_once_published(
        dns_server: DnsServer, tmp_path: Path) -> None:
    code, out, err = await trademail_dns(dns_server, tmp_path)
    assert code == 0, err
    rrsets = zone_lines(out)
    [mx] = [r for r in rrsets if r.rdtype == dns.rdatatype.MX]
    assert mx.name.to_text() == f"{DOMAIN}." and mx.ttl == 3600
    assert [rdata.to_text() for rdata in mx] == [f"10 mx.{DOMAIN}."]
    assert txt(rrsets, f"{DOMAIN}.") == "v=spf1 ip4:192.0.2.25 ip6:2001:db8:25::/64 mx -all"
    assert txt(rrsets, f"_dmarc.{DOMAIN}.") == \
        "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@ops.test"
    assert txt(rrsets, f"_mta-sts.{DOMAIN}.").startswith("v=STSv1; id=")
    assert txt(rrsets, f"_smtp._tls.{DOMAIN}.") == "v=TLSRPTv1; rua=mailto:tls-reports@ops.test"
    dkim = {txt(rrsets, r.name.to_text()).split(";")[1].strip(): r for r in rrsets
            if r.name.to_text().endswith(f"._domainkey.{DOMAIN}.")}
    assert set(dkim) == {"k=ed25519", "k=rsa"}  # the live pair, made if there was none
    [rsa] = list(dkim["k=rsa"])
    assert isinstance(rsa, dns.rdtypes.ANY.TXT.TXT)
    assert len(rsa.strings) == 2 and all(len(part) <= 255 for part in rsa.strings)
    policy = [line[4:] for line in out.splitlines() if line.startswith(";   ")]
    assert policy == ["version: STSv1", "mode: testing", f"mx: mx.{DOMAIN}", "max_age: 604800"]
    assert f"https://mta-sts.{DOMAIN}/.well-known/mta-sts.txt" in out

    publish(dns_server, rrsets)
    dns_server.set(DOMAIN, "TXT", *dns_server.records[(DOMAIN, "TXT")],
                   '"google-site-verification=abc"')  # another TXT at the apex is no matter
    code, out, err = await trademail_dns(dns_server, tmp_path, "--check")
    assert code == 0, out + err
    lines = out.splitlines()
    assert len(lines) == len(rrsets) == 7 and all(line.startswith("ok: ") for line in lines)
    assert sum("._domainkey." in line for line in lines) == 2


async def test_check_says_what_is_missing_and_what_is_different(
        dns_server: DnsServer, tmp_path: Path) -> None:
    code, out, _ = await trademail_dns(dns_server, tmp_path)
    rrsets = zone_lines(out)
    publish(dns_server, [r for r in rrsets if not r.name.to_text().startswith("_dmarc.")])
    dns_server.set(DOMAIN, "TXT", '"v=spf1 ip4:198.51.100.7 ~all"')
    code, out, err = await trademail_dns(dns_server, tmp_path, "--check")
    assert code == 1, out + err
    lines = out.splitlines()
    assert (f'missing: _dmarc.{DOMAIN}. 3600 IN TXT "v=DMARC1; p=quarantine; '
            'rua=mailto:dmarc-reports@ops.test"') in lines
    assert (f'different: {DOMAIN}. TXT: published "v=spf1 ip4:198.51.100.7 ~all", expected '
            '"v=spf1 ip4:192.0.2.25 ip6:2001:db8:25::/64 mx -all"') in lines
    assert f"ok: {DOMAIN}. 3600 IN MX 10 mx.{DOMAIN}." in lines
    assert sum(line.startswith("ok: ") for line in lines) == len(rrsets) - 2

    dns_server.set(DOMAIN, "MX", "10 mail.elsewhere.test.")
    code, out, _ = await trademail_dns(dns_server, tmp_path, "--check")
    assert code == 1
    assert (f"different: {DOMAIN}. MX: published 10 mail.elsewhere.test., expected "
            f"10 mx.{DOMAIN}.") in out.splitlines()

    dns_server.set(DOMAIN, "TXT", '"google-site-verification=abc"')  # no SPF among them
    code, out, _ = await trademail_dns(dns_server, tmp_path, "--check")
    assert code == 1
    assert f'missing: {DOMAIN}. 3600 IN TXT "v=spf1 ip4:192.0.2.25 ip6:2001:db8:25::/64 mx ' \
        '-all"' in out.splitlines()


async def test_a_silent_name_server_is_a_clear_time_out(dns_server: DnsServer,
                                                        tmp_path: Path) -> None:
    code, out, _ = await trademail_dns(dns_server, tmp_path)
    publish(dns_server, zone_lines(out))
    dns_server.silent.add(f"_dmarc.{DOMAIN}")
    code, out, err = await trademail_dns(dns_server, tmp_path, "--check")
    assert code == 3, out + err
    assert (f"timeout: no answer for _dmarc.{DOMAIN}. TXT from the name server in time; "
            "DNS could not be checked") in out.splitlines()
    assert f"ok: {DOMAIN}. 3600 IN MX 10 mx.{DOMAIN}." in out.splitlines()
    assert "did not answer" in err and "Traceback" not in err

    dns_server.silent.update(name for name, _ in dns_server.records)
    code, out, err = await trademail_dns(dns_server, tmp_path, "--check")
    assert code == 3 and "Traceback" not in err
    assert all(line.startswith("timeout: ") for line in out.splitlines())


async def test_a_hostile_published_value_cannot_drive_the_terminal(
        dns_server: DnsServer, tmp_path: Path) -> None:
    """What DNS answers is printed back: control characters come out as \\DDD escapes, so a
    record someone else controls cannot rewrite the operator's screen."""
    code, out, _ = await trademail_dns(dns_server, tmp_path)
    publish(dns_server, zone_lines(out))
    dns_server.set(f"_dmarc.{DOMAIN}", "TXT", '"v=DMARC1; p=none\\027[2J\\027]0;owned\\007"')
    code, out, _ = await trademail_dns(dns_server, tmp_path, "--check")
    assert code == 1
    assert "\x1b" not in out and "\x07" not in out
    assert '"v=DMARC1; p=none\\027[2J\\027]0;owned\\007"' in out


@pytest.mark.parametrize(("key", "value"), [
    ("TRADEMAIL_DNS_SENDING_HOSTS", "smtp.example.com"),
    ("TRADEMAIL_DNS_DMARC_RUA", "dmarc@ops.test; p=none"),
    ("TRADEMAIL_DNS_TLSRPT_RUA", "not an address"),
    ("TRADEMAIL_DNS_NAMESERVER", "ns.example.com:53"),
])
async def test_a_bad_setting_is_a_config_error_not_a_wrong_record(
        dns_server: DnsServer, tmp_path: Path, key: str, value: str) -> None:
    code, out, err = await trademail_dns(dns_server, tmp_path, "--check", **{key: value})
    assert code == 2 and out == "", out
    assert "config error" in err and "Traceback" not in err


async def test_long_dkim_records_split_into_255_byte_strings_and_check_ok(
        dns_server: DnsServer) -> None:
    """An RSA-2048 key's record is longer than one TXT string may be: it is printed as
    several, and a name server that published it split elsewhere still checks ok."""
    value = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A" * 13
    records = dnsrecords.records(DnsConfig(), DOMAIN, [(f"s1._domainkey.{DOMAIN}", value)])
    [dkim] = [r for r in records if r.name == f"s1._domainkey.{DOMAIN}."]
    rrset = dns.rrset.from_text(dkim.name, dkim.ttl, "IN", "TXT", dkim.rdata)
    [rdata] = list(rrset)
    assert isinstance(rdata, dns.rdtypes.ANY.TXT.TXT)
    assert [len(s) for s in rdata.strings] == [255, len(value) - 255]
    assert b"".join(rdata.strings).decode() == value

    dns_server.set(f"s1._domainkey.{DOMAIN}", "TXT",
                   " ".join(f'"{value[i:i + 100]}"' for i in range(0, len(value), 100)))
    [finding] = await dnsrecords.check(dns_server.resolver(), [dkim])
    assert finding.outcome == dnsrecords.OK
    dns_server.set(f"s1._domainkey.{DOMAIN}", "TXT", '"v=DKIM1; k=rsa; p=AAAA"')
    [finding] = await dnsrecords.check(dns_server.resolver(), [dkim])
    assert finding.outcome == dnsrecords.DIFFERENT


async def test_a_notification_verifies_against_the_records_trademail_dns_prints(
        gateway: Gateway, config: Config, dns_server: DnsServer) -> None:  # noqa: F811
    """The issue's measure of done: mail caught from the relay, checked by dkimpy against
    nothing but what `trademail dns` told the operator to publish."""
    amina = await register(gateway.client, "amina")
    bakari = await register(gateway.client, "bakari")
    await send(gateway.client, amina, [bakari.username], subject="Cashew prices")
    mails = await gateway.mails(1)
    code, out, err = await trademail_dns(
        dns_server, Path(config.data_dir), TRADEMAIL_STORE_URL=config.store.url,
        TRADEMAIL_CRYPTO_MASTER_KEY=MASTER_KEY,
        TRADEMAIL_SMTP_RELAY_DOMAIN=config.smtp.relay_domain)
    assert code == 0, err
    notification = next(m for m in mails if b"Cashew prices" in m.data)
    assert await verified(notification.data, dns_server) == [False, False]  # none published
    publish(dns_server, zone_lines(out))
    assert await verified(notification.data, dns_server) == [True, True]


async def test_the_server_serves_the_mta_sts_policy_that_dns_prints(
        dns_server: DnsServer, tmp_path: Path, sqlite_url: str, aiohttp_client: Any) -> None:
    settings = {"TRADEMAIL_SMTP_RELAY_DOMAIN": DOMAIN, "TRADEMAIL_DNS_MAIL_HOST": f"mx.{DOMAIN}",
                "TRADEMAIL_DNS_MTA_STS_MODE": "enforce"}
    code, out, err = await trademail_dns(dns_server, tmp_path / "cli", **settings)
    assert code == 0, err
    printed = [line[4:] for line in out.splitlines() if line.startswith(";   ")]
    app = await build_app(gateway_config(tmp_path, sqlite_url, **settings))
    client = await aiohttp_client(app)
    resp = await client.get("/.well-known/mta-sts.txt", headers={"Host": f"mta-sts.{DOMAIN}"})
    assert resp.status == 200 and resp.content_type == "text/plain"
    served = await resp.text()
    assert served.splitlines() == printed and "mode: enforce" in printed
    assert served.endswith("\r\n") and "Set-Cookie" not in resp.headers
    # The id in the _mta-sts record is the one of the policy served.
    assert txt(zone_lines(out), f"_mta-sts.{DOMAIN}.") == \
        f"v=STSv1; id={dnsrecords.mta_sts_id(served)}"
