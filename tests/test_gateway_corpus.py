"""Real-shaped mail (tests/mail/*.eml) through the real gateway, each with its expected outcome.

Placeholders in the files are filled per run: {{MEMBER}} is the recipient member's real
address ({{MEMBER_UPPER}} the same in capitals, {{MEMBER_LOCAL}} and {{MEMBER_DOMAIN}} its two
halves, {{MEMBER_UNICODE}} with the domain in Unicode and {{MEMBER_UNICODE_UPPER}} that in
capitals, {{MEMBER_PCT}} %-encoded whole, {{MEMBER_SPOKEN}} as "name at domain dot tld"),
{{REPLY}} their reply address for the thread,
{{ALIAS}} their alias, {{BOUNCE}} the VERP address of the notification they were sent,
{{FORGED_BOUNCE}} that address with a wrong signature, {{OUTSIDER}} someone outside.
Artefacts made per run for the member's address: {{PGP_KEY_ARMORED}}, {{PGP_KEY_BASE64}},
{{SMIME_P7S_BASE64}}.

Blocks transform what they enclose, innermost first, once the placeholders are filled:
{{BASE64 charset}}…{{/BASE64}} encodes it in that charset, then in base64; {{PCT}}…{{/PCT}}
%-encodes it; {{FOLD n}}…{{/FOLD}} folds it every n characters (a line break and a space,
as iCalendar and vCard do; {{FOLD n crlf}} with CR LF, {{FOLD n tab}} with a line break and
a tab, {{FOLD n delsp}} with a blank and a line break, as format=flowed with DelSp=yes
does); {{FOLD_OCTETS n crlf}} folds its UTF-8 bytes every n octets (CR LF and a space,
"tab" a tab), inside a character where one falls there, as simple calendar clients do;
{{UUENCODE name}} uuencodes it as a file of that name ("begin 644 name" … "end");
{{GZIP_BASE64}}, {{ZIP_BASE64 name}},
{{DOCX_BASE64}}, {{XLSX_BASE64}}, {{ODT_BASE64}}, {{PDF_BASE64}} (a page showing the text,
Flate-compressed), {{PDF_AUTHOR_BASE64}} (the text as the author, UTF-16BE in octal escapes)
make that file of the text, in base64; {{TNEF_BASE64 name,name}} makes a winmail.dat of
those files, their contents separated by a line "--- next file ---", and after a line
"--- rich text body ---" the message's body, as compressed RTF ({{TNEF_BASE64}}: no files).
Bytes that are no UTF-8 (a character folded in two) are carried as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import idna
import pytest

from tests import mail_artifacts as artifacts
from tests.helpers import register, send
from tests.test_gateway import (  # noqa: F401 - fixtures are used by name
    Gateway,
    config,
    gateway,
    member_id,
    parse,
    reply_address,
    smarthost,
)
from trademail.app import CORE
from trademail.appkeys import NOTIFICATIONS
from trademail.mail.scrub import REMOVED_NOTICE, mentions_address

MAIL = Path(__file__).parent / "mail"
OUTSIDER = "olu@partner.example"


@dataclass(frozen=True)
class Case:
    file: str
    to: str  # REPLY, ALIAS, BOUNCE or FORGED_BOUNCE
    sender: str  # MEMBER, OUTSIDER, or an address ("" is the null sender)
    code: int
    outcome: str  # reply, dropped, external, quiet, hard, soft or refused
    contains: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    attachments: int = 0
    subject: str | None = None
    member_email: str | None = None  # the recipient member's address, when not the default
    kept: tuple[str, ...] | None = None  # names of the attachments that reach the other party
    rewritten: tuple[str, ...] = ()  # kept attachments that now name the alias instead
    removed: tuple[str, ...] = ()  # parts removed for naming the member's address


CASES = [
    # ------------------------------------------------ replies by mail, as clients quote
    Case("reply_gmail_alternative.eml", "REPLY", "MEMBER", 250, "reply",
         ("Yes, we can ship 20 t of W320 in March.",), ("wrote:", "You have a new")),
    Case("reply_gmail_mobile_plain.eml", "REPLY", "MEMBER", 250, "reply",
         ("Price holds until Friday.",), ("wrote", ">")),
    Case("reply_outlook_html.eml", "REPLY", "MEMBER", 250, "reply",
         ("Please find our offer below: 1,420 USD/t CIF Mombasa.", "Kind regards"),
         ("From:", "Sent:", "________")),
    Case("reply_outlook_original_message.eml", "REPLY", "MEMBER", 250, "reply",
         ("Confirmed, the container leaves on the 14th.",), ("Original Message", "From:")),
    Case("reply_apple_mail_iphone.eml", "REPLY", "MEMBER", 250, "reply",
         ("Samples go out tomorrow by DHL.",), ("Sent from my iPhone", "wrote:")),
    Case("reply_apple_mail_html_only.eml", "REPLY", "MEMBER", 250, "reply",
         ("We accept the terms & the L/C at sight.",), ("wrote:", "<div")),
    Case("reply_thunderbird_signature.eml", "REPLY", "MEMBER", 250, "reply",
         ("Moisture is below 5%",), ("+254", "wrote:")),
    Case("reply_with_pdf_attachment.eml", "REPLY", "MEMBER", 250, "reply",
         ("Pro forma invoice attached.",), (), attachments=1),
    Case("reply_with_inline_image.eml", "REPLY", "MEMBER", 250, "reply",
         ("Here is our logo for the labels:",), ("<img",), attachments=1),
    Case("reply_iso8859_1_qp.eml", "REPLY", "MEMBER", 250, "reply",
         ("Très bien, reçu. Le prix reste à 1 450 USD la tonne.",)),
    Case("reply_windows1252_base64.eml", "REPLY", "MEMBER", 250, "reply",
         ("“Agreed” — 1 450 € per tonne.",)),
    Case("reply_gb2312_chinese.eml", "REPLY", "MEMBER", 250, "reply",
         ("好的，我们下周发货。",), ("写道", "您有")),
    Case("reply_encoded_word_subject.eml", "REPLY", "MEMBER", 250, "reply",
         ("Arabica AA, 12 bags, ready.",), subject="Re: Café arábica à Mombasa"),
    Case("reply_french_attribution.eml", "REPLY", "MEMBER", 250, "reply",
         ("D'accord pour 15 tonnes.",), ("a écrit", "Vous avez")),
    Case("reply_german_outlook.eml", "REPLY", "MEMBER", 250, "reply",
         ("Liefertermin bestätigt.",), ("Von:", "Gesendet:")),
    Case("reply_mentions_own_address.eml", "REPLY", "MEMBER", 250, "reply",
         ("Happy to talk.", "{{ALIAS}}")),
    Case("reply_base64_utf8.eml", "REPLY", "MEMBER", 250, "reply",
         ("Naam, tutasafirisha kesho. Asante!",)),
    Case("reply_with_outside_cc.eml", "REPLY", "MEMBER", 250, "reply",
         ("Copying our finance team.",)),
    # ------------------------------------------------ the member's own address, in every shape
    Case("reply_leak_calendar_folded.eml", "REPLY", "MEMBER", 250, "reply",
         ("Invitation attached.",), attachments=1, kept=("invite.ics",),
         rewritten=("invite.ics",)),
    Case("reply_leak_utf16_attachment.eml", "REPLY", "MEMBER", 250, "reply",
         ("Our contacts, as exported.",), attachments=1, kept=("contacts.txt",),
         rewritten=("contacts.txt",)),
    Case("reply_leak_utf32_octet_stream.eml", "REPLY", "MEMBER", 250, "reply",
         ("Address list attached.",), attachments=1, kept=("address-list.txt",),
         rewritten=("address-list.txt",)),
    Case("reply_leak_html_entities.eml", "REPLY", "MEMBER", 250, "reply",
         ("Our signature block is attached.",), attachments=1, kept=("signature.html",),
         rewritten=("signature.html",)),
    Case("reply_leak_octet_stream_txt.eml", "REPLY", "MEMBER", 250, "reply",
         ("Notes from the call.",), attachments=1, kept=("notes.txt",),
         rewritten=("notes.txt",)),
    Case("reply_leak_octet_stream_eml.eml", "REPLY", "MEMBER", 250, "reply",
         ("Our earlier offer, for reference.",), attachments=1, kept=("earlier-offer.eml",),
         rewritten=("earlier-offer.eml",)),
    Case("reply_leak_vcard.eml", "REPLY", "MEMBER", 250, "reply",
         ("My card, both versions.",), attachments=2, kept=("bakari.vcf", "card-2.1.vcf"),
         rewritten=("bakari.vcf", "card-2.1.vcf")),
    Case("reply_leak_mailto_percent.eml", "REPLY", "MEMBER", 250, "reply",
         ("Reach me at mailto:{{ALIAS}} or <{{ALIAS}}>.",)),
    Case("reply_leak_idna_unicode.eml", "REPLY", "MEMBER", 250, "reply",
         ("Schreiben Sie an {{ALIAS}}, {{ALIAS}} oder mailto:{{ALIAS}}.",),
         subject="Re: Angebot von {{ALIAS}}", member_email="bakari@xn--bcher-kva.example"),
    Case("reply_leak_pgp_armored.eml", "REPLY", "MEMBER", 250, "reply",
         ("My key, for encrypted mail.",), kept=(), removed=("OpenPGP_0x8A3F12C4.asc",)),
    Case("reply_leak_pgp_binary.eml", "REPLY", "MEMBER", 250, "reply",
         ("Key attached.",), kept=(), removed=("bakari.gpg",)),
    Case("reply_leak_smime_signed.eml", "REPLY", "MEMBER", 250, "reply",
         ("Signed, as our policy requires.",), kept=(), removed=("smime.p7s",)),
    Case("reply_leak_forwarded_nested.eml", "REPLY", "MEMBER", 250, "reply",
         ("See the thread below.",), attachments=1, kept=("Fwd offer.eml",),
         rewritten=("Fwd offer.eml",),
         removed=("price-list.pdf (in Fwd offer.eml)",)),
    Case("reply_leak_office_documents.eml", "REPLY", "MEMBER", 250, "reply",
         ("Contract, price sheet and letter attached.",), kept=(),
         removed=("contract.docx", "prices.xlsx", "letter.odt")),
    Case("reply_leak_zip_archive.eml", "REPLY", "MEMBER", 250, "reply",
         ("All documents zipped.",), kept=(), removed=("documents.zip",)),
    Case("reply_leak_pdf_flate.eml", "REPLY", "MEMBER", 250, "reply",
         ("Letter and terms attached.",), attachments=1, kept=("terms.pdf",),
         removed=("letterhead.pdf",)),
    Case("reply_leak_pdf_utf16.eml", "REPLY", "MEMBER", 250, "reply",
         ("Invoice attached.",), kept=(), removed=("invoice-2025-031.pdf",)),
    Case("reply_leak_gzip.eml", "REPLY", "MEMBER", 250, "reply",
         ("Compressed export attached.",), kept=(), removed=("contacts.csv.gz",)),
    Case("reply_leak_winmail_dat.eml", "REPLY", "MEMBER", 250, "reply",
         ("Please see attached.",), attachments=2, kept=("contact.txt", "prices.csv"),
         rewritten=("contact.txt",)),
    Case("reply_leak_spelled_out.eml", "REPLY", "MEMBER", 250, "reply",
         ("Write to {{ALIAS}} or {{ALIAS}} or {{ALIAS}}.",), ("real-bakari",)),
    Case("reply_leak_filename_and_subject.eml", "REPLY", "MEMBER", 250, "reply",
         ("Card attached.",), attachments=1, kept=("card for {{ALIAS}}.txt",),
         subject="Re: offer from {{ALIAS}}"),
    Case("reply_leak_data_uri.eml", "REPLY", "MEMBER", 250, "reply",
         ("My card as a web page.",), kept=(), removed=("card.html",)),
    Case("reply_leak_calendar_split_character.eml", "REPLY", "MEMBER", 250, "reply",
         ("Invitation and card attached.",), attachments=2, kept=("invite.ics", "card.vcf"),
         rewritten=("invite.ics", "card.vcf"), member_email="bakari@xn--bcher-kva.example"),
    Case("reply_leak_calendar_only_part.eml", "REPLY", "MEMBER", 250, "reply",
         ("ORGANIZER;CN=Bakari:mailto:{{ALIAS}}",), member_email="bakari@xn--bcher-kva.example"),
    Case("reply_leak_tab_folded_body.eml", "REPLY", "MEMBER", 250, "reply",
         ("EMAIL;TYPE=work:{{ALIAS}}", "the old address book:\n\n{{ALIAS}}\n"),
         ("real-ba", "kari.example")),
    Case("reply_leak_vcard_only_part.eml", "REPLY", "MEMBER", 250, "reply",
         ("item1.EMAIL;type=INTERNET;type=pref:{{ALIAS}}",), ("real-bakari",)),
    Case("reply_leak_winmail_rich_text_signature.eml", "REPLY", "MEMBER", 250, "reply",
         ("Updated price list attached.",), attachments=1, kept=("prices.csv",),
         removed=("winmail.dat",)),
    Case("reply_leak_winmail_rich_text_only.eml", "REPLY", "MEMBER", 250, "reply",
         ("We can load on the 14th.",), kept=(), removed=("winmail.dat",)),
    Case("reply_leak_uuencoded_inline.eml", "REPLY", "MEMBER", 250, "reply",
         ("Card attached below, and the price list.", "W320,1420", "\n\nBakari"),
         ("begin 644",), kept=(), removed=("card.vcf",)),
    Case("reply_leak_rich_text_runs.eml", "REPLY", "MEMBER", 250, "reply",
         ("Our letter of intent, as Word saved it.",), attachments=1, kept=("letter.rtf",),
         rewritten=("letter.rtf",)),
    Case("reply_leak_flowed_soft_breaks.eml", "REPLY", "MEMBER", 250, "reply",
         ("Invoices go to {{ALIAS}}, and the", "old mailbox {{ALIAS}} still works."),
         ("real-",)),
    # ------------------------------------------------ auto-replies never join the conversation
    Case("reply_auto_reply_out_of_office.eml", "REPLY", "MEMBER", 250, "dropped"),
    Case("reply_vacation_precedence_bulk.eml", "REPLY", "MEMBER", 250, "dropped"),
    # ------------------------------------------------ hostile or forged replies
    Case("reply_from_a_stranger.eml", "REPLY", "mallory@evil.example", 550, "refused"),
    Case("reply_spoofed_header_from.eml", "REPLY", "mallory@evil.example", 550, "refused"),
    Case("reply_two_from_addresses.eml", "REPLY", "MEMBER", 550, "refused"),
    Case("reply_without_from_header.eml", "REPLY", "MEMBER", 550, "refused"),
    # ------------------------------------------------ mail from outside to the alias
    Case("external_plain_enquiry.eml", "ALIAS", "OUTSIDER", 250, "external",
         ("Do you ship hulled sesame to Lagos?",), subject="Enquiry: sesame seeds, 40 t"),
    Case("external_html_marketing.eml", "ALIAS", "OUTSIDER", 250, "external",
         ("Spring catalogue", "Prices & terms inside."),
         ("<script", "document.cookie", "color:red", "onclick", "<img", "<iframe")),
    Case("external_with_spreadsheet.eml", "ALIAS", "OUTSIDER", 250, "external",
         ("See the specification sheet.",), attachments=1),
    Case("external_unknown_charset.eml", "ALIAS", "OUTSIDER", 250, "external",
         ("Price list follows",)),
    Case("external_broken_base64.eml", "ALIAS", "OUTSIDER", 250, "external"),
    Case("external_malformed_multipart.eml", "ALIAS", "OUTSIDER", 250, "external"),
    Case("external_8bit_raw_utf8_headers.eml", "ALIAS", "OUTSIDER", 250, "external",
         ("Bom dia, qual o preço FOB?",), subject="Cotação de café — 20 sacas"),
    Case("external_forwarded_message.eml", "ALIAS", "OUTSIDER", 250, "external",
         ("Can you beat this?",), attachments=1),
    Case("external_reply_to_differs.eml", "ALIAS", "noreply@partner.example", 250,
         "external", ("Replies go to Olu.",)),
    Case("external_control_characters.eml", "ALIAS", "OUTSIDER", 250, "external",
         ("Terminal[2J tricks and a bell.",), ("\x1b", "\x07", "\x00"),
         subject="Bell and escape[0m"),  # control characters go, as in the body
    Case("external_deep_nesting.eml", "ALIAS", "OUTSIDER", 250, "external",
         ("Deep inside.",)),
    Case("external_auto_reply.eml", "ALIAS", "OUTSIDER", 250, "quiet",
         ("I am travelling until Friday.",)),
    Case("external_no_sender_at_all.eml", "ALIAS", "", 550, "refused"),
    Case("external_mail_loop.eml", "ALIAS", "OUTSIDER", 554, "refused"),
    Case("external_huge_header.eml", "ALIAS", "OUTSIDER", 552, "refused"),
    Case("external_too_many_headers.eml", "ALIAS", "OUTSIDER", 552, "refused"),
    Case("external_line_too_long.eml", "ALIAS", "OUTSIDER", 500, "refused"),
    # ------------------------------------------------ bounces (RFC 3464) to VERP addresses
    Case("dsn_postfix_user_unknown.eml", "BOUNCE", "", 250, "hard"),
    Case("dsn_gmail_failure.eml", "BOUNCE", "", 250, "hard"),
    Case("dsn_exchange_delayed.eml", "BOUNCE", "", 250, "soft"),
    Case("bounce_address_gets_an_auto_reply.eml", "BOUNCE", "MEMBER", 250, "dropped"),
    Case("dsn_forged_for_someone_else.eml", "FORGED_BOUNCE", "", 550, "refused"),
]


def test_the_corpus_is_complete() -> None:
    files = sorted(p.name for p in MAIL.glob("*.eml"))
    assert len(files) >= 30
    assert sorted(c.file for c in CASES) == files
    assert len([f for f in files if f.startswith("reply_leak_")]) >= 15


# ---------------------------------------------------------------------- filling the templates

_BLOCK = re.compile(r"\{\{([A-Z0-9_]+)((?: [^{}\n]*)?)\}\}((?:(?!\{\{).)*?)\{\{/\1\}\}", re.S)
NEXT_FILE = "\n--- next file ---\n"
RTF_BODY = "\n--- rich text body ---\n"
FOLDS = {"lf": "\n ", "crlf": "\r\n ", "tab": "\n\t", "delsp": " \n"}


def _fold(text: str, width: str, line_end: str = "lf") -> str:
    size, fold = int(width), FOLDS[line_end]
    return fold.join(text[i:i + size] for i in range(0, len(text), size))


def _fold_octets(text: str, width: str, line_end: str = "crlf") -> str:
    data, size = text.encode(), int(width)
    fold = b"\r\n\t" if line_end == "tab" else b"\r\n "
    return fold.join(data[i:i + size] for i in range(0, len(data), size)).decode(
        "utf-8", "surrogateescape")


def _winmail(text: str, names: str = "") -> bytes:
    files, _, rtf = ("\n" + text).partition(RTF_BODY)
    files = files.removeprefix("\n")
    contents = [t.encode() for t in files.split(NEXT_FILE)] if names else []
    return artifacts.winmail_dat(list(zip(names.split(",") if names else [], contents,
                                          strict=True)), rtf=rtf or None)


BLOCKS: dict[str, Callable[..., str]] = {
    "BASE64": lambda text, charset="utf-8": artifacts.base64_lines(
        text.encode(charset, "surrogateescape")),
    "PCT": lambda text: quote(text, safe=""),
    "FOLD": _fold,
    "FOLD_OCTETS": _fold_octets,
    "UUENCODE": lambda text, name: artifacts.uuencoded(name, text.encode()),
    "GZIP_BASE64": lambda text: artifacts.base64_lines(artifacts.gzip_file(text)),
    "ZIP_BASE64": lambda text, name: artifacts.base64_lines(artifacts.zip_archive(name, text)),
    "DOCX_BASE64": lambda text: artifacts.base64_lines(artifacts.docx(text)),
    "XLSX_BASE64": lambda text: artifacts.base64_lines(artifacts.xlsx(text)),
    "ODT_BASE64": lambda text: artifacts.base64_lines(artifacts.odt(text)),
    "PDF_BASE64": lambda text: artifacts.base64_lines(artifacts.pdf_flate(text)),
    "PDF_AUTHOR_BASE64": lambda text: artifacts.base64_lines(artifacts.pdf_utf16_author(text)),
    "TNEF_BASE64": lambda text, names="": artifacts.base64_lines(_winmail(text, names)),
}


def member_values(email: str) -> dict[str, str | Callable[[], str]]:
    """The placeholders that spell the member's address, and the artefacts naming it (made
    only when a file asks for them: keys take a while)."""
    local, _, domain = email.rpartition("@")
    unicode = f"{local}@{idna.decode(domain)}"
    return {
        "MEMBER": email, "MEMBER_UPPER": email.upper(), "MEMBER_LOCAL": local,
        "MEMBER_DOMAIN": domain, "MEMBER_UNICODE": unicode,
        "MEMBER_UNICODE_UPPER": unicode.upper(), "MEMBER_PCT": quote(email, safe=""),
        "MEMBER_SPOKEN": f"{local} at {domain.replace('.', ' dot ')}",
        "PGP_KEY_ARMORED": lambda: artifacts.pgp_armored(artifacts.pgp_public_key(email)),
        "PGP_KEY_BASE64": lambda: artifacts.base64_lines(artifacts.pgp_public_key(email)),
        "SMIME_P7S_BASE64": lambda: artifacts.base64_lines(artifacts.smime_signature(email))}


def fill(template: str, values: dict[str, str | Callable[[], str]]) -> str:
    for key, value in values.items():
        placeholder = "{{" + key + "}}"
        if placeholder in template:
            template = template.replace(placeholder, value() if callable(value) else value)
    while (match := _BLOCK.search(template)) is not None:
        name, arguments, body = match.group(1), match.group(2).split(), match.group(3)
        template = template[:match.start()] + BLOCKS[name](body, *arguments) + \
            template[match.end():]
    assert "{{" not in template, template[template.index("{{"):][:80]
    return template


# ---------------------------------------------------------------------- the corpus


@pytest.mark.parametrize("case", CASES, ids=[c.file.removesuffix(".eml") for c in CASES])
async def test_mail_through_the_gateway(gateway: Gateway, case: Case) -> None:  # noqa: F811
    client = gateway.client
    amina = await register(client, "amina")
    bakari = await register(client, "bakari", email=case.member_email)
    sent = await send(client, amina, [bakari.username], subject="Cashews")
    (notification,) = await gateway.mails(1)
    bounce = notification.mail_from
    values: dict[str, str | Callable[[], str]] = {
        **member_values(bakari.email),
        "REPLY": reply_address(parse(notification.data)), "ALIAS": bakari.alias,
        "OUTSIDER": OUTSIDER, "BOUNCE": bounce,
        "FORGED_BOUNCE": bounce[:-len("@relay.localhost") - 2] + "zz@relay.localhost"}

    raw = fill((MAIL / case.file).read_bytes().decode("utf-8"), values).encode(
        "utf-8", "surrogateescape")
    sender = str(values.get(case.sender, case.sender))
    code, reply = await gateway.deliver(sender, [str(values[case.to])], raw)
    assert code == case.code, reply
    assert bakari.email not in reply and "@" not in reply.replace("@relay.localhost", "")

    store = gateway.app[CORE].stores
    bakari_id = await member_id(gateway, bakari)
    status = await gateway.app[NOTIFICATIONS].notification_status(bakari_id)
    notices = [n.kind for n in status.notices]
    messages = await store.db.fetchval("SELECT COUNT(*) FROM messages")
    expected_mails = 2 if case.outcome in ("reply", "external") else 1
    expected_mails += 1 if case.removed else 0  # the member is told what was removed
    mails = await gateway.mails(expected_mails)
    assert len(mails) == expected_mails
    own = [bakari.email]

    if case.outcome == "reply":
        resp = await client.get(f"/api/v1/threads/{sent['thread_id']}", headers=amina.auth)
        raw_json = await resp.read()
        last = (await resp.json())["messages"][-1]
        assert last["from"]["username"] == "bakari" and last["in_reply_to"] == sent["id"]
        (to_amina,) = [m for m in mails[1:] if m.rcpt_tos == [amina.email]]
        assert bakari.email.encode() not in to_amina.data
        assert bakari.email.encode() not in raw_json.lower()
        # Not only as spelled: in no form the scrubber knows, decoded every way it can be.
        assert not mentions_address(raw_json, own)
        assert not mentions_address(to_amina.data, own)
        for attachment in last["attachments"]:
            resp = await client.get(f"/api/v1/messages/{last['id']}/attachments/"
                                    f"{attachment['n']}", headers=amina.auth)
            assert resp.status == 200
            content = await resp.read()
            assert not mentions_address(content, own), attachment["filename"]
            if attachment["filename"] in [fill(n, values) for n in case.rewritten]:
                assert bakari.alias.encode() in content, content[:2000]
    elif case.outcome in ("external", "quiet"):
        assert messages == 2
        page = await (await client.get("/api/v1/messages", headers=bakari.auth)).json()
        newest = page["messages"][0]
        assert newest["from"]["external"] is True
        resp = await client.get(f"/api/v1/messages/{newest['id']}", headers=bakari.auth)
        last = await resp.json()
        # The address they wrote from is shown to the member they wrote to, in `from`
        # only: scrubbed from everything they wrote.
        assert last["from"]["address"] == OUTSIDER
        assert OUTSIDER not in json.dumps({**last, "from": {**last["from"], "address": ""}})
        if case.outcome == "external":
            assert mails[1].rcpt_tos == [bakari.email] and OUTSIDER.encode() not in mails[1].data
    else:
        assert messages == 1
        last = None
    if last is not None:
        for text in case.contains:
            assert fill(text, values) in last["body"], last["body"]
        for text in case.absent:
            assert fill(text, values) not in last["body"], last["body"]
        assert len(last["attachments"]) == case.attachments
        if case.kept is not None:
            assert [a["filename"] for a in last["attachments"]] == [
                fill(n, values) for n in case.kept]
        for name in case.removed:
            assert REMOVED_NOTICE.format(fill(name, values)) in last["body"], last["body"]
        if case.subject is not None:
            assert last["subject"] == fill(case.subject, values)
    if case.removed:
        assert any(m.rcpt_tos == [bakari.email] for m in mails[1:])

    expected_notices = {"hard": ["hard_bounce"], "soft": ["soft_bounce"]}.get(case.outcome, [])
    if case.outcome == "refused" and case.to == "REPLY":
        expected_notices = ["reply_refused"]
    if case.file == "reply_with_outside_cc.eml":
        expected_notices = ["cc_not_mailed"]
    if case.removed:
        expected_notices = ["parts_removed"]
    if case.file == "bounce_address_gets_an_auto_reply.eml":
        expected_notices = ["auto_reply"]  # counted: a loop of them pauses notifications
    assert notices == expected_notices
