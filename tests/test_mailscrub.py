"""The scrubber of replies by mail: every spelling of the member's address is found (and only
the address), rewritten where the format allows and removed where it does not; hostile input
never makes it raise, and zip bombs and huge text cost a bounded amount."""

from __future__ import annotations

import base64
import bz2
import gzip
import html
import io
import lzma
import quopri
import struct
import zipfile
import zlib
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from urllib.parse import quote

import compressed_rtf
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests import mail_artifacts as artifacts
from trademail.mail.extract import extract
from trademail.mail.forms import forms, spans
from trademail.mail.reader import MailReader
from trademail.mail.scan import MAX_EXPANDED_BYTES, container_kind
from trademail.mail.scrub import (
    REMOVED_NOTICE,
    SUBJECT_REMOVED,
    TEXT_REMOVED,
    Scrubbed,
    mentions_address,
    scrub_mail,
)
from trademail.mail.tnef import MAX_RTF_BYTES, MAX_TNEF_ATTRIBUTES, read_winmail
from trademail.services.incoming import Extracted, Part

ADDRESS = "bakari@real-bakari.example"
LOCAL, DOMAIN = ADDRESS.split("@")
IDN = "bakari@xn--bcher-kva.example"  # as registered: the domain in punycode
IDN_UNICODE = "bakari@bücher.example"
ALIAS = "harbour-k3x9q2@relay.example"
OWN = [ADDRESS]


def scrub(*parts: Part, subject: str = "Re: cashews", body: str = "See attached.",
          addresses: list[str] | None = None) -> Scrubbed:
    return scrub_mail(Extracted(subject, body, parts), addresses or OWN, ALIAS)


def entities(text: str, style: str = "&#{};") -> str:
    return "".join(style.format(ord(c)) for c in text)


def fold(text: str, at: int, line_end: str = "\r\n ") -> str:
    return text[:at] + line_end + text[at:]


# ---------------------------------------------------------------------- the spellings

SPELLINGS: dict[str, str] = {
    "plain": ADDRESS,
    "upper case": ADDRESS.upper(),
    "mixed case": "BaKaRi@Real-Bakari.EXAMPLE",
    "in angle brackets": f"Bakari <{ADDRESS}>",
    "mailto": f"mailto:{ADDRESS}",
    "mailto %40": f"mailto:{LOCAL}%40{DOMAIN}",
    "all %-encoded": quote(ADDRESS, safe="").replace("b", "%62"),
    "double %-encoded": f"{LOCAL}%2540{DOMAIN}",
    "decimal entity": f"{LOCAL}&#64;{DOMAIN}",
    "hex entity": f"{LOCAL}&#x40;{DOMAIN}",
    "padded entity": f"{LOCAL}&#0064;{DOMAIN}",
    "named entities": f"{LOCAL}&commat;{DOMAIN.replace('.', '&period;')}",
    "double-encoded entity": f"{LOCAL}&amp;#64;{DOMAIN}",
    "every letter an entity": entities(ADDRESS),
    "every letter a hex entity": entities(ADDRESS, "&#x{:x};"),
    "quoted-printable": f"{LOCAL}=40{DOMAIN}",
    "quoted-printable soft break": f"{LOCAL}=\r\n=40{DOMAIN}",
    "quoted-printable after key=": f"email={LOCAL}=40{DOMAIN}",
    "JSON escapes": f"{LOCAL}\\u0040{DOMAIN}",
    "JavaScript hex escape": f"{LOCAL}\\x40{DOMAIN}",
    "RTF escape": f"{LOCAL}\\'40{DOMAIN}",
    "RTF Unicode escape": f"{LOCAL}\\u64?{DOMAIN}",
    "CSS escape": f"{LOCAL}\\40 {DOMAIN}",
    "spelled out": f"{LOCAL} at {DOMAIN.replace('.', ' dot ')}",
    "spelled out in brackets": f"{LOCAL} [at] {DOMAIN.replace('.', ' [dot] ')}",
    "spelled out in capitals": f"{LOCAL} (AT) {DOMAIN.replace('.', ' (DOT) ')}",
    "spaces around @": f"{LOCAL} @ {DOMAIN}",
    "(a) and [punkt]": f"{LOCAL}(a){DOMAIN.replace('.', ' [punkt] ')}",
    "full-width letters": "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c
                                  for c in ADDRESS),
    "full-width at sign": f"{LOCAL}＠{DOMAIN}",
    "small at sign": f"{LOCAL}﹫{DOMAIN}",
    "Cyrillic look-alikes": ADDRESS.replace("a", "\u0430").replace("e", "\u0435"),
    "zero-width space": ADDRESS.replace("@", "\u200b@\u200b"),
    "soft hyphen": ADDRESS.replace("-", "\u00ad-"),
    "HTML soft hyphen": ADDRESS.replace("real", "re&shy;al"),
    "markup inside": f"<b>{LOCAL}</b><span>@</span>{DOMAIN}",
    "plus tag": f"{LOCAL}+offers@{DOMAIN}",
    "quoted local part": f'"{LOCAL}"@{DOMAIN}',
    "folded (CRLF)": fold(ADDRESS, 9),
    "folded (LF, tab)": fold(ADDRESS, 17, "\n\t"),
    "folded twice": fold(fold(ADDRESS, 20), 4),
    "folded, the tab shown as spaces": fold(ADDRESS, 17, "\n    "),
    "folded with two tabs": fold(ADDRESS, 12, "\r\n\t\t"),
    "format=flowed soft break (DelSp)": fold(ADDRESS, 15, " \r\n"),
    "wrapped hard inside a word": fold(ADDRESS, 15, "\n"),
    "wrapped after a hyphen": ADDRESS.replace("real-", "real-\r\n"),
    "signs escaped with a backslash": ADDRESS.replace("@", "\\@").replace(".", "\\."),
    "in an XML CDATA section": f"<![CDATA[{LOCAL}]]>@{DOMAIN}",
    "data: URI": "data:text/plain;base64," + base64.b64encode(
        f"Bakari <{ADDRESS}>".encode()).decode(),
    "base64 in a line": "token=" + base64.b64encode(ADDRESS.encode()).decode(),
    "base64 of UTF-16": base64.b64encode(ADDRESS.encode("utf-16")).decode(),
    "URL-safe base64": base64.urlsafe_b64encode(b"\xfb\xff" + ADDRESS.encode()).decode(),
    "encoded-word": "=?utf-8?b?" + base64.b64encode(f"an {ADDRESS}".encode()).decode() + "?=",
    "encoded-word, Q": f"=?utf-8?q?{LOCAL}=40{DOMAIN}?=",
    "RFC 2231 parameter": f"filename*=utf-8''card%20for%20{quote(ADDRESS, safe='')}.txt",
}


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_every_spelling_is_found_in_text(spelling: str) -> None:
    assert mentions_address(f"Hello, write to {spelling} today.", OWN)


# Spellings inside base64: text holding them cannot be rewritten in place, only removed.
IN_BASE64 = frozenset({"data: URI", "base64 in a line", "base64 of UTF-16", "URL-safe base64",
                       "encoded-word"})


@pytest.mark.parametrize("name", SPELLINGS)
def test_every_spelling_is_rewritten_in_a_text_attachment(name: str) -> None:
    result = scrub(Part("notes.txt", "text/plain", f"Call {SPELLINGS[name]} now.".encode(),
                        "utf-8"))
    if name in IN_BASE64:
        assert result.attachments == () and result.removed == ("notes.txt",)
        return
    (kept,) = result.attachments
    assert not mentions_address(kept.data, OWN)
    assert ALIAS.encode() in kept.data, kept.data
    assert kept.data.startswith(b"Call ") and kept.data.endswith(b" now.")


@pytest.mark.parametrize("position", range(1, len("ORGANIZER:mailto:" + ADDRESS)))
def test_a_calendar_line_folded_anywhere_is_rewritten(position: int) -> None:
    line = fold("ORGANIZER:mailto:" + ADDRESS, position)
    ics = f"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n{line}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    (kept,) = scrub(Part("invite.ics", "text/calendar", ics.encode())).attachments
    assert ALIAS.encode() in kept.data and not mentions_address(kept.data, OWN)
    assert kept.data.startswith(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n")


@pytest.mark.parametrize("charset", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                                     "utf-32", "utf-32-le", "utf-32-be", "latin-1", "cp1252"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream"])
def test_text_in_any_charset_is_found_and_rewritten_as_utf8(charset: str,
                                                           content_type: str) -> None:
    data = f"Bakari Mwangi, Mombasa – {ADDRESS.upper()} – mailto:{LOCAL}%40{DOMAIN}".encode(
        "latin-1" if charset == "latin-1" else charset, "replace")
    assert mentions_address(data, OWN)
    (kept,) = scrub(Part("contacts.txt", content_type, data)).attachments
    text = kept.data.decode("utf-8")
    assert text.count(ALIAS) == 2 and text.startswith("Bakari Mwangi, Mombasa ")
    assert not mentions_address(kept.data, OWN)


def test_a_declared_charset_without_byte_order_mark_is_used() -> None:
    data = f"Sales: {ADDRESS}".encode("utf-16-le")
    (kept,) = scrub(Part("a.txt", "text/plain", data, "utf-16-le")).attachments
    assert kept.data == f"Sales: {ALIAS}".encode()


def test_a_unicode_domain_is_found_against_its_punycode_registration() -> None:
    spellings = [IDN_UNICODE, IDN_UNICODE.upper(), IDN, IDN.upper(),
                 "bakari@bu\u0308cher.example",  # decomposed
                 "mailto:" + quote(IDN_UNICODE, safe=""), "bakari@b%FCcher.example",
                 entities(IDN_UNICODE), "bakari=40b=C3=BCcher.example"]
    for spelling in spellings:
        assert mentions_address(spelling, [IDN]), spelling
    for charset in ("utf-8", "utf-16-le", "utf-32-be", "latin-1"):
        assert mentions_address(f"x {IDN_UNICODE} y".encode(charset), [IDN]), charset
    result = scrub(subject=f"Offer from {IDN_UNICODE}", body=f"Write to {IDN_UNICODE.upper()}",
                   addresses=[IDN])
    assert result.subject == f"Offer from {ALIAS}" and result.body == f"Write to {ALIAS}"


def test_every_address_ever_registered_is_scrubbed() -> None:
    old = "b.mwangi@old-company.example"
    result = scrub(body=f"New: {ADDRESS}, old: {old.upper()}", addresses=[ADDRESS, old])
    assert result.body == f"New: {ALIAS}, old: {ALIAS}"


@pytest.mark.parametrize("text", [
    "Our price is 1,420 USD/t. We meet at noon at the port dot.",
    f"Write to {ALIAS} or sales@{DOMAIN} or {LOCAL}@other.example",
    f"{LOCAL}@real-bakari.exam and bakari @ home",
    "Bakari at real estate: dot com boom",
    "x=bakari; y=real-bakari.example; email=40",
    "QmFrYXJpIE13YW5naQ==",  # base64 of "Bakari Mwangi"
    "&lt;b&gt;bakari&lt;/b&gt; from real-bakari",
])
def test_other_text_is_not_taken_for_the_address(text: str) -> None:
    assert not mentions_address(text, OWN)
    assert scrub(body=text).body == text


# ---------------------------------------------------------------------- bytes and containers


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _png_with_text(text: str) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"zTXt", b"Author\x00\x00" + zlib.compress(text.encode()))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


# Outlook's rich text: the signature in a field, with a bookmark around it.
RICH_TEXT_SIGNATURE = (
    "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fswiss Calibri;}}\\pard\\f0\\fs22 "
    "See attached.\\par{\\*\\bkmkstart _MailAutoSig}Bakari Mwangi\\par{\\field{\\*\\fldinst{"
    f'HYPERLINK "mailto:{ADDRESS}"}}}}{{\\fldrslt{{\\ul {ADDRESS}}}}}}}'
    "{\\*\\bkmkend _MailAutoSig}\\par}")


CONTAINERS: dict[str, Callable[[], bytes]] = {
    "S/MIME signature": lambda: artifacts.smime_signature(ADDRESS),
    "OpenPGP key, binary": lambda: artifacts.pgp_public_key(ADDRESS),
    "OpenPGP key, armoured": lambda: artifacts.pgp_armored(
        artifacts.pgp_public_key(ADDRESS)).encode(),
    "docx, runs split at @": lambda: artifacts.docx(f"Notices to {ADDRESS}"),
    "xlsx": lambda: artifacts.xlsx(ADDRESS),
    "odt": lambda: artifacts.odt(f"Yours, {ADDRESS}"),
    "zip": lambda: artifacts.zip_archive("a.txt", ADDRESS),
    "zip, name of an entry": lambda: _zip({f"cards/{ADDRESS}.vcf": b"x"}),
    "zip, stored": lambda: _zip({"a.txt": ADDRESS.encode("utf-16")}, zipfile.ZIP_STORED),
    "zip, bzip2 entries": lambda: _zip({"a.txt": ADDRESS.encode()}, zipfile.ZIP_BZIP2),
    "zip in a zip": lambda: _zip({"inner.zip": _zip({"a.txt": ADDRESS.encode()})}),
    "zip after other data": lambda: b"MZ" + bytes(5000) + _zip({"a.txt": ADDRESS.encode()}),
    "gzip": lambda: artifacts.gzip_file(ADDRESS),
    "gzip, two members": lambda: gzip.compress(b"x" * 100) + gzip.compress(ADDRESS.encode()),
    "bzip2": lambda: bz2.compress(ADDRESS.encode()),
    "xz": lambda: lzma.compress(ADDRESS.encode()),
    "PDF, Flate stream": lambda: artifacts.pdf_flate(f"Contact {ADDRESS}"),
    "PDF, UTF-16BE in octal escapes": lambda: artifacts.pdf_utf16_author(ADDRESS),
    "PDF, hex string": lambda: b"%PDF-1.4\n<< /Author <FEFF" + ADDRESS.encode(
        "utf-16-be").hex().encode() + b"> >>\n\xff\xfe",
    "PDF, text in kerned pieces": lambda: artifacts.pdf_flate("x").replace(
        b"%%EOF", b"") + b"9 0 obj\n<< /Length 99 /Filter /FlateDecode >>\nstream\n" +
        zlib.compress(b"BT [(bak) -20 (ari@real-) 15 (bakari.example)] TJ ET") +
        b"\nendstream\nendobj\n",
    "PDF, %-encoded URI": lambda: b"%PDF-1.7\n<< /URI (mailto:" + quote(
        ADDRESS, safe="").encode() + b") >>\n\x80\x81",
    "PNG text chunk": lambda: _png_with_text(f"Bakari <{ADDRESS}>"),
    "binary with UTF-16 inside": lambda: b"\xd0\xcf\x11\xe0" + bytes(600) + ADDRESS.encode(
        "utf-16-le") + bytes(600),
    "binary with entities in UTF-16": lambda: b"\x01\x02\xff" + entities(ADDRESS).encode(
        "utf-16-le") + b"\xfe\x00",
    "zlib stream inside binary": lambda: b"\x00\xff" * 50 + zlib.compress(ADDRESS.encode()),
    "winmail.dat": lambda: artifacts.winmail_dat([("a.txt", ADDRESS.encode())]),
    "winmail.dat, a signature in its rich text": lambda: artifacts.winmail_dat(
        [("a.txt", b"x")], rtf=RICH_TEXT_SIGNATURE),
    "winmail.dat in a zip": lambda: _zip({"winmail.dat": artifacts.winmail_dat(
        [], rtf=RICH_TEXT_SIGNATURE)}),
    "winmail.dat with a PDF, a signature in its rich text": lambda: artifacts.winmail_dat(
        [("terms.pdf", artifacts.pdf_flate("Terms"))], rtf=RICH_TEXT_SIGNATURE),
    "uuencoded file in text": lambda: artifacts.uuencoded("card.txt", ADDRESS.encode()).encode(),
    "uuencoded gzip in text": lambda: artifacts.uuencoded(
        "card.gz", gzip.compress(ADDRESS.encode()), "\r\n").encode(),
    "base64 of gzip": lambda: base64.b64encode(gzip.compress(ADDRESS.encode())),
    "base64 of base64": lambda: base64.b64encode(base64.b64encode(ADDRESS.encode())),
}


@pytest.mark.parametrize("make", CONTAINERS.values(), ids=CONTAINERS.keys())
def test_the_address_is_found_inside_containers(make: Callable[[], bytes]) -> None:
    assert mentions_address(make(), OWN)


@pytest.mark.parametrize(("filename", "content_type", "make"), [
    ("smime.p7s", "application/pkcs7-signature", CONTAINERS["S/MIME signature"]),
    ("bakari.gpg", "application/octet-stream", CONTAINERS["OpenPGP key, binary"]),
    ("key.asc", "application/pgp-keys", CONTAINERS["OpenPGP key, armoured"]),
    ("key.asc", "text/plain", CONTAINERS["OpenPGP key, armoured"]),
    ("contract.docx", "application/octet-stream", CONTAINERS["docx, runs split at @"]),
    ("a.zip", "application/zip", CONTAINERS["zip in a zip"]),
    ("a.pdf", "application/pdf", CONTAINERS["PDF, Flate stream"]),
    ("logo.png", "image/png", CONTAINERS["PNG text chunk"]),
    ("data.bin", "application/octet-stream", CONTAINERS["zlib stream inside binary"]),
    ("export.csv.gz", "application/gzip", CONTAINERS["gzip"]),
])
def test_parts_that_cannot_be_rewritten_are_removed_and_the_reader_told(
        filename: str, content_type: str, make: Callable[[], bytes]) -> None:
    result = scrub(Part(filename, content_type, make()),
                   Part("terms.pdf", "application/pdf", artifacts.pdf_flate("Terms")))
    assert [p.filename for p in result.attachments] == ["terms.pdf"]
    assert result.removed == (filename,)
    assert result.body == "See attached.\n\n" + REMOVED_NOTICE.format(filename)
    assert REMOVED_NOTICE.format(filename) == ("[TradeMail: an attachment was removed because "
                                               "it contained the sender's email address: "
                                               f"{filename}]")


def test_parts_without_the_address_are_kept_byte_for_byte() -> None:
    parts = [Part("terms.pdf", "application/pdf", artifacts.pdf_flate("L/C at sight")),
             Part("logo.png", "image/png", _png_with_text("Mwangi Cashews")),
             Part("notes.txt", "text/plain", "Kwa heri".encode("utf-16"), "utf-16"),
             Part("prices.xlsx", "application/octet-stream", artifacts.xlsx("W320 1420")),
             Part("key.asc", "application/pgp-keys", artifacts.pgp_armored(
                 artifacts.pgp_public_key("someone@else.example")).encode())]
    result = scrub(*parts)
    assert result.attachments == tuple(parts) and result.removed == ()
    assert result.body == "See attached."


@pytest.mark.parametrize("content_type", ["text/vcard", "text/x-vcard", "text/directory",
                                          "application/vcard"])
def test_cards_are_rewritten_not_dropped(content_type: str) -> None:
    card = ("BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Bakari Mwangi\r\n"
            f"EMAIL;PREF;INTERNET;ENCODING=QUOTED-PRINTABLE:{LOCAL}=\r\n=40{DOMAIN}\r\n"
            f"{fold('EMAIL;TYPE=WORK:' + ADDRESS.upper(), 21)}\r\n"
            "TEL:+254 700 000 000\r\nEND:VCARD\r\n")
    (kept,) = scrub(Part("bakari.vcf", content_type, card.encode())).attachments
    text = kept.data.decode()
    assert text.count(ALIAS) == 2 and "TEL:+254 700 000 000" in text
    assert not mentions_address(kept.data, OWN)


def test_html_is_rewritten_with_its_markup_and_data_uris_make_it_removed() -> None:
    page = (f'<p><a href="mailto:{LOCAL}&#64;{DOMAIN}">{LOCAL}<b>@</b>{DOMAIN}</a> '
            f"{LOCAL}&commat;{DOMAIN}</p>")
    (kept,) = scrub(Part("sig.html", "text/html", page.encode())).attachments
    assert kept.data.decode().startswith(f'<p><a href="mailto:{ALIAS}">')
    assert not mentions_address(kept.data, OWN)
    uri = base64.b64encode(f"BEGIN:VCARD\r\nEMAIL:{ADDRESS}\r\nEND:VCARD".encode()).decode()
    result = scrub(Part("card.html", "text/html",
                        f'<a href="data:text/vcard;base64,{uri}">card</a>'.encode()))
    assert result.attachments == () and result.removed == ("card.html",)


# ---------------------------------------------------------------------- forwarded mail


def _mail(sender: str, subject: str, body: str, *attached: EmailMessage | tuple[str, bytes, str]
          ) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"Bakari Mwangi <{sender}>"
    mail["To"] = "buyer@somewhere.example"
    mail["Subject"] = subject
    mail.set_content(body)
    for item in attached:
        if isinstance(item, EmailMessage):
            mail.add_attachment(item)
        else:
            name, data, mime = item
            maintype, subtype = mime.split("/")
            mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return mail


def test_forwarded_mail_inside_forwarded_mail_is_rewritten_throughout() -> None:
    innermost = _mail(ADDRESS, f"Offer from {ADDRESS}", f"Contact {ADDRESS.upper()}",
                      ("price-list.pdf", artifacts.pdf_flate(ADDRESS), "application/pdf"),
                      ("card.vcf", f"EMAIL:{ADDRESS}".encode(), "text/vcard"))
    middle = _mail(ADDRESS, "Fwd: offer", f"See below, {LOCAL} at {DOMAIN.replace('.', ' dot ')}",
                   innermost)
    result = scrub(Part("forwarded.eml", "message/rfc822", middle.as_bytes()))
    (kept,) = result.attachments
    assert not mentions_address(kept.data, OWN)
    assert result.removed == ("price-list.pdf (in forwarded.eml)",)
    rewritten = BytesParser(policy=policy.default).parsebytes(kept.data)
    assert str(rewritten["From"]) == f"Bakari Mwangi <{ALIAS}>"
    inner = next(p for p in rewritten.walk() if p.get_content_type() == "message/rfc822")
    inner_mail = inner.get_payload(0)
    assert str(inner_mail["Subject"]) == f"Offer from {ALIAS}"
    texts = [str(p.get_content()) for p in inner_mail.walk() if p.get_content_maintype() == "text"]
    assert f"Contact {ALIAS}" in texts[0]
    assert REMOVED_NOTICE.format("price-list.pdf") in texts[1]
    assert f"EMAIL:{ALIAS}" in texts[2]


def test_an_eml_sent_as_octet_stream_is_read_as_mail() -> None:
    mail = _mail(ADDRESS, "Offer", f"Write to {LOCAL}=40{DOMAIN}")
    del mail["Content-Transfer-Encoding"]
    mail.set_content(f"Write to {ADDRESS}", cte="quoted-printable")
    (kept,) = scrub(Part("offer.eml", "application/octet-stream", mail.as_bytes())).attachments
    assert b"From: Bakari Mwangi <" + ALIAS.encode() + b">" in kept.data
    assert not mentions_address(kept.data, OWN)


def test_forwarded_mail_without_the_address_is_kept_as_it_came() -> None:
    mail = _mail("someone@else.example", "Quote", "Our price is 1,500 USD/t.").as_bytes()
    assert scrub(Part("quote.eml", "message/rfc822", mail)).attachments[0].data == mail


def test_forwarded_mail_that_cannot_be_parsed_is_still_scrubbed_or_removed() -> None:
    broken = b"From: " + b"(" * 5000 + ADDRESS.encode() + b"\n\nbody"
    result = scrub(Part("broken.eml", "message/rfc822", broken))
    assert all(not mentions_address(p.data, OWN) for p in result.attachments)


# ---------------------------------------------------------------------- winmail.dat


def test_winmail_dat_is_unpacked_and_each_file_scrubbed() -> None:
    dat = artifacts.winmail_dat([("contact.txt", f"Bakari <{ADDRESS}>".encode()),
                                 ("prices.csv", b"W320,1420\n"),
                                 ("key.gpg", artifacts.pgp_public_key(ADDRESS))])
    result = scrub(Part("winmail.dat", "application/ms-tnef", dat))
    assert [(p.filename, p.content_type) for p in result.attachments] == [
        ("contact.txt", "text/plain"), ("prices.csv", "text/csv")]
    assert result.attachments[0].data == f"Bakari <{ALIAS}>".encode()
    assert result.removed == ("key.gpg",)


def test_a_winmail_dat_that_cannot_be_read_is_treated_as_bytes() -> None:
    damaged = b"\x78\x9f\x3e\x22" + b"\xff" * 20 + ADDRESS.encode("utf-16-le")
    assert scrub(Part("winmail.dat", "application/ms-tnef", damaged)).removed == (
        "winmail.dat",)
    clean = b"\x78\x9f\x3e\x22" + b"\xff" * 20
    assert scrub(Part("winmail.dat", "application/ms-tnef", clean)).attachments[0].data == clean


def test_a_winmail_dat_with_a_clean_body_is_unpacked_without_a_notice() -> None:
    dat = artifacts.winmail_dat([("prices.csv", b"W320,1420\n")], body="See attached.",
                                rtf="{\\rtf1 See attached.\\par Bakari Mwangi\\par}")
    result = scrub(Part("winmail.dat", "application/ms-tnef", dat))
    assert [p.filename for p in result.attachments] == ["prices.csv"]
    assert result.removed == () and result.body == "See attached."


WINMAIL_BODIES: dict[str, dict[str, str]] = {
    "rich text (compressed RTF)": {"rtf": RICH_TEXT_SIGNATURE},
    "rich text, Word's runs split at @": {"rtf": (
        "{\\rtf1\\ansi Bakari Mwangi\\par{\\rtlch\\fcs1 \\af0 \\ltrch\\fcs0 \\insrsid5202455 "
        f"{LOCAL}}}{{\\rtlch\\fcs1 \\af0 \\ltrch\\fcs0 \\b\\insrsid9437184 @{DOMAIN}}}\\par}}")},
    "HTML": {"html": f"<p>Bakari Mwangi<br>{LOCAL}&#64;{DOMAIN}</p>"},
    "plain text": {"body": f"Bakari Mwangi\r\n{ADDRESS}"},
}


@pytest.mark.parametrize("body", WINMAIL_BODIES.values(), ids=WINMAIL_BODIES.keys())
def test_a_winmail_dat_whose_body_names_the_address_is_removed(body: dict[str, str]) -> None:
    """Outlook writes the signature into the body it puts in winmail.dat (rich text,
    compressed): the files in it go on, the winmail.dat does not, and both sides are told."""
    dat = artifacts.winmail_dat([("prices.csv", b"W320,1420\n")], **body)
    result = scrub(Part("winmail.dat", "application/ms-tnef", dat))
    assert [p.filename for p in result.attachments] == ["prices.csv"]
    assert result.removed == ("winmail.dat",)
    assert result.body == "See attached.\n\n" + REMOVED_NOTICE.format("winmail.dat")
    only_a_body = artifacts.winmail_dat([], **body)
    assert mentions_address(only_a_body, OWN)
    result = scrub(Part("winmail.dat", "application/ms-tnef", only_a_body))
    assert result.attachments == () and result.removed == ("winmail.dat",)


def test_a_winmail_dat_anywhere_is_read_with_its_body() -> None:
    dat = artifacts.winmail_dat([], rtf=RICH_TEXT_SIGNATURE)
    forwarded = _mail("someone@else.example", "Fwd: offer", "See below.",
                      ("winmail.dat", dat, "application/ms-tnef"))
    result = scrub(Part("offer.eml", "message/rfc822", forwarded.as_bytes()))
    (kept,) = result.attachments
    assert not mentions_address(kept.data, OWN)
    assert result.removed == ("winmail.dat (in offer.eml)",)
    assert scrub(Part("old.zip", "application/zip", _zip({"winmail.dat": dat}))).removed == (
        "old.zip",)
    renamed = scrub(Part("ATT00001.bin", "application/octet-stream", dat))
    assert renamed.attachments == () and renamed.removed == ("ATT00001.bin",)


def test_a_rich_text_body_that_cannot_be_decompressed_counts_as_naming_the_address() -> None:
    compressed = compressed_rtf.compress(RICH_TEXT_SIGNATURE.encode())
    damaged = compressed[:-8] + bytes(b ^ 0x55 for b in compressed[-8:])
    dat = artifacts.winmail_dat([], rtf=RICH_TEXT_SIGNATURE).replace(compressed, damaged)
    assert dat != artifacts.winmail_dat([], rtf=RICH_TEXT_SIGNATURE)
    part = Part("winmail.dat", "application/ms-tnef", dat)
    assert scrub(part).removed == ("winmail.dat",)
    outside = scrub_mail(Extracted("Re", "", (part,)), OWN, ALIAS, cautious=False)
    assert outside.removed == ()


def test_a_winmail_dat_is_read_within_bounds() -> None:
    """Rich text past what is decompressed counts as naming the address; so many
    attributes that tnefparse would copy too much leave the winmail.dat unread (it is
    inspected as bytes)."""
    huge = "{\\rtf1 " + "Kind regards. " * (MAX_RTF_BYTES // 14 + 1) + "}"
    dat = artifacts.winmail_dat([("prices.csv", b"W320,1420\n")], rtf=huge, compress_rtf=False)
    result = scrub(Part("winmail.dat", "application/ms-tnef", dat))
    assert [p.filename for p in result.attachments] == ["prices.csv"]
    assert result.removed == ("winmail.dat",)
    many = artifacts.winmail_dat([("a.txt", b"x")]) + struct.pack("<BHHIH", 1, 0x8004, 1, 0, 0) \
        * (MAX_TNEF_ATTRIBUTES + 1)
    assert read_winmail(many) is None
    (kept,) = scrub(Part("winmail.dat", "application/ms-tnef", many)).attachments
    assert kept.data == many


# ---------------------------------------------------------------------- rich text

RICH_TEXT: dict[str, str] = {
    "a formatting group": f"{{\\rtf1\\ansi {LOCAL}@{{\\b real}}-bakari.example\\par}}",
    "Word's revision runs": (
        "{\\rtf1\\ansi {\\rtlch\\fcs1 \\af31507 \\ltrch\\fcs0 \\insrsid5202455 bak}"
        "{\\rtlch\\fcs1 \\af31507 \\ltrch\\fcs0 \\insrsid9437184 ari@real-bakari.example}"
        "\\par}"),
    "a bookmark": f"{{\\rtf1 Contact: {LOCAL}{{\\*\\bkmkstart contact}}@{DOMAIN}\\par}}",
    "Outlook's encapsulated HTML": (
        "{\\rtf1\\ansi\\fromhtml1 {\\*\\htmltag84 <span>}bak{\\*\\htmltag84 </span>}"
        f"{{\\*\\htmltag84 <b>}}ari@{DOMAIN}\\par}}"),
    "escapes and a line break": f"{{\\rtf1 {LOCAL}\\'40real-ba\r\nkari\\u46?example}}",
}


@pytest.mark.parametrize("rtf", RICH_TEXT.values(), ids=RICH_TEXT.keys())
def test_rich_text_is_read_as_a_reader_shows_it(rtf: str) -> None:
    assert mentions_address(rtf, OWN)
    (kept,) = scrub(Part("letter.rtf", "application/rtf", rtf.encode())).attachments
    assert ALIAS.encode() in kept.data and not mentions_address(kept.data, OWN)
    assert kept.data.startswith(b"{\\rtf1") and kept.data.count(b"{") == kept.data.count(b"}")


# ---------------------------------------------------------------------- a fold inside a character

CJK = "bakari@xn--r8jz45g.example"  # as registered: 例え.example in punycode
FOLDED_LINES = {
    "calendar": ("invite.ics", "text/calendar",
                 "BEGIN:VCALENDAR\r\nORGANIZER;CN=Bakari:mailto:{}\r\nEND:VCALENDAR"),
    "card": ("card.vcf", "text/vcard", "BEGIN:VCARD\r\nEMAIL;TYPE=work:{}\r\nEND:VCARD"),
    "card as bytes": ("card.vcf", "application/octet-stream", "EMAIL:{}"),
    "text": ("notes.txt", "text/plain", "Write to {} today.")}


def _folded_inside(text: str, character: str, after: int, fold: bytes) -> bytes:
    """`text` in UTF-8, folded `after` bytes into the first `character` (a split one)."""
    data, cut = text.encode(), text.index(character)
    at = len(text[:cut].encode()) + after
    return data[:at] + fold + data[at:]


@pytest.mark.parametrize("fold", [b"\r\n ", b"\n ", b"\r\n\t", b"\n\t"])
@pytest.mark.parametrize("carrier", FOLDED_LINES.values(), ids=FOLDED_LINES.keys())
@pytest.mark.parametrize(("registered", "written", "character", "after"), [
    (IDN, IDN_UNICODE, "ü", 1), (IDN, IDN_UNICODE.upper(), "Ü", 1),
    (CJK, "bakari@例え.example", "例", 1), (CJK, "bakari@例え.example", "え", 2)])
def test_a_line_folded_inside_a_character_is_unfolded(
        fold: bytes, carrier: tuple[str, str, str], registered: str, written: str,
        character: str, after: int) -> None:
    """Simple clients fold at 75 octets, inside a UTF-8 character (RFC 5545 warns of it):
    the part then reads cleanly only unfolded, and is rewritten so."""
    filename, content_type, template = carrier
    data = _folded_inside(template.format(written), character, after, fold)
    assert mentions_address(data, [registered])
    result = scrub(Part(filename, content_type, data, "utf-8"), addresses=[registered])
    (kept,) = result.attachments
    assert ALIAS.encode() in kept.data and not mentions_address(kept.data, [registered])
    assert result.removed == ()


def _one_part_mail(content_type: str, body: bytes) -> Extracted:
    raw = (b"From: Bakari Mwangi <" + ADDRESS.encode() + b">\r\nTo: r@relay.example\r\n"
           b"Subject: Re: cashews\r\nMIME-Version: 1.0\r\nContent-Type: " +
           content_type.encode() + b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body)
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return extract(message)


@pytest.mark.parametrize("content_type", ["text/calendar; charset=utf-8",
                                          "text/plain; charset=utf-8", "text/x-vcard"])
def test_a_body_folded_inside_a_character_is_read_unfolded(content_type: str) -> None:
    body = _folded_inside(f"ORGANIZER:mailto:{IDN_UNICODE}\r\n", "ü", 1, b"\r\n ")
    text = _one_part_mail(content_type, body)
    assert IDN_UNICODE in text.body and "\ufffd" not in text.body
    assert scrub_mail(text, [IDN], ALIAS).body == f"ORGANIZER:mailto:{ALIAS}\n"


def test_a_subject_in_raw_utf8_folded_inside_a_character_is_read_unfolded() -> None:
    subject = _folded_inside(f"Subject: Re: offer from {IDN_UNICODE}", "ü", 1, b"\r\n ")
    raw = b"From: x@y.example\r\n" + subject + b"\r\nMIME-Version: 1.0\r\n\r\nYes.\r\n"
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    text = extract(message)
    assert text.subject == f"Re: offer from {IDN_UNICODE}"
    assert scrub_mail(text, [IDN], ALIAS).subject == f"Re: offer from {ALIAS}"


# ---------------------------------------------------------------------- a body folded with tabs


@pytest.mark.parametrize("position", range(1, len(ADDRESS)))
@pytest.mark.parametrize("line_end", ["\r\n\t", "\n\t\t", "\r\n    "])
@pytest.mark.parametrize("content_type", ["text/plain; charset=utf-8", "text/vcard",
                                          "text/calendar; charset=utf-8"])
def test_a_body_folded_with_tabs_is_scrubbed(position: int, line_end: str,
                                             content_type: str) -> None:
    """A body shows a tab as four spaces: a line folded with one is still the address."""
    line = "EMAIL:" + fold(ADDRESS, position, line_end)
    text = _one_part_mail(content_type, f"BEGIN:VCARD\r\n{line}\r\nEND:VCARD\r\n".encode())
    assert "    " in text.body
    result = scrub_mail(text, OWN, ALIAS)
    assert result.body == f"BEGIN:VCARD\nEMAIL:{ALIAS}\nEND:VCARD\n"


# ---------------------------------------------------------------------- uuencoded files

CARD = f"BEGIN:VCARD\r\nFN:Bakari Mwangi\r\nEMAIL:{ADDRESS}\r\nEND:VCARD\r\n".encode()


@pytest.mark.parametrize(("name", "data"), [
    ("card.vcf", CARD), ("card.vcf", CARD.decode().encode("utf-16")),
    ("card.vcf.gz", gzip.compress(CARD, mtime=0)), ("cards.zip", artifacts.zip_archive(
        "card.vcf", CARD.decode())), ("Bakari.txt", f"mailto:{LOCAL}%40{DOMAIN}".encode())])
@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_file_uuencoded_in_the_body_is_removed_and_the_reader_told(
        name: str, data: bytes, line_end: str) -> None:
    block = artifacts.uuencoded(name, data, line_end)
    body = f"Card below.{line_end}{line_end}{block}{line_end}Bakari"
    assert mentions_address(body, OWN)
    result = scrub(body=body)
    assert result.body == (f"Card below.{line_end}{line_end}{line_end}Bakari\n\n"
                           + REMOVED_NOTICE.format(name))
    assert result.removed == (name,)


def test_uuencoded_files_are_found_however_they_end() -> None:
    block = artifacts.uuencoded("card.vcf", CARD)
    assert mentions_address(block.replace("`\nend\n", ""), OWN)  # cut short
    assert mentions_address(block.replace("\n", "\r\n").rstrip() + "\r\nThanks", OWN)
    stripped = "\n".join(line.rstrip() for line in block.split("\n"))  # a transport's doing
    assert mentions_address(stripped, OWN)


def test_a_text_attachment_keeps_all_but_the_uuencoded_file_that_names_the_address() -> None:
    other = artifacts.uuencoded("prices.csv", b"W320,1420\n")
    text = f"Notes\n{artifacts.uuencoded('card.vcf', CARD)}{other}Thanks\n"
    result = scrub(Part("notes.txt", "text/plain", text.encode()))
    (kept,) = result.attachments
    assert kept.data == f"Notes\n{other}Thanks\n".encode()
    assert result.removed == ("card.vcf (in notes.txt)",)


def test_a_uuencoded_file_without_the_address_is_kept() -> None:
    body = "Prices:\n" + artifacts.uuencoded("prices.csv", b"W320,1420\n" * 20)
    assert scrub(body=body).body == body


# ---------------------------------------------------------------------- names, subject, body


def test_subject_and_filenames_are_scrubbed() -> None:
    result = scrub(Part(f"card for {ADDRESS}.txt", "text/plain", b"hello"),
                   Part(f"{LOCAL}%40{DOMAIN}.pdf", "application/pdf",
                        artifacts.pdf_flate(ADDRESS)),
                   subject=f"Re: offer from {LOCAL}&#64;{DOMAIN}")
    assert result.subject == f"Re: offer from {ALIAS}"
    assert [p.filename for p in result.attachments] == [f"card for {ALIAS}.txt"]
    assert result.removed == (f"{ALIAS}.pdf",)


def test_the_body_is_rewritten_as_written() -> None:
    body = f"Hi Amina,\n\nmail {ADDRESS} or {LOCAL} (at) {DOMAIN.replace('.', ' (dot) ')}.\n"
    assert scrub(body=body).body == f"Hi Amina,\n\nmail {ALIAS} or {ALIAS}.\n"


def test_a_body_that_cannot_be_rewritten_is_replaced_by_a_line_saying_so() -> None:
    key = artifacts.pgp_armored(artifacts.pgp_public_key(ADDRESS))
    assert scrub(body=f"My key:\n\n{key}").body == TEXT_REMOVED
    assert scrub(subject="Re: " + base64.b64encode(ADDRESS.encode()).decode()).subject == \
        SUBJECT_REMOVED


def test_removed_parts_add_one_line_each_to_the_body() -> None:
    result = scrub(Part("a.p7s", "application/pkcs7-signature", artifacts.smime_signature(
        ADDRESS)), Part("b.gpg", "application/pgp-keys", artifacts.pgp_public_key(ADDRESS)),
        body="")
    assert result.body == "\n".join(REMOVED_NOTICE.format(n) for n in ("a.p7s", "b.gpg"))


def test_spans_point_at_the_text_as_written() -> None:
    text = f"to {LOCAL}&#64;{DOMAIN}, {ADDRESS.upper()} and {fold(ADDRESS, 5)}!"
    found = [text[a:b] for a, b in spans(text, forms(OWN))]
    assert found == [f"{LOCAL}&#64;{DOMAIN}", ADDRESS.upper(), fold(ADDRESS, 5)]


def test_no_addresses_means_nothing_to_scrub() -> None:
    text = Extracted("Re", f"mail {ADDRESS}", (Part("a.txt", "text/plain", b"x"),))
    result = scrub_mail(text, [], ALIAS)
    assert (result.subject, result.body, result.attachments, result.removed) == (
        "Re", f"mail {ADDRESS}", text.attachments, ())


# ---------------------------------------------------------------------- properties

ENCODERS: dict[str, Callable[[str], str]] = {
    "plain": lambda a: a,
    "upper": str.upper,
    "swapcase": str.swapcase,
    "entities": entities,
    "hex entities": lambda a: entities(a, "&#x{:X};"),
    "double entities": lambda a: html.escape(entities(a)),
    "named @": lambda a: a.replace("@", "&commat;"),
    "percent": lambda a: quote(a, safe=""),
    "percent all": lambda a: "".join(f"%{b:02x}" for b in a.encode()),
    "qp @": lambda a: a.replace("@", "=40"),
    "qp all": lambda a: quopri.encodestring(a.encode(), quotetabs=True).decode().replace(
        "@", "=40"),
    "spelled": lambda a: a.replace("@", " at ").replace(".", " dot "),
    "full-width": lambda a: "".join(chr(ord(c) + 0xFEE0) for c in a),
    "escapes": lambda a: "".join(f"\\u{ord(c):04x}" for c in a),
}
FOLDS = st.sampled_from(["\r\n ", "\n ", "\r\n\t", "\n\t", "\r\n\t\t", "\n    "])
SURROUNDING = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@st.composite
def spelled(draw: st.DrawFn) -> str:
    """The address in a random spelling, maybe folded at a random place, in random text."""
    text = ENCODERS[draw(st.sampled_from(sorted(ENCODERS)))](ADDRESS)
    if draw(st.booleans()):
        at = draw(st.integers(min_value=1, max_value=len(text) - 1))
        text = text[:at] + draw(FOLDS) + text[at:]
    return draw(SURROUNDING) + " " + text + " " + draw(SURROUNDING)


CARRIERS = st.sampled_from(["body", "subject", "filename", "text/plain", "utf-16 text",
                            "utf-32 octet-stream", "text/calendar", "text/vcard", "text/html",
                            "forwarded mail", "zip", "gzip", "base64 text",
                            "uuencoded in text"])


def _carry(carrier: str, text: str) -> Extracted:
    data = text.encode("utf-8", "surrogatepass")
    parts = {
        "text/plain": Part("a.txt", "text/plain", data, "utf-8"),
        "utf-16 text": Part("a.txt", "text/plain", text.encode("utf-16", "surrogatepass")),
        "utf-32 octet-stream": Part("a.txt", "application/octet-stream",
                                    text.encode("utf-32", "surrogatepass")),
        "text/calendar": Part("a.ics", "text/calendar", b"ORGANIZER:" + data),
        "text/vcard": Part("a.vcf", "text/vcard", b"EMAIL:" + data),
        "text/html": Part("a.html", "text/html", b"<p>" + data + b"</p>"),
        "forwarded mail": Part("a.eml", "message/rfc822",
                               b"From: x@y.example\nSubject: s\n\n" + data),
        "zip": Part("a.zip", "application/zip", _zip({"a.txt": data})),
        "gzip": Part("a.gz", "application/gzip", gzip.compress(data)),
        "base64 text": Part("a.txt", "text/plain", base64.b64encode(data)),
        "uuencoded in text": Part("a.txt", "text/plain", b"Card:\n" + artifacts.uuencoded(
            "card.txt", data).encode()),
    }
    if carrier in parts:
        return Extracted("Re", "See attached.", (parts[carrier],))
    if carrier == "filename":
        return Extracted("Re", "", (Part(text[:200], "application/pdf", b"%PDF-1.4"),))
    return Extracted(text[:255], "", ()) if carrier == "subject" else Extracted("Re", text, ())


def _outputs(result: Scrubbed) -> list[bytes | str]:
    return [result.subject, result.body, *(p.filename for p in result.attachments),
            *(p.data for p in result.attachments)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=spelled(), carrier=CARRIERS)
def test_no_spelling_survives_in_any_carrier(text: str, carrier: str) -> None:
    mail = _carry(carrier, text)
    assert mentions_address(text, OWN)
    result = scrub_mail(mail, OWN, ALIAS)
    for output in _outputs(result):
        assert not mentions_address(output, OWN), (carrier, output)
        raw = output.encode("utf-8", "surrogatepass") if isinstance(output, str) else output
        assert ADDRESS.encode() not in raw.lower()


CONTENT_TYPES = st.sampled_from([
    "text/plain", "text/html", "text/calendar", "text/vcard", "application/vcard",
    "message/rfc822", "application/ms-tnef", "application/octet-stream", "application/pdf",
    "application/zip", "application/gzip", "application/pkcs7-signature", "image/png",
    "multipart/mixed", "text/csv", "application/rtf"])
HOSTILE_BYTES = st.one_of(
    st.binary(max_size=2000),
    st.builds(lambda head, tail: head + tail, st.sampled_from([
        b"PK\x03\x04", b"PK\x05\x06" + bytes(18), b"\x1f\x8b\x08", b"BZh91AY&SY",
        b"\xfd7zXZ\x00", b"%PDF-1.4\nstream\n\x78\x9c", b"\x89PNG\r\n\x1a\n",
        b"\x78\x9f\x3e\x22\x01\x00", b"From: a@b\nContent-Type: multipart/mixed; boundary=x\n\n",
        b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"7z\xbc\xaf\x27\x1c", b"=?utf-8?b?",
        b"&#", b"%", b"=", b"\\u", b"\r\n ", b"begin 644 a.txt\n", b"{\\rtf1 ",
        b"\xc3\r\n \xbc"]), st.binary(max_size=2000)),
    st.builds(str.encode, SURROUNDING))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.tuples(SURROUNDING, CONTENT_TYPES, HOSTILE_BYTES,
                                st.sampled_from(["", "utf-8", "utf-16", "rot13", "base64",
                                                 "x-unknown", "utf-7", "idna"])), max_size=4),
       subject=SURROUNDING, body=SURROUNDING)
def test_hostile_input_never_raises(parts: list[tuple[str, str, bytes, str]], subject: str,
                                    body: str) -> None:
    mail = Extracted(subject, body, tuple(Part(n or "x", t, d, c) for n, t, d, c in parts))
    result = scrub_mail(mail, OWN, ALIAS)
    assert isinstance(result, Scrubbed)
    for output in _outputs(result):
        assert not mentions_address(output, OWN)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=4000))
def test_random_bytes_are_not_taken_for_the_address(data: bytes) -> None:
    # A container's magic number on data that is no such container makes it unreadable,
    # which is taken to name the address: that is by design, not a mistake.
    assume(container_kind(data) == "")
    assert not mentions_address(data, OWN)


# ---------------------------------------------------------------------- bounded work


def test_a_zip_bomb_costs_a_bounded_amount_and_is_removed() -> None:
    bomb = _zip({"zeros.txt": bytes(MAX_EXPANDED_BYTES * 4)})
    assert len(bomb) < MAX_EXPANDED_BYTES // 100
    result = scrub(Part("bomb.zip", "application/zip", bomb))
    assert isinstance(result, Scrubbed) and result.removed == ("bomb.zip",)


def test_many_small_entries_and_deep_nesting_are_bounded() -> None:
    many = _zip({f"{n}.txt": b"x" for n in range(5000)})
    assert mentions_address(many, OWN) is True  # too many to vouch for
    nested = b"innermost"
    for _ in range(20):
        nested = _zip({"next.zip": nested})
    assert mentions_address(nested, OWN) is True
    overlapping = _zip({f"{n}.bin": bytes(8 * 1024 * 1024) for n in range(12)})
    assert mentions_address(overlapping, OWN) is True


def test_gzip_and_flate_bombs_are_bounded() -> None:
    gz = gzip.compress(bytes(MAX_EXPANDED_BYTES * 2))
    assert mentions_address(gz, OWN) is True
    pdf = b"%PDF-1.4\n1 0 obj<< /Filter /FlateDecode >>stream\n" + zlib.compress(
        bytes(MAX_EXPANDED_BYTES * 2)) + b"\nendstream"
    assert mentions_address(pdf, OWN) is True


def test_huge_inputs_take_time_in_proportion() -> None:
    text = ("Price list &amp; terms: 100% =20 cashews, see you at noon. Ünïcödé.\n" * 30_000)
    assert len(text) > 2_000_000
    assert mentions_address(text, OWN) is False
    noise = bytes(range(256)) * 40_000
    assert mentions_address(noise, OWN) is False
    tricky = "&" * 500_000 + "%" * 500_000 + "<a" * 300_000 + "=\n" * 300_000
    assert scrub(body=tricky[:1_000_000] + ADDRESS).body.endswith(ALIAS)
    base64ish = ("QUJD" * 10 + " ") * 50_000
    assert mentions_address(base64ish, OWN) is False


# ---------------------------------------------------------------------- in the worker pool


async def test_the_reader_scrubs_in_its_worker_pool() -> None:
    reader = MailReader(max_text_chars=1 << 20, workers=1, timeout=60)
    try:
        result = await reader.scrub(Extracted("Re", f"mail {ADDRESS}", (
            Part("k.asc", "application/pgp-keys", artifacts.pgp_public_key(ADDRESS)),)),
            OWN, ALIAS)
    finally:
        reader.close()
    assert result.body == f"mail {ALIAS}\n\n" + REMOVED_NOTICE.format("k.asc")
    assert result.removed == ("k.asc",)


def test_outside_mail_keeps_what_cannot_be_inspected_and_removes_what_is_found() -> None:
    """For the addresses outside mail came from (not cautious), only a part found to name
    one goes: an outsider's broken or encrypted archive is theirs to send."""
    broken = b"PK\x03\x04" + bytes(60)
    named = _zip({"card.txt": f"Write to {ADDRESS}".encode()})
    parts = (Part("specs.zip", "application/zip", broken),
             Part("card.zip", "application/zip", named))
    text = Extracted("Specs", "See attached.", parts)
    outside = scrub_mail(text, [ADDRESS], ALIAS, cautious=False)
    assert [p.filename for p in outside.attachments] == ["specs.zip"]
    assert outside.removed == ("card.zip",)
    own = scrub_mail(text, [ADDRESS], ALIAS)
    assert own.attachments == () and own.removed == ("specs.zip", "card.zip")
