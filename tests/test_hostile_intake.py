"""Hostile mail that a deeper fuzzing run of the intake found, over the real SMTP socket:
each was a crash (451 for ever), a member's address shown to another member, or an honest
mail refused or mishandled. Amina writes from her own address to Bakari's alias (no DMARC
pass, so it is outside mail and her addresses are hidden), or Bakari replies by mail."""

from __future__ import annotations

import base64
import unicodedata
from collections.abc import MutableMapping
from typing import Any

import pytest

from tests.helpers import Member, register, send
from tests.test_gateway import Gateway, parse, reply_address
from tests.test_hostile_fuzz import (  # noqa: F401 - fixtures are used by name
    config,
    crashes,
    gateway,
    logs,
    smarthost,
)
from trademail.appkeys import CONFIG
from trademail.errors import MailRefused
from trademail.mail import scrub
from trademail.mail.parse import TEXT_CAP_FACTOR, read_mail
from trademail.mail.scrub import scrub_mail

AMINA = "zq7amina@qx9-amina.example"
BAKARI = "wk4bakari@vv8-bakari.example"


@pytest.fixture
async def members(gateway: Gateway) -> tuple[Member, Member]:  # noqa: F811
    return (await register(gateway.client, "amina", email=AMINA),
            await register(gateway.client, "bakari", email=BAKARI))


def mime(head: str, body: bytes) -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n" + body.replace(b"\n", b"\r\n")


async def newest(gw: Gateway, member: Member) -> dict[str, Any]:
    page = await (await gw.client.get("/api/v1/messages", headers=member.auth)).json()
    message_id = page["messages"][0]["id"]
    return dict(await (await gw.client.get(f"/api/v1/messages/{message_id}",
                                           headers=member.auth)).json())


async def shown(gw: Gateway, member: Member, message: dict[str, Any]) -> str:
    """Everything the member is shown of a message: its JSON and its files' bytes."""
    text = repr(message)
    for attachment in message["attachments"]:
        url = f"/api/v1/messages/{message['id']}/attachments/{attachment['n']}"
        text += (await (await gw.client.get(url, headers=member.auth)).read()).decode(
            "utf-8", "replace")
    return text


def mentions(text: str, address: str) -> bool:
    """The address, or the first ten characters of its local part, anywhere in `text`."""
    local = address.partition("@")[0]
    return address in text or local[:7] in text


async def to_alias(gw: Gateway, bakari: Member, raw: bytes) -> tuple[int, str]:
    return await gw.deliver(AMINA, [bakari.alias], raw)


OUTSIDE = "From: {name} <" + AMINA + ">\nTo: {to}\nSubject: {subject}\nMIME-Version: 1.0\n"


async def test_a_charset_decoding_to_half_a_surrogate_pair_is_no_crash(
        gateway: Gateway, members: tuple[Member, Member],  # noqa: F811
        logs: list[MutableMapping[str, Any]]) -> None:  # noqa: F811
    _, bakari = members
    raw = mime(OUTSIDE.format(name="Amina", to=bakari.alias, subject="Notes")
               + "Content-Type: multipart/mixed; boundary=b\n",
               b"--b\nContent-Type: text/plain\n\nSee the notes.\n--b\n"
               b"Content-Type: text/plain; charset=utf-7\n"
               b"Content-Disposition: attachment; filename=notes.txt\n\n"
               b"+2AA- Contact: " + AMINA.encode() + b"\n--b--\n")
    assert (await to_alias(gateway, bakari, raw))[0] == 250
    assert not mentions(await shown(gateway, bakari, await newest(gateway, bakari)), AMINA)
    # Encoded words that decode to half a pair or a line break: read, never refused whole.
    raw = mime("From: =?utf-8?Q?Staff=0ATradeMail?= <" + AMINA + ">\nTo: " + bakari.alias
               + "\nSubject: Offer =?utf-7?Q?+2AA-?= now\n", b"Hello\n")
    assert (await to_alias(gateway, bakari, raw))[0] == 250
    message = await newest(gateway, bakari)
    assert message["subject"] == "Offer \ufffd now"
    assert not crashes(logs)


async def test_a_sender_name_that_spells_a_hidden_address_is_not_shown(
        gateway: Gateway, members: tuple[Member, Member]) -> None:  # noqa: F811
    _, bakari = members
    for name in ("zq7amina at qx9-amina dot example",
                 "=?utf-8?B?" + base64.b64encode(
                     "zq7amina＠qx9-amina．example".encode()).decode() + "?="):
        raw = mime(OUTSIDE.format(name=name, to=bakari.alias, subject="Sesame"), b"Hi\n")
        assert (await to_alias(gateway, bakari, raw))[0] == 250
        message = await newest(gateway, bakari)
        assert not mentions(repr(message["from"]), AMINA), message["from"]


async def test_text_cut_at_its_limit_never_keeps_half_an_address(
        gateway: Gateway, members: tuple[Member, Member]) -> None:  # noqa: F811
    _, bakari = members
    subject = "x" * (255 - len(AMINA) + 1) + " " + AMINA
    filename = "f" * (200 - len(AMINA) + 1) + AMINA.replace("@", "%40")
    raw = mime(OUTSIDE.format(name="Amina", to=bakari.alias, subject=subject)
               + "Content-Type: multipart/mixed; boundary=b\n",
               b"--b\nContent-Type: text/plain\n\nCatalogue attached.\n--b\n"
               b"Content-Type: application/pdf\nContent-Disposition: attachment; "
               b"filename*=utf-8''" + filename.encode() + b"\n\n%PDF-1.4\n--b--\n")
    assert (await to_alias(gateway, bakari, raw))[0] == 250
    message = await newest(gateway, bakari)
    assert len(message["subject"]) <= 255
    assert not mentions(message["subject"], AMINA) and not mentions(
        message["attachments"][0]["filename"], AMINA), message


@pytest.mark.parametrize("spelling", [
    "zq7amina@qx9-amina\u3002example",  # the ideographic full stop IDNA reads as "."
    "zq7amina@qx9-amina\uff61example",
    "zq7\u00e1m\u00edn\u00e1@qx9-amina.example",  # accents, composed
    "zq7a\u0301mina@qx9-amina.example",  # and combining
])
async def test_dots_and_accents_that_still_spell_the_address_are_hidden(
        gateway: Gateway, members: tuple[Member, Member],  # noqa: F811
        spelling: str) -> None:
    _, bakari = members
    raw = mime(OUTSIDE.format(name="Amina", to=bakari.alias, subject="Contact")
               + "Content-Type: text/plain; charset=utf-8\n",
               f"Write to me at {spelling} any time.\n".encode())
    assert (await to_alias(gateway, bakari, raw))[0] == 250
    text = unicodedata.normalize("NFC", repr(await newest(gateway, bakari)))
    assert unicodedata.normalize("NFC", spelling) not in text
    assert not mentions(unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode(),
                        AMINA)  # nor most of it, accents or not


async def test_nul_bytes_between_the_letters_of_a_subject_do_not_hide_an_address(
        gateway: Gateway, members: tuple[Member, Member]) -> None:  # noqa: F811
    _, bakari = members
    raw = (f"From: Amina <{AMINA}>\r\nTo: {bakari.alias}\r\nSubject: ".encode()
           + AMINA.encode("utf-16-le") + b"\r\n\r\nHi\r\n")
    assert (await to_alias(gateway, bakari, raw))[0] == 250
    subject = (await newest(gateway, bakari))["subject"]
    assert not mentions(subject.replace(" ", ""), AMINA), subject


async def test_odd_file_names_and_types_are_mended_not_refused(
        gateway: Gateway, members: tuple[Member, Member]) -> None:  # noqa: F811
    _, bakari = members
    raw = mime(OUTSIDE.format(name="Amina", to=bakari.alias, subject="Prices")
               + "Content-Type: multipart/mixed; boundary=b\n",
               b"--b\nContent-Type: text/plain\n\nPrices attached.\n--b\n"
               b"Content-Type: application/pdf\nContent-Disposition: attachment; "
               b"filename*=utf-8''price%0D%0Alist.pdf\n\n%PDF-1.4\n--b\n"
               b"Content-Type: application/" + b"x" * 150 + b"\n"
               b"Content-Disposition: attachment; filename=data.bin\n\nabc\n--b--\n")
    code, text = await to_alias(gateway, bakari, raw)
    assert code == 250, text
    files = (await newest(gateway, bakari))["attachments"]
    assert [(f["filename"], f["content_type"]) for f in files] == [
        ("price list.pdf", "application/pdf"), ("data.bin", "application/octet-stream")]


async def test_a_copy_line_that_names_no_address_keeps_the_reply_address_working(
        gateway: Gateway, members: tuple[Member, Member]) -> None:  # noqa: F811
    amina, bakari = members
    await send(gateway.client, amina, [bakari.username])
    (first,) = await gateway.mails(1)
    reply_to = reply_address(parse(first.data))
    for copy in ("Bakari Office", "=?utf-8?Q?x?= <boss=40corp.example>"):
        raw = mime(f"From: Bakari <{BAKARI}>\nTo: {reply_to}\nCc: {copy}\n"
                   "Subject: Re: Cashew prices\n", b"Yes, 20 tonnes.\n")
        assert (await gateway.deliver(BAKARI, [reply_to], raw))[0] == 250
    sent = await (await gateway.client.get("/api/v1/messages?folder=sent",
                                           headers=bakari.auth)).json()
    assert len(sent["messages"]) == 2  # both replies landed: the address was never revoked


@pytest.mark.parametrize("spelling", [AMINA, "zq7amina at qx9-amina dot example"])
async def test_a_body_cut_at_its_limit_never_keeps_half_an_address(
        gateway: Gateway, members: tuple[Member, Member],  # noqa: F811
        spelling: str) -> None:
    _, bakari = members
    cap = TEXT_CAP_FACTOR * gateway.app[CONFIG].messages.max_body_bytes
    markup = "<i></i>" * ((cap - 20) // 7)
    html = markup + " " * (cap - 20 - len(markup)) + "Mail me: " + spelling  # cut inside
    assert html.index(spelling) + 10 < cap < len(html)
    raw = mime(OUTSIDE.format(name="Amina", to=bakari.alias, subject="Contact")
               + "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n",
               base64.encodebytes(html.encode()))
    assert (await to_alias(gateway, bakari, raw))[0] == 250
    body = (await newest(gateway, bakari))["body"]
    assert "zq7" not in body, body[-60:]  # cut back to the tag before it


async def test_a_file_in_a_charset_it_is_not_in_hides_no_address(
        gateway: Gateway, members: tuple[Member, Member]) -> None:  # noqa: F811
    _, bakari = members
    card = f"Contact: {AMINA.replace('@', '＠')}\n".encode()  # UTF-8, said to be EBCDIC
    raw = mime(OUTSIDE.format(name="Amina", to=bakari.alias, subject="Card")
               + "Content-Type: multipart/mixed; boundary=b\n",
               b"--b\nContent-Type: text/plain\n\nMy card.\n--b\n"
               b"Content-Type: text/plain; charset=cp500\n"
               b"Content-Disposition: attachment; filename=card.txt\n\n" + card + b"--b--\n")
    assert (await to_alias(gateway, bakari, raw))[0] == 250
    text = await shown(gateway, bakari, await newest(gateway, bakari))
    assert not mentions(text.replace("＠", "@"), AMINA)


def test_a_mail_not_inspected_within_its_cpu_time_is_refused_whole(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Text made to be slow to decode (millions of escapes) would hold a reading worker for
    # minutes. Past the mail's CPU time it is refused as too complex: never kept with parts
    # unread, nor stripped of parts that may be honest.
    escapes = b"%41" * 100_000
    raw = mime("From: o@p.example\nTo: a@relay.localhost\nSubject: s\nMIME-Version: 1.0\n"
               "Content-Type: multipart/mixed; boundary=b\n",
               b"--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: text/plain\n"
               b"Content-Disposition: attachment; filename=slow.txt\n\n" + escapes
               + b"\n--b--\n")
    text = read_mail(raw, max_text_chars=1 << 20).text
    assert text is not None
    kept = scrub_mail(text, [AMINA], "x@relay.localhost", cautious=False)
    assert [a.filename for a in kept.attachments] == ["slow.txt"] and kept.body == "hi"
    monkeypatch.setattr(scrub, "INSPECT_SECONDS", 0.0)
    with pytest.raises(MailRefused) as refused:
        scrub_mail(text, [AMINA], "x@relay.localhost", cautious=False)
    assert refused.value.reason == "too_complex"


@pytest.mark.parametrize("spelling", ["zq7amina-at-qx9-amina.example",
                                      "zq7amina_at_qx9-amina_dot_example",
                                      "zq7amina-AT-qx9-amina-DOT-example"])
async def test_an_at_and_a_dot_spelled_between_hyphens_or_underscores_are_hidden(
        gateway: Gateway, members: tuple[Member, Member],  # noqa: F811
        spelling: str) -> None:
    _, bakari = members
    raw = mime(OUTSIDE.format(name="Amina", to=bakari.alias, subject="Contact"),
               f"Write to {spelling} for a state-at-large quote.\n".encode())
    assert (await to_alias(gateway, bakari, raw))[0] == 250
    body = (await newest(gateway, bakari))["body"]
    assert spelling not in body and "state-at-large" in body, body


@pytest.mark.parametrize("spelling", ["kate-at-work&#64;stay-dot-home.example",
                                      "kate-at-work at stay-dot-home dot example",
                                      "kate-at-work＠stay-dot-home.example",
                                      "kate-at-work (at) stay-dot-home.example"])
async def test_an_address_that_holds_at_or_dot_words_is_hidden_however_spelled(
        gateway: Gateway, members: tuple[Member, Member],  # noqa: F811
        spelling: str) -> None:
    _, bakari = members
    kate = "kate-at-work@stay-dot-home.example"
    await register(gateway.client, "kate", email=kate)
    raw = mime(f"From: Kate <{kate}>\nTo: {bakari.alias}\nSubject: Contact\n"
               "Content-Type: text/plain; charset=utf-8\n",
               f"Write to {spelling} any time.\n".encode())
    assert (await gateway.deliver(kate, [bakari.alias], raw))[0] == 250
    body = (await newest(gateway, bakari))["body"]
    assert "kate-at" not in body and "Write to" in body, body
