"""Real-shaped mail (tests/mail/*.eml) through the real gateway, each with its expected outcome.

Placeholders in the files are filled per run: {{MEMBER}} is the recipient member's real
address ({{MEMBER_UPPER}} the same in capitals), {{REPLY}} their reply address for the thread,
{{ALIAS}} their alias, {{BOUNCE}} the VERP address of the notification they were sent,
{{FORGED_BOUNCE}} that address with a wrong signature, {{OUTSIDER}} someone outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

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
from trademail.appkeys import NOTIFICATIONS, STORE

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
         ("Can you beat this?",)),
    Case("external_reply_to_differs.eml", "ALIAS", "noreply@partner.example", 250,
         "external", ("Replies go to Olu.",)),
    Case("external_control_characters.eml", "ALIAS", "OUTSIDER", 250, "external",
         ("Terminal[2J tricks and a bell.",), ("\x1b", "\x07", "\x00"),
         subject="Bell and escape [0m"),
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


@pytest.mark.parametrize("case", CASES, ids=[c.file.removesuffix(".eml") for c in CASES])
async def test_mail_through_the_gateway(gateway: Gateway, case: Case) -> None:  # noqa: F811
    client = gateway.client
    amina, bakari = await register(client, "amina"), await register(client, "bakari")
    sent = await send(client, amina, [bakari.username], subject="Cashews")
    (notification,) = await gateway.mails(1)
    bounce = notification.mail_from
    values = {
        "MEMBER": bakari.email, "MEMBER_UPPER": bakari.email.upper(),
        "REPLY": reply_address(parse(notification.data)), "ALIAS": bakari.alias,
        "OUTSIDER": OUTSIDER, "BOUNCE": bounce,
        "FORGED_BOUNCE": bounce[:-len("@relay.localhost") - 2] + "zz@relay.localhost"}

    def fill(text: str) -> str:
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        return text

    raw = fill((MAIL / case.file).read_bytes().decode("utf-8")).encode("utf-8")
    sender = values.get(case.sender, case.sender)
    code, reply = await gateway.deliver(sender, [values[case.to]], raw)
    assert code == case.code, reply
    assert bakari.email not in reply and "@" not in reply.replace("@relay.localhost", "")

    store = gateway.app[STORE]
    bakari_id = await member_id(gateway, bakari)
    status = await gateway.app[NOTIFICATIONS].notification_status(bakari_id)
    notices = [n.kind for n in status.notices]
    messages = await store.db.fetchval("SELECT COUNT(*) FROM messages")
    mails = await gateway.mails(2 if case.outcome in ("reply", "external") else 1)
    assert len(mails) == (2 if case.outcome in ("reply", "external") else 1)

    if case.outcome == "reply":
        resp = await client.get(f"/api/v1/threads/{sent['thread_id']}", headers=amina.auth)
        raw_json = await resp.read()
        last = (await resp.json())["messages"][-1]
        assert last["from"]["username"] == "bakari" and last["in_reply_to"] == sent["id"]
        assert mails[1].rcpt_tos == [amina.email] and bakari.email.encode() not in mails[1].data
        assert bakari.email.encode() not in raw_json.lower()
    elif case.outcome in ("external", "quiet"):
        assert messages == 2
        page = await (await client.get("/api/v1/messages", headers=bakari.auth)).json()
        newest = page["messages"][0]
        assert newest["from"]["external"] is True
        resp = await client.get(f"/api/v1/messages/{newest['id']}", headers=bakari.auth)
        raw_json = await resp.read()
        last = await resp.json()
        assert OUTSIDER.encode() not in raw_json
        if case.outcome == "external":
            assert mails[1].rcpt_tos == [bakari.email] and OUTSIDER.encode() not in mails[1].data
    else:
        assert messages == 1
        last = None
    if last is not None:
        for text in case.contains:
            assert fill(text) in last["body"], last["body"]
        for text in case.absent:
            assert fill(text) not in last["body"], last["body"]
        assert len(last["attachments"]) == case.attachments
        if case.subject is not None:
            assert last["subject"] == case.subject

    expected_notices = {"hard": ["hard_bounce"], "soft": ["soft_bounce"]}.get(case.outcome, [])
    if case.outcome == "refused" and case.to == "REPLY":
        expected_notices = ["reply_refused"]
    if case.file == "reply_with_outside_cc.eml":
        expected_notices = ["cc_not_mailed"]
    assert notices == expected_notices
