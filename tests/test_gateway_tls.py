"""STARTTLS on the inbound gateway, with a throwaway certificate made for the test."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path
from typing import Any

import aiosmtplib
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import make_config, register
from trademail.app import build_app
from trademail.appkeys import SMTP_GATEWAY
from trademail.testing import FakeClock


def make_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_starttls_is_offered_and_works_when_a_certificate_is_set(
        aiohttp_client: Any, tmp_path: Path, sqlite_url: str, clock: FakeClock) -> None:
    cert, key = make_certificate(tmp_path)
    config = make_config(tmp_path, sqlite_url, TRADEMAIL_SMTP_TLS_CERT_FILE=str(cert),
                         TRADEMAIL_SMTP_TLS_KEY_FILE=str(key))
    client = await aiohttp_client(await build_app(config, clock))
    member = await register(client, "tilda")
    port = int(client.app[SMTP_GATEWAY].address[1])
    trust = ssl.create_default_context(cafile=str(cert))
    async with aiosmtplib.SMTP(hostname="localhost", port=port, start_tls=False,
                               tls_context=trust, timeout=10) as smtp:
        await smtp.ehlo()
        assert smtp.supports_extension("starttls")
        await smtp.starttls()
        assert smtp.transport is not None
        assert smtp.transport.get_extra_info("ssl_object") is not None
        await smtp.ehlo()
        assert not smtp.supports_extension("starttls")  # already on TLS
        errors, reply = await smtp.sendmail(
            "buyer@outside.example", [member.alias],
            b"From: Buyer <buyer@outside.example>\r\nTo: " + member.alias.encode()
            + b"\r\nSubject: Sesame\r\nMessage-ID: <q1@outside.example>\r\n\r\nPrice?\r\n")
        assert errors == {} and reply.startswith("2")


async def test_without_a_certificate_starttls_is_not_offered(client: Any) -> None:
    port = int(client.app[SMTP_GATEWAY].address[1])
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False,
                               timeout=10) as smtp:
        await smtp.ehlo()
        assert not smtp.supports_extension("starttls")
