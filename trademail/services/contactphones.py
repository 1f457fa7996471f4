"""Phone numbers in normalised listing text: found by shape, confirmed with phonenumbers.

Listing texts are full of numbers that are not phone numbers (HS codes, SKUs, lots, dates,
quantities, prices). A run of digits counts as a phone number only when phonenumbers finds it
valid (with its international prefix, or in the member's country or a major trading region)
and nothing around it says it is something else: a unit or currency next to it, a label such
as "No." right before it, a shape no phone number is written in ("8.000-12.000", "40/80/160"),
or a word such as "HS", "Lot" or "Invoice" closer to it than any word such as "Tel" or
"WhatsApp". After "+", or right after such a word, a number phonenumbers does not know but
that has a phone number's length counts too ("+1 555 123 4567").

phonenumbers' own PhoneNumberMatcher was measured against this on the labelled corpus at
every Leniency (benchmarks/contact_detector.py): at POSSIBLE most of what it finds is not a
phone number, and at VALID and stricter it both misreads HS codes and quantities and misses
spaced, spelled and broken numbers. The VALID test is kept, per candidate, by `_reading`.

Also here: `region_code`, which reads a member's country as phonenumbers needs it.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterator

import phonenumbers
from phonenumbers.geodata.locale import LOCALE_DATA

Span = tuple[str, int, int]

# Where "0803 555 1234" is tried when the member's own country does not make it valid.
MAJOR_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "CN", "HK", "SG", "AE", "SA",
                 "TR", "NG", "KE", "ZA", "BR", "MX", "RU", "JP", "KR", "VN", "BD", "PK", "EG",
                 "ID", "TH", "MY")

# Digits joined by at most three separator characters: "+49 (0)30 1234-567", "0 8 0 0 1 2",
# and "0712\n345\n678", a number broken over lines (which counts only after "Tel" or such).
_CANDIDATE = re.compile(r"(?<![\w+\-./])(?:\+[ \t]?|\()?\d(?:[ \t\-./()\r\n]{0,3}\d){6,19}(?!\d)")
# A long run is split where a wider gap, a line break or " / " separates two numbers.
_GAP = re.compile(r"[ \t]*/[ \t]*|[ \t]{2,}|[ \t]+-[ \t]+|[ \t]+\((?!0\))|[ \t]*\r?\n[ \t]*")
_DATE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-](?:19|20)?\d\d|(?:19|20)\d\d[./-]\d{1,2}[./-]\d{1,2}"
                   r"|(?:19|20)\d\d[ \t]?[-/.][ \t]?(?:19|20)?\d\d"
                   # "01 03 2026", "2025 2026 2027"
                   r"|\d{1,2}[ \t]\d{1,2}[ \t](?:19|20)\d\d|(?:19|20)\d\d(?:[ \t]+(?:19|20)\d\d)+")

# The words that tell what a number is stand in its own sentence.
_SENTENCE_END = re.compile(r"(?<=\S)[.;!?。][ \t]+(?=[^\W\d_])|[;!?。]|(?<![:：])\n")
# "no. 4471", "Tel. 0203", "USt-IdNr. DE 123": a full stop after these ends no sentence.
_ABBREVIATIONS = frozenset("no nr nº tel ph art ref reg ca approx inc ltd co st idnr ust-idnr "
                           "mob fax gr vs cf".split())
# "2024/55871", "2024-0058": numbered by year, a file or order reference.
_REFERENCE = re.compile(r"(?:19|20)\d\d[ \t]?[/-]")
_CUE = re.compile(
    r"(?:\b(?:tel|t[eé]l|tlf|tlfn|tfno|telf|telp|phone|ph|mob|mobile|mobil|m[oó]vil|cell|cel|"
    r"celular|cellulare|portable|handy|fax|faks|call|ring|text|sms|whats[ \t]?app|whats|wa|wapp|"
    r"zap|viber|signal|telegram|botim|zalo|wechat|weixin|appelez|appeler|llame|ll[aá]menos|llamar|chiama(?:re|ci)?|ligue|"
    r"liga|rufen|anrufen|contact|contactez|contacto|contato|contatto|cont[aá]ctenos|kontakt|"
    r"kontak|hubungi|hp|gsm|iletişim|irtibat|hotline|simu|piga|tupigie|aray[ıi]n|cep|telefon|"
    r"tel[eé]fono|telefone|fone|helpline|dial|reach|joignable|mobile/whatsapp)\b|電話|电话|手机|"
    r"手機|座机|热线|联系|聯繫|هاتف|جوال|موبايل|تليفون|واتساب|للتواصل|اتصل|☎|📞|📱|"
    r"\b(?:my|our|his|her|mon|notre|mi|nuestro|meine|unsere)[ \t]+"
    r"(?:number|num[eé]ro|número|nummer)\b)"
    # "Mob. No.", "Phone number", "WhatsApp #": the label of a phone number, not a reference.
    r"(?:[ \t./:]{0,3}(?:(?:no|nr|n[º°o]|num|number|numero|número|numéro|nummer)\b\.?|#))?",
    re.IGNORECASE)
_NOT_PHONE = re.compile(
    r"(?:\b(?:hs|h\.s\.?|hs-code|hsn|hts|ncm|gtip|taric|code|codes|c[oó]digo|codice|kod|kodu|"
    r"tariff|tarif|zolltarifnummer|sku|item|items|ref|reference|r[eé]f[eé]rence|referencia|art|"
    r"artikel|artikelnummer|teilenummer|art\.-nr|part|p/n|pn|oem|model|models|modelo|mod[eè]le|type|series|seri|"
    r"version|rev|drawing|dwg|lot|lots|lote|lotto|batch|charge|parti|po|order|orden|ordine|"
    r"pedido|commande|auftrag|bestellung|sipari[sş]|invoice|factura|facture|fatura|rechnung|"
    r"contract|contrat|contrato|ean|gtin|upc|isbn|asin|barcode|container|b/l|bl|awb|booking|"
    r"tracking|voyage|seal|cas|iso|en|din|astm|iec|gb/t|une|reg|registration|registro|registered|"
    r"vat|tva|iva|p\.[ \t]?iva|partita|rea|ust-idnr|gst|gstin|tin|ein|eori|cr|cin|pan|fssai|"
    r"udyam|mersis|vergi|sicil|vkn|tckn|uen|abn|acn|ntn|strn|npwp|nit|rfc|rut|cuit|cuil|fda|licen[cs]e|licencia|leseni|permit|certificate|"
    r"cert|certificat|certificado|zertifikat|report|iban|swift|bic|account|a/c|konto|tender|"
    r"tenders|licitaci[oó]n|ausschreibung|serial|s/n|imei|size|sizes|taille|talla|"
    r"gr[oö](?:ß|ss)e|hrb|siret|siren|cnpj|cpf|ruc|nif|cif|rc|ice|date|dated|fecha|datum|weight|"
    r"capacity|total|toplam|quantity|qty|tani|mesh|nr\.?[ \t]*de[ \t]*lote|waybill|consignment|"
    r"docket|parcel|zip|post[ \t]?code|postal|pin[ \t]?code|plz|cep|mmsi|eta|etd|ids|pallet|"
    r"pallets|cmyk|rgb|pantone|инн|огрн|кпп|окпо|гост|бик|снилс|αφμ)"
    r"\b|〒|邮编|编号|批号|订单|单号|运单|合同|货号|证书|日期|型号|الشهادة|شهادة|الدفعة|التسجيل|"
    r"السجل|الضريبي|رقم[ \t]+الطلب)", re.IGNORECASE)
# "No. 2234567890", "Nr. 4711", "# 4500123": a numbered reference, unless a phone word
# owns the label ("Mob. No.", which _CUE reads whole).
# A lower-case "no" without a stop is a word in Portuguese, Spanish and Italian ("falar no").
_NUMBER_LABEL = re.compile(r"(?P<label>\b(?:[Nn]o\.|No|NO|[Nn]r\b\.?|[Nn][º°]\.?|[Nn]os\.|"
                           r"[Nn]um\.)|#)[ \t]*[:.]?[ \t]*$")
# Shapes no one writes a phone number in, unless a word says it is one: quantities
# ("8.000-12.000", "1,250,000"), lists ("40/80/160"), tariff codes ("0901.11.10"),
# Brazilian postal codes ("01310-200"), standards by year ("Codex Stan 247-2005") and
# Bosch-style part numbers ("0 280 158 827").
_QUANTITY = r"[1-9]\d{0,2}(?:[.,]\d{3})+"
_OTHER_SHAPE = re.compile(rf"{_QUANTITY}(?:[ \t]?[-–][ \t]?{_QUANTITY})?|\d{{4}}\.\d{{2}}"
                          r"(?:\.\d{2})?|\d{5}-\d{3}|[1-9]\d{0,3}(?:/\d{1,4})+|"
                          r"\d{1,5}[-:](?:19|20)\d\d|0(?:[ \t]\d{3}){3}")
# The currencies of the marketplace's trading regions, by their ISO 4217 codes.
_CURRENCIES = ("usd|eur|gbp|chf|inr|aed|cny|rmb|jpy|krw|vnd|idr|thb|myr|php|sgd|hkd|twd|pkr|bdt|"
               "lkr|npr|sar|qar|kwd|omr|bhd|egp|mad|dzd|tnd|ngn|ghs|kes|tzs|ugx|etb|zar|xof|xaf|"
               "fcfa|cfa|brl|mxn|ars|clp|cop|pen|try|rub|uah|kzt|pln|czk|huf|ron|sek|nok|dkk|"
               "aud|nzd|cad|rs")
_UNIT_AFTER = re.compile(
    r"[ \t]*(?:[x×*%‰°]|(?:kgs?|g|mt|t|tons?|tonnes?|tonnen|toneladas?|lbs?|pcs|pieces|piezas|"
    r"pi[eè]ces|st[uü]ck|stk|units?|unidades|unit[eé]s|einheiten|cartons?|cajas|kartons|bags?|"
    r"sacs?|sacos|sacas|s[aä]cke|boxes|pallets?|pal[eé]s|paletten|sets?|pairs?|pares|paires|m|mm|"
    r"cm|km|m2|m3|l|ml|ft|feet|yards?|usd|eur|euros?|years?|ans|jahre|a[nñ]os|days?|jours|tage|"
    r"d[ií]as|hours?|heures|stunden|horas|hrs?|h|w|kw|kwh|v|hz|rpm|gsm|bottles?|bouteilles|"
    rf"flaschen|botellas|gal|gallons?|adet|koli|ton|qtl|litres?|liters?|cbm|{_CURRENCIES})\b|"
    r"[$€£¥₹₦₩₫₱₺₽₴₪]|طن|كغ|吨|件|箱)",
    re.IGNORECASE)
# "IMO 9321483": a ship's number (seven digits), where "imo 01712 345678" is the messenger;
# only right before a number does "imo" name the messenger.
_VESSEL = re.compile(r"\bIMO[ \t:#.]*(?:no\.?|number)?[ \t:#.]*$", re.IGNORECASE)
_IMO = re.compile(r"\bimo[ \t]*[:=\-]?[ \t]*$", re.IGNORECASE)
_CURRENCY_BEFORE = re.compile(
    rf"(?:\b(?:us\$|r\$|tl|{_CURRENCIES})|[$€£¥₹₦₩₫₱₺₽₴₪])[ \t]*$", re.IGNORECASE)


def find_phones(text: str, region: str) -> Iterator[Span]:
    """Phone numbers in `text`, read with `region` (the member's country, may be "") first."""
    regions = ((region,) if region else ()) + tuple(r for r in MAJOR_REGIONS if r != region)
    for match in _CANDIDATE.finditer(text):
        # A valid reading of a piece beats a merely possible reading of the whole:
        # "+85251261199 (24/7)" is the number before the brackets.
        best: tuple[int, int, int] = (0, 0, 0)
        for start, end in _pieces(text, match.start(), match.end()):
            grade = _phone_grade(text, start, end, region, regions)
            if grade > best[0]:
                best = (grade, start, end)
            if grade == 2:
                break
        if best[0]:
            yield "phone", best[1], best[2]


def _pieces(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The candidate itself, then its parts between wide gaps ("0803 555 1234 (24/7)")."""
    if sum(c.isdigit() for c in text[start:end]) <= 15:
        yield start, end
    at = start
    for gap in _GAP.finditer(text, start, end):
        if gap.start() > at:
            yield at, gap.start()
        at = gap.end()
    if at != start:
        yield at, end


def _phone_grade(text: str, start: int, end: int, home: str, regions: tuple[str, ...]) -> int:
    """2 for a phone number, 1 for a number that could be one, 0 for none."""
    raw = text[start:end]
    if raw.startswith("(") and ")" not in raw:
        raw, start = raw[1:], start + 1
    digits = "".join(c for c in raw if c.isdigit())
    if not 7 <= len(digits) <= 15 or _DATE.fullmatch(raw.strip("()")):
        return 0
    if _UNIT_AFTER.match(text, end) or _CURRENCY_BEFORE.search(text, max(0, start - 6), start):
        return 0
    # "+255 754 123 456" says what it is, whatever else its sentence is about; so does a
    # number phonenumbers does not know but could be one ("+1 555 123 4567").
    if raw.startswith("+"):
        return _reading(digits, None)
    context = _context_before(text, start)
    if len(digits) == 7 and _VESSEL.search(text, max(0, start - 12), start):
        return 0
    if context == "not a phone" or (not context and _REFERENCE.match(raw)):
        return 0
    # Numbers on lines of their own are a list, unless "Tel" or such comes right before.
    if context != "phone" and ("\n" in raw or _OTHER_SHAPE.fullmatch(raw.strip("()")) or
                               _number_list(raw) or _thousands(raw, digits)):
        return 0
    if raw.startswith("00") and len(digits) > 10 and _reading(digits[2:], None):
        return _reading(digits[2:], None)
    if context == "phone":
        # Right after "Tel:" or "call me on" a number of a phone number's length is one.
        grade = max(_reading(digits, region) for region in regions)
        loose = _CUE.search(text, max(0, start - 25), start) is not None
        return grade if grade == 2 or loose else 0
    if home and _valid(digits, home):
        return 2
    # Elsewhere, and with nothing saying "phone": it must at least be written like one.
    written_like_a_phone = digits[0] == "0" or any(not c.isdigit() for c in raw.strip())
    return 2 * (written_like_a_phone and any(_valid(digits, r) for r in regions if r != home))


# "1 300 000 000", "2 500 000 000": thousands apart, as in much of the world.
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:[ \t]\d{3}){3,}")


def _thousands(raw: str, digits: str) -> bool:
    """An amount, unless it is a phone number with its country code ("254 712 345 678")."""
    return _THOUSANDS.fullmatch(raw) is not None and _reading(digits, None) != 2


def _number_list(raw: str) -> bool:
    """Is a run of numbers between spaces a list ("6 8 10 12 14", "35 36 37 38", "0 100 80 5")?

    Phone numbers are written in groups of two to four digits, or digit by digit; groups
    of one digit and of more mixed after a number of ten or more, or numbers that rise by
    the same step, are a list.
    """
    groups = raw.split()
    if len(groups) < 3 or not all(g.isdigit() for g in groups) or raw.startswith("00"):
        return False
    # ("zero one" read out digit by digit becomes "01": a group that starts with 0 is no amount;
    # "13123 4 3 5 9 4 7" is a number whose end was read out digit by digit)
    longer = [i for i, g in enumerate(groups) if len(g) > 1 and g[0] != "0"]
    tail = {len(g) == 1 for g in groups[longer[0] + 1:]} if longer else set()
    if tail == {True, False}:
        return True
    steps = {int(b) - int(a) for a, b in itertools.pairwise(groups)}
    return len(groups) >= 4 and groups[0][0] != "0" and len(steps) == 1 and 0 < steps.pop() <= 10


def _own_sentence(text: str, start: int) -> str:
    """Up to 60 characters before `start`, from where its sentence begins."""
    window_start = max(0, start - 60)
    for end in reversed(list(_SENTENCE_END.finditer(text, window_start, start))):
        word = text[window_start:end.start()].rsplit(None, 1)[-1:] or [""]
        if end.group()[0] != "." or word[0].lower() not in _ABBREVIATIONS:
            return text[end.end():start]
    return text[window_start:start]


def _context_before(text: str, start: int) -> str:
    """ "phone" or "not a phone" by the nearest telling word before `start`; "" for neither."""
    window = _own_sentence(text, start)
    # "pH 3.5-4.0" is acidity, not "Ph." for phone.
    cue = max((m.end() for m in _CUE.finditer(window) if not m.group().startswith("pH")),
              default=-1)
    other = max((m.end() for m in _NOT_PHONE.finditer(window)), default=-1)
    if _IMO.search(window):
        return "phone"
    label = _NUMBER_LABEL.search(window)
    if label and cue < label.end("label"):
        return "not a phone"
    if other > cue:
        return "not a phone"
    return "phone" if cue >= 0 else ""


def _valid(digits: str, region: str | None) -> bool:
    return _reading(digits, region) == 2


@functools.lru_cache(maxsize=4096)
def _reading(digits: str, region: str | None) -> int:
    """2 when `digits` are a valid number in `region` (None: they start with a country
    code), 1 when they only could be one (right length, unknown range), 0 otherwise."""
    try:
        number = phonenumbers.parse(("+" + digits) if region is None else digits, region)
    except phonenumbers.NumberParseException:
        return 0
    if phonenumbers.is_valid_number(number):
        return 2
    return int(phonenumbers.is_possible_number(number))


# ---------------------------------------------------------------- countries

_COUNTRY_ALIASES = {"uk": "GB", "usa": "US", "uae": "AE", "england": "GB", "ksa": "SA"}


def region_code(country: str) -> str:
    """The phonenumbers region for an ISO alpha-2 code or a country name; "" when unknown."""
    name = country.strip()
    if len(name) == 2 and name.isalpha() and name.upper() in phonenumbers.SUPPORTED_REGIONS:
        return name.upper()
    folded = _fold_name(name)
    return _COUNTRY_ALIASES.get(folded) or _country_names().get(folded, "")


def _fold_name(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if c.isalnum())


@functools.cache
def _country_names() -> dict[str, str]:
    """Country names in the languages phonenumbers knows ("Allemagne", "Deutschland", …)."""
    names: dict[str, str] = {}
    for code, by_language in LOCALE_DATA.items():
        if code not in phonenumbers.SUPPORTED_REGIONS:
            continue
        for name in by_language.values():
            # "*xx" means "same as the entry for language xx".
            resolved = by_language.get(name[1:], "") if name.startswith("*") else name
            if resolved and not resolved.startswith("*"):
                names.setdefault(_fold_name(resolved), code)
    return names
