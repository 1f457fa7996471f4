"""SMTP DATA as the gateway reads it (trademail/gateway/smtpdata.py): in the pieces the
socket delivers, cut anywhere, yet exactly RFC 5321's mail text: dots unstuffed, the end
mark only a "." line between two CRLFs, long lines and big mails refused after the
client's last byte, and whatever the client pipelined after the mark left for the next
command."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import MutableMapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import Member
from tests.test_gateway import Gateway, mail_bytes
from tests.test_hostile_fuzz import (  # noqa: F401 - fixtures are used by name
    OUTSIDER,
    Dialogue,
    amina,
    config,
    crashes,
    gateway,
    logs,
    smarthost,
)
from trademail.gateway.smtpdata import TOO_LONG, TOO_MUCH, WorkBudget, read_data


def stuffed(text: bytes) -> bytes:
    """`text` (whole CRLF lines) as a client sends it after DATA, the end mark and all."""
    lines = text.split(b"\r\n")[:-1] if text else []
    return b"".join((b"." if line.startswith(b".") else b"") + line + b"\r\n"
                    for line in lines) + b".\r\n"


async def read_in_pieces(wire: bytes, cuts: list[int], size_limit: int | None = None,
                         line_limit: int = 1001) -> tuple[bytes, str | None, bytes]:
    """read_data over a stream that delivers `wire` cut at `cuts`, then "NEXT\\r\\n": what
    it read, its refusal, and what it left in the stream."""
    reader = asyncio.StreamReader(limit=1001)  # aiosmtpd's, the line length limit
    bounds = [0, *sorted(set(cuts)), len(wire)]

    async def feed() -> None:
        for start, end in itertools.pairwise(bounds):
            reader.feed_data(wire[start:end])
            await asyncio.sleep(0)  # let the reader take what has come so far
        reader.feed_data(b"NEXT\r\n")
        reader.feed_eof()

    feeding = asyncio.create_task(feed())
    data, refusal = await read_data(reader, size_limit, line_limit)
    await feeding
    return data, refusal, await reader.read()


lines = st.lists(st.one_of(
    st.sampled_from([b"", b".", b"..", b".x", b"x.", b"\n.\n", b"\r.\r", b".\n", b"\n.",
                     b"a\rb", b"a\nb", b"\r", b"\n"]),
    st.binary(max_size=120).map(lambda b: b.replace(b"\r\n", b"\n"))), max_size=40)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(lines, st.lists(st.integers(min_value=1, max_value=6000), max_size=12))
def test_any_mail_cut_anywhere_reads_back_exactly(body: list[bytes], cuts: list[int]) -> None:
    text = b"".join(line.replace(b"\r\n", b"\n") + b"\r\n" for line in body)
    wire = stuffed(text)
    data, refusal, rest = asyncio.run(
        read_in_pieces(wire, [c for c in cuts if c < len(wire)]))
    assert (data, refusal, rest) == (text, None, b"NEXT\r\n")


async def test_every_cut_of_a_mail_of_dots_and_lone_line_ends() -> None:
    text = b".\r\n..\r\nx.\r\n\r\n.\n.\r.\r\n\r\n.x\r\n\r\r\n\n\r\n"
    wire = stuffed(text)
    for one in range(1, len(wire)):
        for other in range(one, len(wire), 3):
            assert await read_in_pieces(wire, [one, other]) == (text, None, b"NEXT\r\n")


async def test_an_empty_mail_and_a_mark_not_at_a_line_start() -> None:
    assert await read_in_pieces(b".\r\n", []) == (b"", None, b"NEXT\r\n")
    # "a.\r\n" is text; the mark is the "." line after it.
    assert await read_in_pieces(b"a.\r\n.\r\n", [1, 2]) == (b"a.\r\n", None, b"NEXT\r\n")


async def test_lines_are_measured_across_pieces_even_between_cr_and_lf() -> None:
    # The reader hands over a piece when it holds more than its limit, keeping back the
    # last two bytes: cuts around the lines' ends put a CR and its LF in different pieces.
    longest = b"x" * 999 + b"\r\n"  # 1,001 bytes with its CRLF: the longest allowed
    text = b"short\r\n" + longest + b"y" * 998 + b"\r\n" + b"end\r\n"
    for cut in range(990, 1030):
        assert await read_in_pieces(stuffed(text), [cut, cut + 1000]) == (
            text, None, b"NEXT\r\n")
    too_long = stuffed(b"short\r\n" + b"x" + longest + b"end\r\n")
    for cut in (*range(995, 1025), 3):
        assert await read_in_pieces(too_long, [cut]) == (b"", TOO_LONG, b"NEXT\r\n")
    endless = b"y" * 50_000 + b"\r\n.\r\n"  # read to its end all the same
    assert await read_in_pieces(endless, list(range(0, 50_000, 7_000))) == (
        b"", TOO_LONG, b"NEXT\r\n")


async def test_a_mail_over_the_size_limit_is_read_to_its_end_and_refused() -> None:
    text = b"".join(b"line %05d of the catalogue\r\n" % n for n in range(2_000))
    assert (await read_in_pieces(stuffed(text), [], size_limit=len(text)))[:2] == (text, None)
    assert await read_in_pieces(stuffed(text), [10_000], size_limit=len(text) - 1) == (
        b"", TOO_MUCH, b"NEXT\r\n")


async def test_over_a_real_socket_in_small_pieces_with_the_next_command_pipelined(
        gateway: Gateway, amina: Member,  # noqa: F811
        logs: list[MutableMapping[str, Any]]) -> None:  # noqa: F811
    talk, _ = await Dialogue.open(gateway.port)
    await talk.up_to_data(OUTSIDER, amina.alias)
    body = "..a line that starts with a dot\n.\nx.\nthe last line"
    mail = mail_bytes(sender=OUTSIDER, to=amina.alias, subject="In pieces", body=body)
    wire = stuffed(mail.replace(b"\r\n", b"\n").rstrip(b"\n").replace(b"\n", b"\r\n")
                   + b"\r\n")
    cuts = sorted(random.Random(7).sample(range(1, len(wire)), 40))
    for start, end in itertools.pairwise([0, *cuts, len(wire)]):
        talk.writer.write(wire[start:end])
        await talk.writer.drain()
        await asyncio.sleep(0.002)  # pacing only, so the pieces arrive apart
    talk.writer.write(b"NOOP\r\n")  # pipelined behind the mark
    assert (await talk.reply()).startswith(b"250 2.0.0")
    assert (await talk.reply()).startswith(b"250")  # the NOOP, read after the mail
    assert (await talk.say(b"QUIT")).startswith(b"221")
    await talk.close()
    page = await (await gateway.client.get("/api/v1/messages", headers=amina.auth)).json()
    (item,) = page["messages"]
    message = await (await gateway.client.get(f"/api/v1/messages/{item['id']}",
                                              headers=amina.auth)).json()
    assert message["body"].split("\n")[:3] == ["..a line that starts with a dot", ".", "x."]
    assert not crashes(logs)


async def test_refusals_of_data_carry_enhanced_codes_and_the_session_goes_on(
        gateway: Gateway, amina: Member,  # noqa: F811
        logs: list[MutableMapping[str, Any]]) -> None:  # noqa: F811
    alias = amina.alias.encode()
    talk, _ = await Dialogue.open(gateway.port)
    assert (await talk.say(b"EHLO client.example")).startswith(b"250")
    assert (await talk.say(b"MAIL FROM:<" + OUTSIDER.encode() + b">")).startswith(b"250")
    assert (await talk.say(b"DATA")).startswith(b"503 5.5.1")
    assert (await talk.say(b"RCPT TO:<" + alias + b">")).startswith(b"250")
    assert (await talk.say(b"DATA now")).startswith(b"501 5.5.4")
    assert (await talk.say(b"DATA")).startswith(b"354")
    assert await talk.say(b"Subject: long\r\n\r\n" + b"z" * 5000 + b"\r\n.") == (
        TOO_LONG.encode() + b"\r\n")
    # The transaction is over; a new one on the same connection is taken.
    assert (await talk.say(b"MAIL FROM:<" + OUTSIDER.encode() + b">")).startswith(b"250")
    assert (await talk.say(b"RCPT TO:<" + alias + b">")).startswith(b"250")
    assert (await talk.say(b"DATA")).startswith(b"354")
    mail = mail_bytes(sender=OUTSIDER, to=amina.alias, subject="After", body="fine")
    assert (await talk.say(mail.rstrip(b"\r\n") + b"\r\n.")).startswith(b"250 2.0.0")
    await talk.close()
    assert not crashes(logs)


async def test_mails_take_room_in_the_order_they_came_and_a_big_one_is_not_starved() -> None:
    budget = WorkBudget(10)
    order: list[str] = []
    release = {name: asyncio.Event() for name in ("a", "big", "s1", "s2", "s3", "s9")}

    async def work(name: str, size: int) -> None:
        async with budget.hold(size):
            order.append(name)
            await release[name].wait()

    first = asyncio.create_task(work("a", 6))
    await asyncio.sleep(0)
    big = asyncio.create_task(work("big", 10))  # needs it all: waits for "a"
    await asyncio.sleep(0)
    small = [asyncio.create_task(work(f"s{n}", 1)) for n in (1, 2)]  # would fit beside "a"
    await asyncio.sleep(0.01)
    assert order == ["a"]  # the small ones wait behind the big one
    release["a"].set()
    await asyncio.sleep(0.01)
    assert order == ["a", "big"]
    late = asyncio.create_task(work("s3", 1))
    cancelled = asyncio.create_task(work("s9", 1))
    await asyncio.sleep(0.01)
    cancelled.cancel()  # one that gives up waiting leaves no room taken, no place held
    release["big"].set()
    for name in ("s1", "s2", "s3"):
        release[name].set()
    await asyncio.gather(first, big, *small, late)
    assert order == ["a", "big", "s1", "s2", "s3"]
    async with budget.hold(10):  # all the room is free again
        pass
