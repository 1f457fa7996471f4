"""The gateway against hostile and awkward mail: parser blow-ups, long and broken address
headers, non-ASCII addresses, quote trimming that must keep real text, what a reply by
mail may carry, several recipients, copied outsiders and MTA retries."""

from __future__ import annotations

import re
import re._constants as sre_constants  # the regex compiler's own parser, to inspect patterns
import re._parser as sre_parse
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from tests.helpers import register, send
from tests.test_gateway import (  # noqa: F401 - fixtures are used by name
    DOMAIN,
    Gateway,
    config,
    gateway,
    mail_bytes,
    member_id,
    parse,
    reply_address,
    smarthost,
)
from trademail.app import CORE
from trademail.appkeys import NOTIFICATIONS
from trademail.errors import InvalidInput, MailRefused, TooLarge
from trademail.gateway.compose import Composer, mail_address
from trademail.mail import extract as mailtext
from trademail.mail import parse as mailparse
from trademail.mail.extract import MAX_PARTS, extract
from trademail.mail.parse import (
    MAX_ADDRESS_FIELD_BYTES,
    MAX_DELIMITER_LINES,
    check_raw,
    read_mail,
)
from trademail.mail.reader import MailReader
from trademail.services import quoting
from trademail.services.notifications import DirectMail, Upload
from trademail.services.quoting import trim_reply

OUTSIDER = "olu@partner.example"


# ---------------------------------------------------------------- 1. linear by construction


class CountingStr(str):
    """A str that counts the scans made over it (find, rfind, lower, slices)."""

    calls = 0

    def find(self, *args: Any) -> int:  # type: ignore[override]
        CountingStr.calls += 1
        return super().find(*args)

    def rfind(self, *args: Any) -> int:  # type: ignore[override]
        CountingStr.calls += 1
        return super().rfind(*args)


@pytest.mark.parametrize("unit", ["<div", "<div class=x ", "<br", "<a>", "<br>x", "< <br>"])
def test_html_breaks_and_cuts_scan_each_tag_once(unit: str) -> None:
    """The quadratic regexes are gone: the tag scanner makes a bounded number of scans per
    "<", each from where the last ended, so its work is linear in the markup whatever it is.
    """
    for n in (1_000, 10_000):
        CountingStr.calls = 0
        mailtext._breaks_and_cut(CountingStr(unit * n))
        assert CountingStr.calls <= 3 * (unit.count("<") * n + 1)


def _unbounded_repeats(pattern: re.Pattern[Any]) -> int:
    def walk(items: Any) -> int:
        found = 0
        for op, arg in items:
            if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                _, high, sub = arg
                found += (high == sre_constants.MAXREPEAT) + walk(sub)
            elif op == sre_constants.SUBPATTERN:
                found += walk(arg[-1])
            elif op == sre_constants.BRANCH:
                found += sum(walk(b) for b in arg[1])
        return found
    return walk(sre_parse.parse(pattern.pattern, pattern.flags))


@pytest.mark.parametrize("module", [mailtext, mailparse, quoting])
def test_no_searching_regex_in_mail_reading_has_an_unbounded_repeat(module: Any) -> None:
    """A regex *searched* for (sub, finditer) with an unbounded repeat restarts at every
    position: quadratic. The ones left where mail is read are either free of unbounded
    repeats or only ever matched at the start of one line (re.match)."""
    anchored = {"_ATTRIBUTION", "_SEPARATOR", "_OUTLOOK_HEADER", "_OUTLOOK_NEXT",
                "_OUTLOOK_SENT", "_SIGNATURE"}
    for name, value in vars(module).items():
        patterns = value if isinstance(value, list) else [value]
        for pattern in patterns:
            if isinstance(pattern, re.Pattern) and name not in anchored:
                assert _unbounded_repeats(pattern) == 0, name
    assert not hasattr(module, "_QUOTE_BLOCKS") and not hasattr(module, "_BLOCK_TAGS")


def test_a_huge_part_is_cut_before_it_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = mailtext.html_to_text
    monkeypatch.setattr(mailtext, "html_to_text", lambda m: seen.append(len(m)) or real(m))
    msg = EmailMessage()
    msg["From"] = OUTSIDER
    msg.set_content("<p>" + "<div" * 250_000, subtype="html")  # 1 MB of unclosed tags
    text = extract(msg, max_text_chars=4096)
    assert 4096 - 256 <= seen[0] <= 4096 and len(seen) == 1 and text.body == ""


def test_the_reader_caps_parts_at_a_multiple_of_the_body_limit() -> None:
    raw = mail_bytes(sender=OUTSIDER, to=f"a@{DOMAIN}", subject="s", body="x" * 50_000)
    assert len(read_mail(raw, max_text_chars=1000).text.body) <= 1000  # type: ignore[union-attr]


def test_a_display_name_without_an_address_is_kept_and_one_with_it_cleaned() -> None:
    assert quoting.display_name("a" * 100_000) == "a" * 100
    assert quoting.display_name('"Olu" <olu@partner.example>') == "Olu"


async def test_a_pathological_html_mail_is_taken_and_read_once_for_all_aliases(
        gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    amina, bakari = await register(gateway.client, "amina"), await register(gateway.client,
                                                                            "bakari")
    reads: list[int] = []
    real = MailReader.read

    async def counting(self: MailReader, raw: bytes, *, bounce: bool = False) -> Any:
        reads.append(len(raw))
        return await real(self, raw, bounce=bounce)

    monkeypatch.setattr(MailReader, "read", counting)
    msg = EmailMessage()
    msg["From"] = OUTSIDER
    msg["Subject"] = "catalogue"
    msg["Message-ID"] = "<many@partner.example>"
    msg.set_content("Prices inside.")
    msg.add_alternative("<p>Prices inside.</p>" + "<div class=x " * 80_000, subtype="html")
    raw = msg.as_bytes(policy=policy.SMTP)
    code, _ = await gateway.deliver(OUTSIDER, [amina.alias, bakari.alias], raw)
    assert code == 250 and len(reads) == 1
    for member in (amina, bakari):
        page = await (await gateway.client.get("/api/v1/messages", headers=member.auth)).json()
        assert [m["subject"] for m in page["messages"]] == ["catalogue"]


async def test_a_reader_that_runs_over_its_time_refuses_the_mail_and_recovers() -> None:
    raw = mail_bytes(sender=OUTSIDER, to=f"a@{DOMAIN}", subject="s", body="hello")
    reader = MailReader(max_text_chars=10_000, timeout=0)  # nothing finishes in no time
    try:
        with pytest.raises(MailRefused) as refused:
            await reader.read(raw)
        assert refused.value.reason == "too_complex"
        reader._timeout = 60
        assert (await reader.read(raw)).text.body.strip() == "hello"  # type: ignore[union-attr]
    finally:
        reader.close()


# ---------------------------------------------------------------- 2. headers, on raw bytes


def test_long_address_fields_are_refused_before_parsing() -> None:
    folded = b"From: " + b"\r\n ".join([b'"a"a' * 15] * 1000) + b"\r\n"  # 60 KB, folded
    for raw in (folded + b"To: x@y.example\r\n\r\nbody",
                b"Cc: " + b"a," * (MAX_ADDRESS_FIELD_BYTES // 2 + 1) + b"\r\n\r\nbody"):
        with pytest.raises(TooLarge, match="address field"):
            check_raw(raw)
    check_raw(b"From: " + b"a" * 1000 + b"@x.example\r\n\r\nbody")


def test_long_mime_fields_in_any_part_are_refused_before_parsing() -> None:
    raw = (b"From: o@p.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           b"Content-Type: text/plain; name=" + b'"a"a' * 2000 + b"\r\n\r\nx\r\n--b--\r\n")
    with pytest.raises(TooLarge, match="MIME header"):
        read_mail(raw, max_text_chars=1000)
    long_value = b"; name=" + b'"a"a' * 2000 + b"\r\n\r\nx\r\n"
    for start in (b"", b"From: o@p.example\r\n", b"From: o@p.example\n"):  # any line
        for name in (b"Content-Type: text/plain", b"CONTENT-disposition: attachment",
                     b"content-TYPE: text/plain"):
            with pytest.raises(TooLarge, match="MIME header"):
                check_raw(start + name + long_value)
    check_raw(b"From: o@p.example\r\nX-Content-Type: text/plain" + long_value)


def test_mail_of_more_parts_than_allowed_is_refused_before_parsing() -> None:
    fields = b"".join(b"\r\ncontent-Type: text/plain" if n % 2 else b"\nCONTENT-TYPE: a/b"
                      for n in range(2 * MAX_PARTS + 3))
    with pytest.raises(InvalidInput, match="MIME parts"):
        check_raw(b"From: o@p.example\r\n\r\n" + fields)
    check_raw(b"From: o@p.example\r\n\r\n" + fields[:-20])
    for line_end in (b"\r\n", b"\n", b"\r"):  # the parser ends a line at a bare CR too
        delimiters = (line_end + b"--b") * (MAX_DELIMITER_LINES + 1)
        with pytest.raises(InvalidInput, match="MIME parts"):
            check_raw(b"From: o@p.example\r\n\r\n" + delimiters)
        check_raw(b"From: o@p.example\r\n\r\n" + delimiters[len(line_end) + 3:])


def test_unreadable_address_headers_are_a_refusal_not_a_crash() -> None:
    with pytest.raises(MailRefused) as refused:
        read_mail(b"From: " + b"(" * 3000 + b"\r\nSubject: x\r\n\r\nbody", max_text_chars=100)
    assert refused.value.reason == "unreadable"


async def test_hostile_address_headers_get_a_5xx_with_a_reason(gateway: Gateway) -> None:  # noqa: F811
    bakari = await register(gateway.client, "bakari")
    body = b"\r\nSubject: hi\r\n\r\nhello\r\n"
    parens = b"From: " + b"\r\n ".join([b"(" * 500] * 6)  # folded: SMTP lines are short
    code, text = await gateway.deliver(OUTSIDER, [bakari.alias], parens + body)
    assert code == 550 and "5.6.0" in text
    folded = b"From: " + b"\r\n ".join([b'"a"a' * 15] * 1000)
    code, text = await gateway.deliver(OUTSIDER, [bakari.alias], folded + body)
    assert code == 552 and "address field" in text
    assert await gateway.app[CORE].stores.db.fetchval("SELECT COUNT(*) FROM messages") == 0


# ---------------------------------------------------------------- 3. non-ASCII addresses


def direct(**changes: Any) -> DirectMail:
    fields: dict[str, Any] = dict(
        from_alias=f"bakari-x@{DOMAIN}", from_name="Bakari", to=OUTSIDER, subject="Re",
        body="Yes.", attachments=(), message_id="0" * 32, thread_id="0" * 32)
    return DirectMail(**(fields | changes))


def test_composer_punycodes_idn_domains_and_refuses_non_ascii_local_parts() -> None:
    composer = Composer(DOMAIN)
    sent = parse(composer.direct(direct(to="olu@bücher.example"), 0))
    assert sent["To"].addresses[0].addr_spec == "olu@xn--bcher-kva.example"
    with pytest.raises(InvalidInput, match="cannot be answered"):
        composer.direct(direct(to="jörg@outside.example"), 0)
    assert mail_address("Olu@Partner.Example").addr_spec == "Olu@partner.example"


def test_composer_sanitises_attachment_types_and_names() -> None:
    composer = Composer(DOMAIN)
    odd = (Upload("a\u2028b\u2029c\x85.txt", "text/pl\u2028ain", b"x"),
           Upload("b.txt", "text\u2028/plain", b"y"), Upload("c.bin", 'x/y; q="', b"z"))
    sent = parse(composer.direct(direct(attachments=odd), 0))
    parts = list(sent.iter_attachments())
    assert [p.get_content_type() for p in parts] == ["application/octet-stream"] * 2 + ["x/y"]
    assert all("\u2028" not in (p.get_filename() or "") for p in parts)


async def test_mail_from_a_non_ascii_local_part_is_refused_as_unanswerable(
        gateway: Gateway) -> None:  # noqa: F811
    bakari = await register(gateway.client, "bakari")
    raw = ("From: Jörg <jörg@outside.example>\r\nTo: " + bakari.alias +
           "\r\nSubject: hallo\r\nMessage-ID: <j1@outside.example>\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\nGuten Tag\r\n").encode()
    code, text = await gateway.deliver("jörg@outside.example", [bakari.alias], raw)
    assert code == 550 and "cannot be answered" in text and "jörg" not in text
    assert await gateway.app[CORE].stores.db.fetchval("SELECT COUNT(*) FROM messages") == 0


# ---------------------------------------------------------------- 4. trimming keeps real text


@pytest.mark.parametrize(("text", "kept"), [
    ("Yes, we can ship next week.\nFrom: Shanghai\nTo: Rotterdam\nPrice: 2,400 USD",
     "Yes, we can ship next week.\nFrom: Shanghai\nTo: Rotterdam\nPrice: 2,400 USD"),
    ("Agreed.\nOn Monday the inspector wrote:\nthe lot is fine.\nSo we can accept 20 t",
     "Agreed.\nOn Monday the inspector wrote:\nthe lot is fine.\nSo we can accept 20 t"),
    ("Terms:\n--\n1. FOB\n2. L/C\n3. 30 days\n4. a\n5. b\n6. c\n7. d\nThanks",
     "Terms:\n--\n1. FOB\n2. L/C\n3. 30 days\n4. a\n5. b\n6. c\n7. d\nThanks"),
])
def test_trimming_keeps_text_that_only_looks_like_a_quote(text: str, kept: str) -> None:
    assert trim_reply(text, DOMAIN) == kept


@pytest.mark.parametrize("text", [
    "Fine.\n\nFrom: Amina <a@x.example>\nTo: b@y.example\nSubject: hi\n\nold",
    "Fine.\n\nFrom: Amina\nSent: Monday\nTo: Bakari\n\nold",
    "Fine.\n\nOn Monday Amina wrote:\n> old\n> older",
    f"Fine.\n\nOn Monday Amina <reply+x@{DOMAIN}> wrote:\nold",
    "Fine.\n-- \nBakari\n+254 700 000 000\nmore\nmore\nmore\nmore\nmore\nmore",
    "Fine.\n--\nBakari\n+254 700 000 000",
])
def test_trimming_still_cuts_real_quotes_and_signatures(text: str) -> None:
    assert trim_reply(text, DOMAIN) == "Fine."


# ---------------------------------------------------------------- 5-8. replies by mail


async def _conversation(gw: Gateway) -> tuple[Any, Any, dict[str, Any], str]:
    amina, bakari = await register(gw.client, "amina"), await register(gw.client, "bakari")
    sent = await send(gw.client, amina, [bakari.username], subject="Cashews")
    (first,) = await gw.mails(1)
    return amina, bakari, sent, reply_address(parse(first.data))


async def test_a_reply_by_mail_keeps_cards_and_attached_mail_scrubbed_of_the_address(
        gateway: Gateway) -> None:  # noqa: F811
    amina, bakari, sent, reply_to = await _conversation(gateway)
    msg = EmailMessage()
    msg["From"] = bakari.email
    msg["To"] = reply_to
    msg["Subject"] = "Re: Cashews"
    msg["Message-ID"] = "<r1@real-bakari.example>"
    msg.set_content("Details attached.")
    msg.add_attachment(f"BEGIN:VCARD\r\nEMAIL:{bakari.email}\r\nEND:VCARD\r\n",
                       subtype="vcard", filename="bakari.vcf")
    inner = EmailMessage()
    inner["From"] = bakari.email
    inner["To"] = "boss@bakari-corp.example"
    inner.set_content("internal")
    inner.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="inner.pdf")
    msg.add_attachment(inner)
    msg.add_attachment(f"Contact {bakari.email.upper()} for samples.", filename="notes.txt")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf",
                       filename=f"offer for {bakari.email}.pdf")
    code, _ = await gateway.deliver(bakari.email, [reply_to], msg.as_bytes(policy=policy.SMTP))
    assert code == 250
    thread = await (await gateway.client.get(f"/api/v1/threads/{sent['thread_id']}",
                                             headers=amina.auth)).json()
    last = thread["messages"][-1]
    names = [a["filename"] for a in last["attachments"]]
    assert names == ["bakari.vcf", "forwarded-message-1.eml", "notes.txt",
                     f"offer for {bakari.alias}.pdf"]
    contents = []
    for n in range(1, len(names) + 1):
        resp = await gateway.client.get(f"/api/v1/messages/{last['id']}/attachments/{n}",
                                        headers=amina.auth)
        contents.append(await resp.read())
    assert all(bakari.email.encode() not in c.lower() for c in contents)
    assert f"EMAIL:{bakari.alias}".encode() in contents[0]
    assert b"internal" in contents[1] and b"boss@bakari-corp.example" in contents[1]
    assert contents[2].decode().strip() == f"Contact {bakari.alias} for samples."


async def test_a_reply_and_an_alias_in_one_mail_are_refused_at_rcpt(gateway: Gateway) -> None:  # noqa: F811
    _, bakari, _, reply_to = await _conversation(gateway)
    mail = mail_bytes(sender=bakari.email, to=reply_to, subject="Re", body="x")
    for rcpts in ([reply_to, bakari.alias], [bakari.alias, reply_to]):
        code, text = await gateway.deliver(bakari.email, rcpts, mail)
        assert code == 550 and "One conversation per message" in text
    assert await gateway.app[CORE].stores.db.fetchval("SELECT COUNT(*) FROM messages") == 1


async def test_mail_refused_for_one_alias_stores_nothing_for_the_others(
        gateway: Gateway) -> None:  # noqa: F811
    amina, bakari = await register(gateway.client, "amina"), await register(gateway.client,
                                                                            "bakari")
    big = mail_bytes(sender=OUTSIDER, to=amina.alias, subject="big", body="x" * 300_000)
    code, _ = await gateway.deliver(OUTSIDER, [amina.alias, bakari.alias], big)
    assert code in (550, 552)
    assert await gateway.app[CORE].stores.db.fetchval("SELECT COUNT(*) FROM messages") == 0
    assert await gateway.app[CORE].stores.db.fetchval("SELECT COUNT(*) FROM correspondents") == 0


async def test_copying_an_outsider_revokes_the_reply_address_and_says_so(
        gateway: Gateway) -> None:  # noqa: F811
    amina, bakari, _, reply_to = await _conversation(gateway)
    mail = mail_bytes(sender=bakari.email, to=reply_to, subject="Re", body="See Cc",
                      extra={"Cc": "boss@bakari-corp.example"})
    assert (await gateway.deliver(bakari.email, [reply_to], mail))[0] == 250
    again = mail_bytes(sender=bakari.email, to=reply_to, subject="Re", body="again")
    code, _ = await gateway.deliver("boss@bakari-corp.example", [reply_to], again)
    assert code == 550  # the copied outsider cannot write into the conversation
    status = await gateway.app[NOTIFICATIONS].notification_status(
        await member_id(gateway, bakari))
    (notice,) = status.notices
    assert notice.kind == "cc_not_mailed" and "no longer works" in notice.text
    await send(gateway.client, amina, [bakari.username], subject="Next")
    mails = await gateway.mails(3)
    fresh = reply_address(parse(mails[-1].data))
    assert mails[-1].rcpt_tos == [bakari.email] and fresh != reply_to


async def test_an_mta_retry_of_a_reply_or_an_outside_mail_is_posted_once(
        gateway: Gateway) -> None:  # noqa: F811
    _, bakari, _, reply_to = await _conversation(gateway)
    reply = mail_bytes(sender=bakari.email, to=reply_to, subject="Re", body="Once only",
                       message_id="<retry-1@real-bakari.example>")
    for _ in range(2):
        assert (await gateway.deliver(bakari.email, [reply_to], reply))[0] == 250
    outside = mail_bytes(sender=OUTSIDER, to=bakari.alias, subject="Enquiry", body="Hello",
                         message_id="<retry-2@partner.example>")
    for _ in range(2):
        assert (await gateway.deliver(OUTSIDER, [bakari.alias], outside))[0] == 250
    store = gateway.app[CORE].stores
    assert await store.db.fetchval("SELECT COUNT(*) FROM messages") == 3
    digests = [bytes(r["digest"]) for r in await store.db.fetch(
        "SELECT digest FROM inbound_mail")]
    assert len(digests) == 2 and not any(b"retry-" in d for d in digests)
    # Another mail with its own Message-ID still goes through.
    other = mail_bytes(sender=bakari.email, to=reply_to, subject="Re", body="Twice now")
    assert (await gateway.deliver(bakari.email, [reply_to], other))[0] == 250
    assert await store.db.fetchval("SELECT COUNT(*) FROM messages") == 4
