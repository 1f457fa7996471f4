"""Slow and big clients: slowloris on HTTP and SMTP, thousands of idle SMTP connections, a
25 MB mail and a 10 MB upload over a slow link. The slow ones are dropped after the
configured time, the big ones are taken or refused without being held whole, memory stays
bounded, and other members are served meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import resource
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import asyncpg
import pytest

from tests.helpers import OUTBOUND, make_config, register
from tests.process_helpers import Server
from tests.smtp_helpers import Smarthost, transaction
from tests.test_gateway import mail_bytes
from tests.test_gateway_tls import make_certificate
from tests.test_workers import _member
from trademail.app import CORE, build_app
from trademail.appkeys import SMTP_GATEWAY
from trademail.testing import FakeClock, MemoryTransport

OUTSIDER = "trader@outside.example"


@pytest.fixture
async def smarthost() -> AsyncIterator[Smarthost]:
    async with Smarthost() as host:
        yield host


@contextlib.contextmanager
def open_files(soft: int) -> Iterator[None]:
    """This process's soft open-file limit set to `soft` (at most the hard limit) for a
    while; a server started meanwhile inherits it."""
    before, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft > hard:
        pytest.skip(f"the hard open-file limit ({hard}) is below the {soft} this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (before, hard))


def memory_kib(pid: int) -> dict[str, int]:
    """A process's resident memory now (VmRSS) and at its highest (VmHWM), in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server says until it closes the connection."""
    said = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(4096):
            said += chunk
    return said


async def trickle(host: str, port: int, payload: bytes, pause: float,
                  opened: asyncio.Event | None = None, prelude: bytes = b"",
                  source: str = "127.0.0.1") -> bytes:
    """From `source`, send `prelude` at once, then `payload` a byte at a time, `pause`
    apart, over and over, never finishing, until the server closes the connection; what it
    said."""
    reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
    writer.write(prelude)
    if opened is not None:
        opened.set()
    heard = asyncio.create_task(closed_by_server(reader))
    try:
        while not heard.done():
            for byte in payload:
                if heard.done():
                    break
                writer.write(bytes([byte]))
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                await asyncio.sleep(pause)
        return await heard
    finally:
        writer.close()


# ---------------------------------------------------------------- HTTP


def multipart_send(to: str, data: bytes, boundary: str = "hostile-slow-boundary") -> bytes:
    """A multipart/form-data send of a message to `to` with `data` as its attachment."""
    head = b""
    for name, value in (("to", to), ("subject", "Specs"), ("body", "Attached.")):
        head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                 f"{value}\r\n").encode()
    head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"attachments\"; "
             f"filename=\"specs.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
             ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode()


async def slow_upload(port: int, auth: dict[str, str], body: bytes, *, chunk: int,
                      pause: float) -> tuple[int, bytes]:
    """POST /api/v1/messages over a raw socket, the body `chunk` bytes at a time with
    `pause` between: (status, response body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: {auth['Authorization']}\r\nConnection: close\r\n"
            f"Content-Type: multipart/form-data; boundary=hostile-slow-boundary\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    writer.write(head)
    for start in range(0, len(body), chunk):
        writer.write(body[start:start + chunk])
        await writer.drain()
        await asyncio.sleep(pause)
    response = await closed_by_server(reader)
    writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


async def test_http_slowloris_is_dropped_while_members_are_served_and_slow_uploads_finish(
        tmp_path: Path, sqlite_url: str, smarthost: Smarthost) -> None:
    """Slow headers are cut at [http] header_timeout_seconds (2 s here); a 10 MB upload
    that takes longer than that over a slow link is not, and other members are answered
    while both go on."""
    server = Server(tmp_path, sqlite_url, smarthost.port,
                    TRADEMAIL_HTTP_HEADER_TIMEOUT_SECONDS="2")
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            ada = await _member(http, server, server, smarthost, "ada")
            bob = await _member(http, server, server, smarthost, "bob")
            opened = [asyncio.Event() for _ in range(150)]
            slow = [asyncio.create_task(trickle(
                "127.0.0.1", server.http, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
                + b"a" * 200, 0.25, event)) for event in opened]
            await asyncio.gather(*(event.wait() for event in opened))

            data = os.urandom(10_000_000)
            upload = asyncio.create_task(slow_upload(
                server.http, ada, multipart_send("bob", data), chunk=128 * 1024, pause=0.04))
            answered = 0
            while not upload.done():  # Bob keeps being answered while the file comes in
                async with http.get(f"{server.url}/api/v1/me", headers=bob) as resp:
                    assert resp.status == 200, await resp.text()
                answered += 1
                await asyncio.sleep(0.1)
            assert answered >= 2
            status, body = await upload
            assert status == 201, body[:300]

            # Every slow connection is dropped by the server, unanswered.
            said = await asyncio.wait_for(asyncio.gather(*slow), 20)
            assert said == [b""] * len(slow)

            async with http.get(f"{server.url}/api/v1/messages?folder=inbox",
                                headers=bob) as resp:
                (message,) = (await resp.json())["messages"]
            async with http.get(f"{server.url}/api/v1/messages/{message['id']}",
                                headers=bob) as resp:
                (attachment,) = (await resp.json())["attachments"]
            async with http.get(f"{server.url}{attachment['url']}", headers=bob) as resp:
                assert hashlib.sha256(await resp.read()).digest() == \
                    hashlib.sha256(data).digest()
    finally:
        assert "Traceback" not in server.stop()


# ---------------------------------------------------------------- SMTP


@pytest.fixture
async def quick_smtp(aiohttp_client: Any, tmp_path: Path, sqlite_url: str,
                     clock: FakeClock) -> Any:
    """The whole app whose SMTP gateway drops a client 1 s after its last command."""
    transport = MemoryTransport()
    app = await build_app(make_config(tmp_path, sqlite_url, TRADEMAIL_SMTP_TIMEOUT_SECONDS="1"),
                          clock, transport=transport)
    app[OUTBOUND] = transport
    return await aiohttp_client(app)


async def test_smtp_commands_and_data_trickled_slowly_are_dropped_while_mail_flows(
        quick_smtp: Any) -> None:
    amina = await register(quick_smtp, "amina")
    port = int(quick_smtp.app[SMTP_GATEWAY].address[1])
    dialogue = (f"EHLO slow.example\r\nMAIL FROM:<{OUTSIDER}>\r\nRCPT TO:<{amina.alias}>\r\n"
                "DATA\r\n").encode()
    opened = [asyncio.Event() for _ in range(60)]
    slow_commands = [asyncio.create_task(trickle(
        "127.0.0.1", port, b"EHLO slow.example", 0.05, event, source=f"127.0.1.{i // 10}"))
        for i, event in enumerate(opened[:30])]
    slow_data = [asyncio.create_task(trickle(  # each client address may hold 10
        "127.0.0.1", port, b"X-Slow: a\r\n", 0.05, event, prelude=dialogue,
        source=f"127.0.2.{i // 10}")) for i, event in enumerate(opened[30:])]
    await asyncio.gather(*(event.wait() for event in opened))

    mail = mail_bytes(sender=OUTSIDER, to=amina.alias, subject="Quote", body="20 tonnes?")
    assert (await transaction(port, OUTSIDER, [amina.alias], mail))[0] == 250

    said = await asyncio.wait_for(asyncio.gather(*slow_commands, *slow_data), 15)
    assert all(s.startswith(b"220 ") and b"250" not in s for s in said[:30])
    assert all(s.startswith(b"220 ") and b"354" in s for s in said[30:])
    # Only the honest mail was taken; the trickled ones were never finished.
    db = quick_smtp.app[CORE].stores.db
    assert await db.fetchval("SELECT COUNT(*) FROM messages") == 1


async def test_the_smtp_timeout_counts_the_clients_time_not_the_servers(
        aiohttp_client: Any, tmp_path: Path, postgres_url: str, clock: FakeClock) -> None:
    """A mail whose commit waits longer than [smtp] timeout_seconds (a table locked for a
    while) still gets its 250: the timer stops while the gateway works."""
    transport = MemoryTransport()
    app = await build_app(make_config(tmp_path, postgres_url, TRADEMAIL_SMTP_TIMEOUT_SECONDS="1"),
                          clock, transport=transport)
    app[OUTBOUND] = transport
    client = await aiohttp_client(app)
    amina = await register(client, "amina")
    port = int(app[SMTP_GATEWAY].address[1])
    mail = mail_bytes(sender=OUTSIDER, to=amina.alias, subject="Quote", body="20 tonnes?")
    locker = await asyncpg.connect(postgres_url)
    try:
        locked = locker.transaction()
        await locked.start()
        await locker.execute("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
        sent = asyncio.create_task(transaction(port, OUTSIDER, [amina.alias], mail))
        await asyncio.sleep(2)  # the gateway waits on the lock past its 1 s timeout
        await locked.rollback()
        assert (await sent)[0] == 250
    finally:
        await locker.close()
    assert await app[CORE].stores.db.fetchval("SELECT COUNT(*) FROM messages") == 1


async def greeting(source: str, port: int) -> tuple[bytes, asyncio.StreamWriter]:
    """A connection from `source` to the gateway, kept open: its first line, and its writer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    # A server out of open files never accepts: no greeting comes, and the test fails.
    return await asyncio.wait_for(reader.readline(), 10), writer


async def idle_connections(port: int, source: str, count: int,
                           held: list[asyncio.StreamWriter]) -> list[bytes]:
    """`count` connections from `source` that say nothing, opened a hundred at a time;
    their greetings (each kept in `held` to close later)."""
    lines = []
    for start in range(0, count, 100):
        for line, writer in await asyncio.gather(*(
                greeting(source, port) for _ in range(min(100, count - start)))):
            lines.append(line[:9])
            held.append(writer)
    return lines


async def test_thousands_of_idle_smtp_connections_are_capped_in_bounded_memory(
        tmp_path: Path, sqlite_url: str, smarthost: Smarthost) -> None:
    """1,550 idle connections against a cap of 1,300 (600 per client address): the rest get
    421, the server's memory grows by far less than a buffer a connection, the web door
    still answers, and once some go an honest sender is served."""
    server = Server(tmp_path, sqlite_url, smarthost.port, TRADEMAIL_SMTP_MAX_CONNECTIONS="1300",
                    TRADEMAIL_SMTP_MAX_CONNECTIONS_PER_CLIENT="600")
    with open_files(256):  # the server starts with a low soft limit and must raise its own
        await server.start()
    held: list[asyncio.StreamWriter] = []
    try:
        with open_files(4096):
            async with aiohttp.ClientSession() as http:
                ada = await _member(http, server, server, smarthost, "ada")
                async with http.get(f"{server.url}/api/v1/me", headers=ada) as resp:
                    alias = (await resp.json())["aliases"][0]["address"]
                mail = mail_bytes(sender=OUTSIDER, to=alias, subject="Quote", body="20 t?")
                assert (await transaction(server.smtp, OUTSIDER, [alias], mail))[0] == 250
                assert server.proc is not None
                before = memory_kib(server.proc.pid)

                for source in ("127.0.3.1", "127.0.3.2"):
                    lines = await idle_connections(server.smtp, source, 700, held)
                    assert lines.count(b"220 relay") == 600
                    assert lines.count(b"421 4.7.0") == 100
                late = await idle_connections(server.smtp, "127.0.3.3", 150, held)
                assert late.count(b"220 relay") == 100 and late.count(b"421 4.3.2") == 50

                after = memory_kib(server.proc.pid)
                assert after["VmRSS"] - before["VmRSS"] < 1300 * 24
                async with http.get(f"{server.url}/api/v1/me", headers=ada) as resp:
                    assert resp.status == 200
                # The cap is full: a new client waits, and is served once some go.
                with pytest.raises(aiosmtplib.SMTPConnectResponseError, match="421"):
                    await transaction(server.smtp, OUTSIDER, [alias], mail)
                for writer in held[-150:]:
                    writer.close()
                for _ in range(100):
                    with contextlib.suppress(aiosmtplib.SMTPConnectResponseError):
                        if (await transaction(server.smtp, OUTSIDER, [alias], mail))[0] == 250:
                            break
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError("the honest sender was never served")
    finally:
        for writer in held:
            writer.close()
        assert "Traceback" not in server.stop()


def mail_with_files(to: str, *sizes: int) -> bytes:
    """A mail from outside with attachments of random bytes of these sizes (base64)."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = OUTSIDER, to, "Catalogue"
    message.set_content("The catalogue is attached.")
    for number, size in enumerate(sizes):
        message.add_attachment(os.urandom(size), maintype="application",
                               subtype="octet-stream", filename=f"part{number}.bin")
    return message.as_bytes()


async def test_a_25_mb_mail_is_taken_and_one_over_the_limit_refused_in_bounded_memory(
        tmp_path: Path, sqlite_url: str, smarthost: Smarthost) -> None:
    limit = 25 * 1024 * 1024  # the default [smtp] max_message_bytes
    server = Server(tmp_path, sqlite_url, smarthost.port)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            ada = await _member(http, server, server, smarthost, "ada")
            async with http.get(f"{server.url}/api/v1/me", headers=ada) as resp:
                alias = (await resp.json())["aliases"][0]["address"]
            assert server.proc is not None
            before = memory_kib(server.proc.pid)

            over = mail_with_files(alias, *[int(6.5 * 1024 * 1024)] * 3)
            assert len(over) > limit
            code, _ = await transaction(server.smtp, OUTSIDER, [alias], over, size=len(over))
            assert code == 552  # declared: refused at MAIL, before a byte of it is sent
            code, _ = await transaction(server.smtp, OUTSIDER, [alias], over, wait=600)
            assert code == 552  # undeclared: read to its end, but nothing of it kept
            refused = memory_kib(server.proc.pid)
            # aiosmtpd keeps the lines up to the limit, then lets them go: at most a little
            # over twice the limit was ever held, however big the mail.
            assert refused["VmHWM"] - before["VmHWM"] < 3 * limit // 1024

            under = mail_with_files(alias, 9 * 1024 * 1024, 9 * 1024 * 1024)
            assert limit - 2 * 1024 * 1024 < len(under) < limit
            # A sending MTA waits 10 minutes for the answer to a mail (RFC 5321 s. 4.5.3.2.6).
            assert (await transaction(server.smtp, OUTSIDER, [alias], under,
                                      wait=600))[0] == 250
            taken = memory_kib(server.proc.pid)
            assert taken["VmHWM"] - refused["VmHWM"] < 8 * limit // 1024  # about 5 now
            async with http.get(f"{server.url}/api/v1/messages?folder=inbox",
                                headers=ada) as resp:
                (message,) = (await resp.json())["messages"]
            async with http.get(f"{server.url}/api/v1/messages/{message['id']}",
                                headers=ada) as resp:
                files = (await resp.json())["attachments"]
            assert [f["size"] for f in files] == [9 * 1024 * 1024] * 2
    finally:
        assert "Traceback" not in server.stop()


async def test_a_client_silent_in_the_tls_handshake_gives_its_connection_back(
        aiohttp_client: Any, tmp_path: Path, sqlite_url: str) -> None:
    """STARTTLS, then nothing: the timeout cuts it, and its place is free again (the TLS
    layer would never report the loss of a connection whose handshake never ended)."""
    cert, key = make_certificate(tmp_path)
    client = await aiohttp_client(await build_app(make_config(
        tmp_path, sqlite_url, TRADEMAIL_SMTP_TLS_CERT_FILE=str(cert),
        TRADEMAIL_SMTP_TLS_KEY_FILE=str(key), TRADEMAIL_SMTP_TIMEOUT_SECONDS="1",
        TRADEMAIL_SMTP_MAX_CONNECTIONS_PER_CLIENT="1"), FakeClock()))
    port = int(client.app[SMTP_GATEWAY].address[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert (await reader.readline()).startswith(b"220")
    writer.write(b"EHLO silent.example\r\nSTARTTLS\r\n")
    while not (line := await reader.readline()).startswith(b"220"):
        assert line, "the gateway hung up before STARTTLS"
    # ... and never a ClientHello. The next connection from this address gets a 421
    # while this one is counted, and a 220 once the timeout has let it go.
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        other_reader, other_writer = await asyncio.open_connection("127.0.0.1", port)
        greeting = await other_reader.readline()
        other_writer.close()
        if greeting.startswith(b"220"):
            break
        assert greeting.startswith(b"421"), greeting
        assert asyncio.get_running_loop().time() < deadline, "the silent client kept its place"
        await asyncio.sleep(0.2)
    writer.close()
