"""Names that claim the marketplace or its staff are refused, however their letters are dressed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trademail.services.reserved import BRAND_TERMS, claims_staff, reserved_terms, skeleton

RELAY = "relay.trademail.example"

# (name, the trick it plays)
REFUSED = [
    ("tradestaff", "the brand itself"),
    ("TradeStaff Security Team", "the brand with role words"),
    ("Trade-Staff", "hyphenated brand"),
    ("TM Staff", "the brand's initials and a role word"),
    ("T r a d e S t a f f", "spaced-out brand"),
    ("TRADE_STAFF", "upper case and underscore"),
    ("tr4dest4ff", "leetspeak"),
    ("7r4d3$7@ff", "leetspeak with signs"),
    ("ＴｒａｄｅＳｔａｆｆ", "full-width letters"),
    ("TradeЅtaff", "Cyrillic dze for S"),
    ("ТrаdеМаil", "Cyrillic te, a, ie, em for Latin"),
    ("trädestaff", "diacritics"),
    ("tra\u0301de\u0336staff", "combining accent and strike-through"),
    ("trade\u200bstaff\u200d", "zero-width space and joiner"),
    ("trade\u00adstaff", "soft hyphen"),
    ("trade\u3164staff", "Hangul filler, a blank letter"),
    ("\u202effatsedart", "right-to-left override shows it forwards"),
    ("𝐓𝐫𝐚𝐝𝐞𝐒𝐭𝐚𝐟𝐟", "mathematical bold"),
    ("🆃🆁🅰🅳🅴🆂🆃🅰🅵🅵", "negative squared letters"),
    ("Tradesstaff", "doubled letter"),
    ("Trade Staf", "dropped repeated letter"),
    ("Tradernail", "rn for m"),
    ("TradeMaIl", "capital I for l"),
    ("Kibo Trading x TradeStaff", "the brand inside a longer name"),
    ("TradeMail Support", "the product name"),
    ("staff", "a role word"),
    ("admin", "a role word"),
    ("postmaster", "a role word"),
    ("abuse", "a role word"),
    ("supportteam", "role and filler without separators"),
    ("securityteam", "role and filler without separators"),
    ("admin2", "role word and digit"),
    ("staff01", "role word and digits that could be letters"),
    ("the-staff", "function word and role word"),
    ("Staff Support Team", "role words and filler"),
    ("Security Dept.", "abbreviation with a full stop"),
    ("Adm1n", "leetspeak role word"),
    ("АDMIN", "Cyrillic A in a role word"),
    ("ѕеcurіty", "Cyrillic look-alikes in a role word"),
    ("Ⓢⓣⓐⓕⓕ", "circled letters"),
    ("S.T.A.F.F.", "dotted initials"),
    ("r00t", "zeros for o"),
    ("$upport", "dollar for s"),
    ("Support 24/7", "role word and hours"),
    ("Support!", "trailing punctuation that could be a letter"),
    ("Suppport Team", "tripled letter"),
    ("adrnin", "rn for m in a role word"),
    ("vvebmaster", "vv for w"),
    ("Trust & Safety", "ampersand"),
    ("Customer Care Team", "filler alone"),
    ("Help Desk", "filler alone"),
    ("IT Department", "filler alone"),
    ("no-reply", "mailbox name"),
    ("do_not_reply", "mailbox name"),
    ("mailer-daemon", "mailbox name"),
    ("The Moderators", "plural role word"),
    ("Official Verification Team", "role words and filler"),
    ("Your Account Manager", "filler alone"),
    ("Équipe Sécurité", "French, with accents"),
    ("Service Clients", "French"),
    ("Trade Support", "marketplace word and role word"),
]

# Real members from many countries and scripts, and names that only brush a role word.
ALLOWED = [
    "amina", "bakari", "bob", "chen.wei", "ivan_petrov", "olu-adeyemi", "fatima.z", "kwame99",
    "nguyen.van.an", "jose-luis", "supporter", "adminkenya", "staffan", "theodore", "mood",
    "dela", "carla2", "su1", "rootsman", "modesto",
    "Acme Security Solutions",
    "Nairobi Support Services Ltd",
    "Staffordshire Ceramics",
    "Administaff Logistics",
    "Mombasa Cashew Traders",
    "Abuja Safety Equipment",
    "Kampala Trade Mall",
    "Lagos Trade Supplies",
    "Dar es Salaam Spice Co.",
    "Addis Coffee Exporters PLC",
    "Kigali Tea Traders",
    "Tata Exports Pvt Ltd",
    "Müller Maschinenbau GmbH",
    "Société Générale d'Import",
    "Çelik Tekstil A.Ş.",
    "Nguyễn Trading Co.",
    "São Paulo Café Ltda",
    "Safety First Ltd",
    "Trust Bank Ghana",
    "Teamwork Logistics",
    "Secure Freight Forwarders",
    "Postmark Couriers",
    "Rootstock Farms",
    "Moderna Imports",
    "Office Depot Kenya",
    "Cashew & <Co>",
    "上海进出口贸易有限公司",
    "深圳华强电子有限公司",
    "株式会社山田貿易",
    "삼성물산",
    "شركة الخليج للتجارة",
    "مؤسسة النور للاستيراد والتصدير",
    "ООО Ромашка",
    "АО «Северсталь»",
    "Σπύρος Εξαγωγές Α.Ε.",
    "טבע תעשיות",
    "टाटा ट्रेडिंग",
]


@pytest.mark.parametrize(("name", "trick"), REFUSED, ids=[t for _, t in REFUSED])
def test_names_claiming_the_staff_are_refused(name: str, trick: str) -> None:
    assert claims_staff(name, relay_domain=RELAY), trick


@pytest.mark.parametrize("name", ALLOWED)
def test_ordinary_names_pass(name: str) -> None:
    assert not claims_staff(name, relay_domain=RELAY)


def test_a_brand_inside_a_longer_word_is_still_the_brand() -> None:
    # Decided: it reads as the brand, so it is refused even for a genuine staffing firm.
    assert claims_staff("Global Trade Staffing", relay_domain=RELAY)


def test_the_relay_domain_names_the_marketplace() -> None:
    relay = "mx.mail.globalbazaar.co.ke"
    assert reserved_terms(relay) == BRAND_TERMS | {"globalbazaar"}
    assert reserved_terms("Relay.GlobalBazaar.Example.") == BRAND_TERMS | {"globalbazaar"}
    assert claims_staff("Global Bazaar Kenya", relay_domain=relay)
    assert claims_staff("G1obalBazaar", relay_domain=relay)
    assert not claims_staff("Global Bazaar Kenya", relay_domain=RELAY)


def test_generic_relay_labels_reserve_nothing() -> None:
    for relay in ("relay.example.com", "smtp.mail.co.uk", "relay.localhost", "10.0.0.1"):
        assert reserved_terms(relay) == BRAND_TERMS


def test_punycode_labels_are_read_as_unicode() -> None:
    assert "bucher" in reserved_terms("relay.xn--bcher-kva.example")


def test_short_relay_labels_reserve_only_whole_names() -> None:
    relay = "relay.acme.example"
    assert "acme" not in reserved_terms(relay)
    assert claims_staff("Acme Support", relay_domain=relay)
    assert claims_staff("acme", relay_domain=relay)
    assert not claims_staff("Acme Security Solutions", relay_domain=relay)
    assert not claims_staff("Acmeline Foods", relay_domain=relay)


def test_a_hyphenated_relay_label_reserves_its_whole_not_its_parts() -> None:
    relay = "mail.acme-exports.co.ke"
    assert "acmeexports" in reserved_terms(relay)
    assert claims_staff("Acme Exports Trading", relay_domain=relay)
    assert claims_staff("Exports Team", relay_domain=relay)
    assert not claims_staff("Kenya Exports Ltd", relay_domain=relay)


@pytest.mark.parametrize(("text", "expected"), [
    ("ＴｒａｄｅЅtäff", "tradestaff"),
    ("Tr4de-St@ff\u200b", "tradestaff"),
    ("Straße", "strasse"),
    ("上海 贸易", "上海贸易"),
    ("", ""),
])
def test_skeleton_is_the_likeliest_reading(text: str, expected: str) -> None:
    assert skeleton(text) == expected


@given(st.text(max_size=40))
def test_a_skeleton_is_its_own_skeleton(text: str) -> None:
    assert skeleton(skeleton(text)) == skeleton(text)


# Ways to write each letter of "tradestaff" that a reader still takes for it.
LOOKALIKES = {
    "t": "tT7+ｔ𝐭Ттᴛťţ𝘁Τ",
    "r": "rRｒ𝐫гŕř𝗿",
    "a": "aA4@ａ𝐚аАαΑäáɑ𝗮",
    "d": "dDｄ𝐝ԁďđ𝗱",
    "e": "eE3ｅ𝐞еЕéëêΕ𝗲",
    "s": "sS5$ｓ𝐬ѕЅśšꜱ𝘀",
    "f": "fFｆ𝐟ꞙƒ𝗳",
}
GAPS = [" ", "-", ".", "_", "/", "·", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",
        "\u00ad", "\u034f", "\u3164", "\u00a0", "\u2003", "\u0301", "\u0336"]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_disguise_of_the_brand_is_refused(data: st.DataObject) -> None:
    letters = [data.draw(st.sampled_from(LOOKALIKES[c])) for c in "tradestaff"]
    gaps = [data.draw(st.text(st.sampled_from(GAPS), max_size=3)) for _ in letters]
    before, after = data.draw(st.text(max_size=8)), data.draw(st.text(max_size=8))
    name = before + "".join(letter + gap for letter, gap in zip(letters, gaps, strict=True))
    assert claims_staff(name + after, relay_domain="relay.example.com"), ascii(name + after)
