"""Fuzzing the doors: the SMTP dialogue with commands out of order, oversized and in bytes
that are not text; hostile MIME through the gateway's reader and its real socket; and
schemathesis against the API's own OpenAPI document. Whatever comes in, the answer is a
reply with a code and a reason, never a crash, and the door keeps serving."""

from __future__ import annotations

import asyncio
import base64
import tracemalloc
import zlib
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from structlog.testing import capture_logs

from tests.helpers import OUTBOUND, Member, make_config, register
from tests.test_gateway import (  # noqa: F401 - fixtures are used by name
    DOMAIN,
    Gateway,
    gateway,
    gateway_config,
    mail_bytes,
    smarthost,
)
from trademail.app import build_app
from trademail.config import Config
from trademail.errors import InvalidInput, MailRefused, TooLarge
from trademail.mail.bounds import MAX_EXPANDED_BYTES
from trademail.mail.parse import read_mail
from trademail.mail.scrub import scrub_mail
from trademail.services.incoming import ReadMail
from trademail.testing import FakeClock, MemoryTransport

OUTSIDER = "olu@partner.example"


@pytest.fixture
def config(tmp_path: Path, sqlite_url: str) -> Config:
    """The SMTP dialogue is the same whatever the store: SQLite alone."""
    return gateway_config(tmp_path, sqlite_url)


@pytest.fixture
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """What the server logged meanwhile, to show no hook failed unexpectedly."""
    with capture_logs() as captured:
        yield captured


def crashes(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    """Log entries that say something failed in a way nobody planned for."""
    return [e for e in logs if e.get("log_level") in ("error", "critical")
            or "exc_info" in e or "exception" in e]


# ---------------------------------------------------------------- the SMTP dialogue


class Dialogue:
    """A raw SMTP connection: lines out, whole replies (multi-line too) back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> tuple[Dialogue, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        talk = cls(reader, writer)
        return talk, await talk.reply()

    async def reply(self) -> bytes:
        """One whole reply ("" when the server closed the connection)."""
        lines = []
        while True:
            line = await asyncio.wait_for(self.reader.readline(), 10)
            lines.append(line)
            if not line or line[3:4] != b"-":
                return b"".join(lines)

    async def say(self, line: bytes) -> bytes:
        self.writer.write(line + b"\r\n")
        await self.writer.drain()
        return await self.reply()

    async def up_to_data(self, sender: str, recipient: str) -> None:
        """EHLO, MAIL, RCPT and DATA, each answered as it should be."""
        for line in (b"EHLO client.example", f"MAIL FROM:<{sender}>".encode(),
                     f"RCPT TO:<{recipient}>".encode()):
            assert (await self.say(line)).startswith(b"250")
        assert (await self.say(b"DATA")).startswith(b"354")

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


def is_refusal(reply: bytes) -> bool:
    """An RFC 5321 refusal: a 4xx or 5xx code, a space, and some text saying why."""
    return (len(reply) > 6 and reply[:1] in (b"4", b"5") and reply[:3].isdigit()
            and reply[3:4] == b" " and bool(reply[4:].strip()) and reply.endswith(b"\r\n"))


async def honest_mail_still_lands(gw: Gateway, member: Member, subject: str) -> None:
    """A new connection, an honest transaction, and the mail in the member's inbox."""
    mail = mail_bytes(sender=OUTSIDER, to=member.alias, subject=subject, body="Honest.")
    code, text = await gw.deliver(OUTSIDER, [member.alias], mail)
    assert code == 250, text
    page = await (await gw.client.get("/api/v1/messages", headers=member.auth)).json()
    assert subject in [m["subject"] for m in page["messages"]]


@pytest.fixture
async def amina(gateway: Gateway) -> Member:  # noqa: F811
    return await register(gateway.client, "amina")


async def test_commands_out_of_order_get_a_refusal_with_a_reason(
        gateway: Gateway, amina: Member, logs: list[MutableMapping[str, Any]]) -> None:  # noqa: F811
    alias = amina.alias.encode()
    talk, greeting = await Dialogue.open(gateway.port)
    assert greeting.startswith(b"220 ")
    for line, code in ((b"MAIL FROM:<" + OUTSIDER.encode() + b">", b"503"),  # before EHLO
                       (b"EHLO client.example", b"250"),
                       (b"DATA", b"503"),                       # before MAIL and RCPT
                       (b"RCPT TO:<" + alias + b">", b"503"),   # before MAIL
                       (b"BDAT 10 LAST", b"500"),               # CHUNKING is not offered
                       (b"STARTTLS", b"454"),                   # no TLS configured
                       (b"AUTH PLAIN AGFAYg==", b"5"),          # no AUTH offered
                       (b"EXPN staff", b"502"),
                       (b"MAIL FROM:<" + OUTSIDER.encode() + b">", b"250"),
                       (b"MAIL FROM:<" + OUTSIDER.encode() + b">", b"503"),  # nested MAIL
                       (b"DATA", b"503"),                       # before RCPT
                       (b"RCPT TO:<>", b"5"),
                       (b"RCPT TO:<nobody@" + DOMAIN.encode() + b">", b"550"),
                       (b"DATA", b"503"),                       # no recipient was taken
                       (b"RSET", b"250"),
                       (b"HELO", b"501"), (b"MAIL", b"501"), (b"MAIL FROM:", b"501"),
                       (b"\x00\x01\x02", b"500"), (b"", b"500")):
        reply = await talk.say(line)
        assert reply.startswith(code), (line, reply)
        if code != b"250":
            assert is_refusal(reply), (line, reply)
    assert (await talk.say(b"QUIT")).startswith(b"221")
    talk.writer.write(b"NOOP\r\nMAIL FROM:<a@b.example>\r\n")  # after QUIT: nobody listens
    assert await talk.reply() == b""
    await talk.close()
    await honest_mail_still_lands(gateway, amina, "after the disorder")
    assert not crashes(logs)


async def test_oversized_lines_and_parameters_are_refused_and_the_session_goes_on(
        gateway: Gateway, amina: Member, logs: list[MutableMapping[str, Any]]) -> None:  # noqa: F811
    talk, _ = await Dialogue.open(gateway.port)
    for line, code in ((b"EHLO " + b"x" * 100_000, b"500"),     # a 100 KB command line
                       (b"EHLO client.example", b"250"),
                       (b"MAIL FROM:<" + b"a" * 5000 + b"@partner.example>", b"500"),
                       (b"MAIL FROM:<" + OUTSIDER.encode() + b"> X-JUNK=" + b"y" * 20_000,
                        b"500"),
                       (b"MAIL FROM:<" + OUTSIDER.encode() + b"> SIZE=" + b"9" * 300, b"552"),
                       (b"MAIL FROM:<" + OUTSIDER.encode() + b"> SIZE=-1", b"501"),
                       (b"MAIL FROM:<" + OUTSIDER.encode() + b"> BODY=BINARYMIME", b"501"),
                       (b"MAIL FROM:<" + OUTSIDER.encode() + b"> SMTPUTF8=yes", b"501"),
                       (b"MAIL FROM:<" + OUTSIDER.encode() + b"> " + b"A=1 " * 100, b"5"),
                       (b"MAIL FROM:<" + OUTSIDER.encode() + b"> SIZE=100", b"250"),
                       (b"RCPT TO:<" + b"r" * 100_000 + b"@" + DOMAIN.encode() + b">", b"500"),
                       (b"RCPT TO:<" + amina.alias.encode() + b"> NOTIFY=NEVER", b"5"),
                       (b"RCPT TO:<" + amina.alias.encode() + b">", b"250")):
        reply = await talk.say(line)
        assert reply.startswith(code), (line[:80], reply)
        if code != b"250":
            assert is_refusal(reply), (line[:80], reply)
    big = mail_bytes(sender=OUTSIDER, to=amina.alias, subject="s", body="x" * 400)
    assert (await talk.say(b"DATA")).startswith(b"354")
    reply = await talk.say(big.replace(b"\r\n.", b"\r\n..") + b"\r\n.")
    # More than the SIZE declared: RFC 1870 lets a server take it (within its own limit).
    assert reply.startswith(b"250") or is_refusal(reply), reply
    await talk.close()
    await honest_mail_still_lands(gateway, amina, "after the oversized")
    assert not crashes(logs)


async def test_a_thousand_recipients_pipelined_are_capped_and_the_mail_lands_once(
        gateway: Gateway, amina: Member, logs: list[MutableMapping[str, Any]]) -> None:  # noqa: F811
    bakari = await register(gateway.client, "bakari")
    talk, _ = await Dialogue.open(gateway.port)
    await talk.say(b"EHLO client.example")
    rcpts = [amina.alias, bakari.alias, amina.alias] + [
        f"n{i}@{DOMAIN}" if i % 2 else bakari.alias for i in range(997)]
    talk.writer.write(b"MAIL FROM:<" + OUTSIDER.encode() + b">\r\n" + b"".join(
        b"RCPT TO:<" + r.encode() + b">\r\n" for r in rcpts))  # all at once, pipelined
    assert (await talk.reply()).startswith(b"250")
    replies = [await talk.reply() for _ in rcpts]
    assert all(r.startswith((b"250", b"550", b"452")) for r in replies)
    assert sum(r.startswith(b"250") for r in replies) <= 20
    assert all(is_refusal(r) for r in replies[100:])
    mail = mail_bytes(sender=OUTSIDER, to=amina.alias, subject="to many", body="Bulk offer.")
    assert (await talk.say(b"DATA")).startswith(b"354")
    reply = await talk.say(mail.replace(b"\r\n.", b"\r\n..") + b"\r\n.")
    assert reply.startswith(b"250"), reply
    await talk.close()
    for member in (amina, bakari):  # the same alias named again and again: one copy each
        page = await (await gateway.client.get("/api/v1/messages", headers=member.auth)).json()
        assert [m["subject"] for m in page["messages"]] == ["to many"]
    assert not crashes(logs)


async def test_bytes_that_are_not_text_get_a_refusal_or_are_taken_cleanly(
        gateway: Gateway, amina: Member, logs: list[MutableMapping[str, Any]]) -> None:  # noqa: F811
    alias = amina.alias.encode()
    talk, _ = await Dialogue.open(gateway.port)
    for line, code in ((b"\xff\xfe\x80", b"500"), (b"EHLO \xff\xfe\x80.example", b"250"),
                       (b"NOOP \xc3\x28", b"250"),
                       (b"MAIL FROM:<\xc3\x28olu@partner.example>", b"553"),
                       (b"MAIL FROM:<" + OUTSIDER.encode() + b">", b"250"),
                       (b"RCPT TO:<\xff" + alias + b">", b"553"),
                       (b"RCPT TO:<" + alias[:-1] + b"\xe9>", b"553"),
                       (b"RCPT TO:<\xed\xa0\x80@" + DOMAIN.encode() + b">", b"553"),
                       (b"RCPT TO:<" + alias + b">", b"250")):
        reply = await talk.say(line)
        assert reply.startswith(code), (line, reply)
        assert code == b"250" or is_refusal(reply)
    assert (await talk.say(b"DATA")).startswith(b"354")
    mail = (b"From: \xc3\x28 <\xff@partner.example>\r\nSubject: \xff\xfe bad \x00 bytes\r\n"
            b"Content-Type: text/plain; charset=\xff\r\n\r\nbody \xff\x00\xc3\x28\r\n")
    reply = await talk.say(mail + b".")
    assert reply.startswith(b"250") or is_refusal(reply), reply
    await talk.close()
    await honest_mail_still_lands(gateway, amina, "after the bad bytes")
    assert not crashes(logs)


async def test_a_bare_lf_dot_does_not_end_the_data_and_smuggles_nothing(
        gateway: Gateway, amina: Member, logs: list[MutableMapping[str, Any]]) -> None:  # noqa: F811
    alias = amina.alias.encode()
    talk, _ = await Dialogue.open(gateway.port)
    await talk.up_to_data(OUTSIDER, amina.alias)
    smuggled = (b"From: " + OUTSIDER.encode() + b"\nTo: " + alias + b"\nSubject: outer\n\n"
                b"first\n.\nMAIL FROM:<x@evil.example>\nRCPT TO:<" + alias + b">\nDATA\n"
                b"Subject: smuggled\n\nsecond\r.\r\nlast line")
    reply = await talk.say(smuggled + b"\r\n.")
    assert reply.startswith(b"250"), reply
    assert (await talk.say(b"NOOP")).startswith(b"250")  # nothing is left in the pipe
    await talk.close()
    page = await (await gateway.client.get("/api/v1/messages", headers=amina.auth)).json()
    assert [m["subject"] for m in page["messages"]] == ["outer"]
    assert not crashes(logs)


async def test_a_flood_of_junk_commands_is_cut_off_and_others_are_served(
        gateway: Gateway, amina: Member, logs: list[MutableMapping[str, Any]]) -> None:  # noqa: F811
    talk, _ = await Dialogue.open(gateway.port)
    talk.writer.write(b"".join(b"JUNK%d \xff\r\n" % i for i in range(200)))
    replies = []
    while reply := await talk.reply():
        replies.append(reply)
    assert replies and all(is_refusal(r) for r in replies)
    assert len(replies) < 200  # hung up on, before the junk was all answered
    await talk.close()
    await honest_mail_still_lands(gateway, amina, "after the junk")
    assert not crashes(logs)


# ---------------------------------------------------------------- hostile MIME

OWN = ["amina@real-amina.example"]  # what a member's own addresses are scrubbed from
ENCODINGS = ["base64", "quoted-printable", "7bit", "8bit", "binary", "x-uuencode", "gzip",
             "BASE64", " base64 ", "quoted-printable; x=1", "x-unknown", ""]
CHARSETS = ["utf-8", "us-ascii", "iso-8859-1", "utf-16", "utf-7", "shift_jis", "x-unknown",
            "utf-8\x00", "\xff", "", "unicode-1-1-utf-7", "cp65001", "idna", "rot13", "hex",
            "base64_codec", "zlib_codec", "uu_codec"]
TYPES = ["text/plain", "text/html", "application/octet-stream", "image/png", "text/calendar",
         "application/ms-tnef", "message/delivery-status", "text", "/", "x/y/z", ""]
JUNK = st.binary(max_size=200) | st.sampled_from([
    b"\x00" * 50, b"=\r\n=3D=ZZ=", b"====", b"=?utf-8?B?////?=", b"=?x-bogus?Q?=FF?=",
    b"--b\r\n", b"--b--", b"\r\n.\r\n", b"begin 644 x\r\nM\r\nend", b"\xff\xfe\x00a\x00",
    b"<div" * 50, b"PK\x03\x04", b"\x1f\x8b\x08\x00"])


def _header(name: str, value: bytes) -> bytes:
    return name.encode() + b": " + value + b"\r\n"


@st.composite
def parts(draw: st.DrawFn, depth: int = 0) -> bytes:
    """One MIME entity (headers, a blank line, a body), broken in ways mail is broken."""
    kind = draw(st.sampled_from(["leaf", "leaf", "multipart", "rfc822"] if depth < 3
                                else ["leaf"]))
    head = b""
    if kind == "multipart":
        boundary = draw(st.sampled_from([b"b", b"", b'"b"', b"b" * 80, b"--", b"\xff"]))
        children = draw(st.lists(parts(depth + 1), min_size=0, max_size=3))
        head += _header("Content-Type", draw(st.sampled_from(
            [b"multipart/mixed", b"multipart/alternative", b"multipart/related",
             b"multipart/signed", b"multipart/report; report-type=delivery-status"]))
            + b"; boundary=" + boundary)
        close = draw(st.sampled_from([b"--b--\r\n", b"", b"--c--\r\n", b"--b"]))
        body = b"".join(b"--b\r\n" + c + b"\r\n" for c in children) + close
    elif kind == "rfc822":
        head += _header("Content-Type", b"message/rfc822")
        body = draw(parts(depth + 1))
    else:
        head += _header("Content-Type", draw(st.sampled_from(TYPES)).encode() + b"; charset="
                        + draw(st.sampled_from(CHARSETS)).encode("utf-8", "surrogateescape")
                        + draw(st.sampled_from([b"", b"; name=\xff.txt", b"; format=flowed"])))
        body = draw(JUNK)
    if draw(st.booleans()):
        head += _header("Content-Transfer-Encoding", draw(st.sampled_from(ENCODINGS)).encode())
    if draw(st.booleans()):
        head += _header("Content-Disposition", draw(st.sampled_from(
            [b"attachment", b"attachment; filename*=x-bogus''%FF", b"inline; filename=\x00",
             b"attachment; filename=\"=?utf-8?B?Li4vLi4v?=\""])))
    if draw(st.booleans()):
        head += _header(draw(st.sampled_from(["Subject", "From", "To", "X-Junk", "Cc"])),
                        draw(JUNK).replace(b"\n", b" ").replace(b"\r", b" "))
    return head + draw(st.sampled_from([b"\r\n", b"\n", b""])) + body


def read_or_refuse(raw: bytes, *, bounce: bool = False) -> Any:
    """The gateway's reading of a mail as its worker does it: read, then scrubbed of a
    member's addresses. Only the refusals the SMTP door turns into a reply may come out."""
    try:
        mail = read_mail(raw, max_text_chars=10_000, bounce=bounce, our_domain=DOMAIN)
    except (TooLarge, InvalidInput, MailRefused):
        return None
    assert isinstance(mail, ReadMail)
    if mail.text is not None:
        scrubbed = scrub_mail(mail.text, OWN, "[hidden]")
        assert OWN[0] not in scrubbed.body
    return mail


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(raw=parts())
def test_broken_mime_is_read_or_refused_never_a_crash(raw: bytes) -> None:
    read_or_refuse(b"From: olu@partner.example\r\nMessage-ID: <x@partner.example>\r\n" + raw,
                   bounce=True)


HEAD = b"From: olu@partner.example\r\nTo: x@relay.localhost\r\nSubject: s\r\n"


def _deep_multipart(levels: int) -> bytes:
    opening = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
                       for i in range(levels))
    return (HEAD + opening + b"Content-Type: text/plain\r\n\r\nhello\r\n"
            + b"".join(b"--b%d--\r\n" % i for i in reversed(range(levels))))


def _nested_mails(levels: int, *, encoded: bool) -> bytes:
    inner = b"Subject: inner\r\n\r\nwrite to amina@real-amina.example\r\n"
    for _ in range(levels):
        inner = b"Content-Type: message/rfc822\r\n" + (
            b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(inner)
            if encoded else b"\r\n" + inner)
    return HEAD + inner


def _gzip_bomb(expanded: int) -> bytes:
    """A gzip attachment of `expanded` zero bytes, made a MB at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    packed = b"".join(packer.compress(bytes(1 << 20)) for _ in range(expanded >> 20))
    packed += packer.flush()
    return (HEAD + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
            b"Content-Type: text/plain\r\n\r\nSee the file.\r\n--b\r\n"
            b"Content-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=prices.gz\r\n\r\n"
            + base64.encodebytes(packed) + b"--b--\r\n")


MULTIPART = HEAD + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
HOSTILE = {
    "250 nested multiparts": (_deep_multipart(250), "read"),
    "5000 nested mails": (_nested_mails(5000, encoded=False), "refused"),
    "12 nested base64 mails": (_nested_mails(12, encoded=True), "read"),
    "a 1 MB header line": (HEAD + b"X-Big: " + b"a" * (1 << 20) + b"\r\n\r\nbody", "refused"),
    "a 1 MB folded header": (HEAD + b"X-Big:" + b"\r\n a" * (1 << 19) + b"\r\n\r\nx", "refused"),
    "a 1 MB Subject": (b"Subject: " + b"=?utf-8?B?QUFB?= " * 60_000 + b"\r\n\r\nx", "refused"),
    "1 MB of NUL": (HEAD.replace(b"s\r\n", b"\x00\r\n") + b"\r\n"
                    + (bytes(78) + b"\r\n") * 13_000, "read"),
    "100,000 parts with no header": (MULTIPART + b"--b\r\n\r\nx\r\n" * 100_000, "refused"),
    "100,000 parts on bare CRs": (MULTIPART + b"\r--b\r\rx" * 100_000, "refused"),
    "a boundary never closed": (MULTIPART + b"--b\r\n\r\nhello\r\n--b\r\n", "read"),
    "a boundary never used": (MULTIPART + b"hello\r\n", "read"),
    "an empty boundary": (MULTIPART.replace(b"=b", b'=""') + b"--\r\n\r\nx\r\n----", "read"),
    "1 MB of quoted-printable": (HEAD + b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                                 + b"=41=\r\n" * 150_000, "read"),
    "broken base64": (HEAD + b"Content-Transfer-Encoding: base64\r\n\r\n====\x00*\xffQQ", "read"),
    "unknown encodings": (MULTIPART + b"".join(
        b"--b\r\nContent-Transfer-Encoding: " + cte + b"\r\nContent-Disposition: attachment"
        b"\r\n\r\n\x00\xff==\r\n" for cte in (b"x-gzip", b"uuencode", b"\xff", b"base64 base64",
                                               b"8bit; q=1", b"binary")) + b"--b--\r\n", "read"),
    "bad charsets": (MULTIPART + b"".join(
        b"--b\r\nContent-Type: text/plain; charset=" + cs + b"\r\n\r\nabc\xff+AGE-\x00\r\n"
        for cs in (b"x-unknown", b"idna", b"utf-7", b"\xff", b"utf-16", b"rot13", b"zlib",
                   b"hex", b"uu_codec", b"base64_codec", b"utf-8\x00", b"mbcs")) + b"--b--\r\n",
                     "read"),
    "a gzip bomb of 200 MB": (_gzip_bomb(200 << 20), "read"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_mail_is_read_or_refused_within_bounds(name: str) -> None:
    raw, outcome = HOSTILE[name]
    tracemalloc.start()
    try:
        mail = read_or_refuse(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (mail is None) == (outcome == "refused")
    # What reading takes is bounded by the mail's size, whatever the mail says: decoding
    # and decompressing by a budget of their own (bounds.MAX_EXPANDED_BYTES; what was
    # expanded is joined once, so twice that at most).
    assert peak < 40 * len(raw) + 2 * MAX_EXPANDED_BYTES + (16 << 20), peak


# ---------------------------------------------------------------- the API, by its schema

# Ending the account would end the token the rest of the run speaks with.
NOT_FUZZED = {("DELETE", "/api/v1/me")}
SCHEMA_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                 response_headers_conformance, response_schema_conformance]


@pytest.fixture
async def api(aiohttp_client: Any, tmp_path: Path, store_url: str, clock: FakeClock) -> Any:
    """The whole app on a real socket, on each backend (SQL types differ between them)."""
    transport = MemoryTransport()
    app = await build_app(make_config(tmp_path, store_url), clock, transport=transport)
    app[OUTBOUND] = transport
    return await aiohttp_client(app)


def fuzz_every_operation(base_url: str, token: str) -> list[str]:
    """schemathesis's cases, valid and not, for every operation of the API's own document,
    each sent over HTTP and its response checked against the document; what failed."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself is checked elsewhere
        operation = result.ok()
        if (operation.method.upper(), operation.path) in NOT_FUZZED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz_one(operation.as_strategy(mode), base_url, token, failures)
    return failures


def fuzz_one(cases: Any, base_url: str, token: str, failures: list[str]) -> None:
    @settings(max_examples=6, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(case=cases)
    def run(case: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        response = case.call(base_url=base_url, timeout=30)
        try:
            case.validate_response(response, checks=SCHEMA_CHECKS)
        except (AssertionError, FailureGroup) as failure:  # one failed check, or several
            failures.append(f"{case.operation.label}: {response.status_code} "
                            f"{str(failure)[:600]} body={response.text[:300]!r}")

    try:
        run()
    except Unsatisfiable:
        pass  # an operation with nothing that can be made invalid (no parameters, no body)


async def test_every_operation_answers_as_its_schema_says(api: Any) -> None:
    member = await register(api, "fuzzer")
    base_url = str(api.make_url("")).rstrip("/")
    failures = await asyncio.to_thread(fuzz_every_operation, base_url, member.token)
    assert not failures, "\n".join(failures)


THROUGH_THE_SOCKET = ["250 nested multiparts", "5000 nested mails", "a 1 MB header line",
                      "a 1 MB folded header", "1 MB of NUL", "100,000 parts with no header",
                      "100,000 parts on bare CRs", "unknown encodings", "bad charsets",
                      "a gzip bomb of 200 MB"]


async def test_hostile_mail_over_smtp_gets_a_reply_and_the_gateway_serves_on(
        gateway: Gateway, amina: Member, logs: list[MutableMapping[str, Any]]) -> None:  # noqa: F811
    replies = {}
    for name in THROUGH_THE_SOCKET:
        raw = HOSTILE[name][0].replace(b"x@relay.localhost", amina.alias.encode())
        code, text = await gateway.deliver(OUTSIDER, [amina.alias], raw)
        replies[name] = (code, text)
        assert code == 250 or (400 <= code < 600 and text.strip()), (name, code, text)
    assert replies["100,000 parts with no header"][0] == 550
    assert "MIME parts" in replies["100,000 parts with no header"][1]
    assert replies["a 1 MB folded header"][0] == 552
    await honest_mail_still_lands(gateway, amina, "after the hostile mail")
    assert not crashes(logs)


def test_a_huge_bounce_is_judged_from_its_head_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """flufl.bounce's heuristics read every line: a bounce the size of the mail limit (an
    outsider learns bounce addresses from any mail we send) gives them only its head,
    where the report is, and is still recognised."""
    from trademail.mail import parse

    fed: list[int] = []
    heuristics = parse.all_failures

    def measured(message: Any) -> Any:
        fed.append(len(message.as_bytes()))
        return heuristics(message)

    monkeypatch.setattr(parse, "all_failures", measured)
    report = (b"Hi. This is the qmail-send program at mx.example.org.\n"
              b"I'm afraid I wasn't able to deliver your message to the following "
              b"addresses.\nThis is a permanent error; I've given up. Sorry it didn't "
              b"work out.\n\n<nobody@example.org>:\nSorry, no mailbox here by that name.\n\n"
              b"--- Below this line is a copy of the message.\n\n")
    raw = (b"From: MAILER-DAEMON@mx.example.org\nTo: bounce@" + DOMAIN.encode() +
           b"\nSubject: failure notice\n\n" + report + b"returned line of text\n" * 400_000)
    mail = read_mail(raw, max_text_chars=10_000, bounce=True, our_domain=DOMAIN)
    assert mail.bounce_status == "5.0.0"
    assert fed and max(fed) <= parse.BOUNCE_SCAN_BYTES + 1024, fed
