"""Email addresses and web addresses in normalised text.

Every pattern here runs on text that `contacts.normalise` prepared (ASCII look-alikes, "[at]"
already "@"), uses bounded repetition only, and never nests a quantifier over a class that the
next part could also match, so a hostile 20,000-character text costs linear time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Span = tuple[str, int, int]

# Top-level domains seen in trade listings. Words that end sentences or abbreviations
# ("no", "st", "to", "is", "do", "so", "am", "ltd") are left out on purpose: "Art.no" and
# "Co.Ltd" are not web addresses, and neither are file names such as "spec.md" or "a.zip".
_TLDS = sorted("""
    com net org info biz edu gov int mil co io me us uk de fr es it nl be ch at pl pt br mx ar cl
    pe cn hk tw sg my th vn id ph in pk bd lk np ae sa qa kw om bh tr eg ma dz tn ng ke za gh tz ug
    rw et cm ci sn ru ua kz by jp kr au nz ca eu asia ie se dk fi gr ro hu cz sk bg hr si rs ir iq
    jo lb il ve uy py bo ec cr pa gt cu mu mz zm zw ao bj tg ml bf ne ly sd uz az ge mn kh la mm
    shop store online site tech trade global app dev xyz top club website company group link live
    world today farm coffee wine solutions services supply agency express market africa ee lv lt
    md al ba mk cy mt lu li is af ps ye jm tt hn sv ni fj tv cc fm gg nu ws ai mg mw na bw ls cd
    ga gm lr sl re pro mobi travel digital media design studio agro bio eco energy green network
    systems industries international ventures holdings enterprises trading fashion clothing shoes
    jewelry furniture tools parts equipment engineering construction properties auto cars tires
    delivery shipping cafe organic florist garden healthcare clinic pharmacy vip ngo nyc london
    berlin paris dubai gl gd tk
""".split(), key=len, reverse=True)
TLD = "(?:" + "|".join(_TLDS) + ")"
# Any other top-level domain ("studio.photography") counts only after a written "@" or "www.",
# and only in lower case, so that "acme.com.Thanks" still ends at ".com".
_ANY_TLD = r"(?-i:[a-z]{2,24})"
# Top-level domains in Cyrillic and Greek ("заказ@мёд.рф", "мёд-алтая.рф"), which are no
# words. (Chinese ones are words: a sentence that ends in one and a full stop would read
# as a domain.)
_IDN_TLD = r"(?:рф|бел|укр|срб|мкд|қаз|мон|ελ)"
_IDN_LOCAL = r"[\u0370-\u03ff\u0400-\u04ff][\w.\-]{0,63}"
_FILE_EXTENSION_TLDS = frozenset({"py", "rs", "pl", "sh", "ml"})
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
# A dot in a domain, as a word: English ("dot", "d0t"), Spanish and Italian, French, German
# and Scandinavian, Portuguese, Turkish, Dutch, Polish, Czech, Romanian, Russian and Greek.
DOT_WORDS = (r"d[o0]t|punto|point|punkt|ponto|nokta|punt|kropka|tečka|tecka|punct|точка|tochka|"
             r"τελεία")
_DOT = rf"(?:\.|[ \t]\.[ \t]|[ \t]+(?:{DOT_WORDS})[ \t]+)"
# Words that can only mean "@": no cue is needed before "sales arroba acme punto es". "At the
# rate" is how "@" is read out in India; "chiocciola" in Italy, "apenstaartje" in the
# Netherlands, "zavináč" in Czechia, "παπάκι" in Greece.
ONLY_AT_WORDS = (r"at[ \t]+the[ \t]+rate(?:[ \t]+of)?|arroba|aroba|arobase|chiocciola|ät|strudel|"
                 r"klammeraffe|małpa|malpa|собака|sobaka|snabel-a|kukac|apenstaartje|zavináč|"
                 r"zavinac|παπάκι")
AT_WORDS = rf"{ONLY_AT_WORDS}|at|chez"
# A space after "@" or on both sides; "Telegram @acme.tex" (a space before only) is a handle.
_AT = rf"(?:@[ \t]?|[ \t]@[ \t]|[ \t]+(?:{AT_WORDS})[ \t]+)"
# After an "@" even a spaced dot is the domain's: "sales@acme. com", "sales@acme .com".
_EMAIL_DOT = rf"(?:\.(?:[ \t](?=[a-z]))?|[ \t]\.[ \t]?|{_DOT})"
_ONLY_AT = re.compile(rf"[ \t]*(?:{ONLY_AT_WORDS})[ \t]*", re.IGNORECASE)
_LOCAL_PART = r"[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}"
# "liquidation dot deals at gmail dot com": the dots of the name may be words too.
_LOCAL = rf"{_LOCAL_PART}(?:[ \t]+(?:{DOT_WORDS})[ \t]+{_LOCAL_PART}){{0,3}}"

# After an "@" a domain may be internationalised ("café-do-cerrado.com"): the "@" says enough.
_IDN_LABEL = r"[^\W_](?:[\w\-]{0,61}[^\W_])?"
_EMAIL = re.compile(rf"(?<![A-Za-z0-9._%+\-])(?P<local>{_LOCAL}){_AT}"
                    rf"(?P<domain>(?:{_IDN_LABEL}{_EMAIL_DOT}){{1,4}}{TLD})(?![A-Za-z0-9\-/])",
                    re.IGNORECASE)
# The characters of a URL's path as RFC 3986 has them (no brackets, which close prose).
_URL_CHARS = r"[A-Za-z0-9\-._~:/?#@!$&*+,;=%]"
_SCHEME_URL = re.compile(rf"\b(?:https?|hxxps?|ftp)[ \t]?:[ \t]?//{_URL_CHARS}{{1,300}}",
                         re.IGNORECASE)
_DOMAIN = re.compile(rf"(?<![A-Za-z0-9@.\-])(?<!live:)(?P<www>www{_DOT})?"
                     rf"(?P<labels>(?:{_LABEL}{_DOT}){{1,4}})(?P<tld>{TLD})(?![A-Za-z0-9\-])"
                     rf"(?P<path>/{_URL_CHARS}{{0,200}})?",
                     re.IGNORECASE)
_PLAIN_EMAIL = re.compile(rf"(?:(?<![A-Za-z0-9._%+\-]){_LOCAL_PART}|(?<![\w.%+\-]){_IDN_LOCAL})"
                          rf"@(?:{_IDN_LABEL}\.){{1,4}}(?:{_ANY_TLD}|{_IDN_TLD})(?![\w\-/])",
                          re.IGNORECASE)
_IDN_DOMAIN = re.compile(rf"(?<![\w.@\-])(?:{_IDN_LABEL}\.){{1,3}}{_IDN_TLD}(?![\w\-])")
_WWW_DOMAIN = re.compile(rf"(?<![A-Za-z0-9@.\-])www\.(?:{_LABEL}\.){{1,4}}{_ANY_TLD}"
                         rf"(?![A-Za-z0-9\-])(?:/{_URL_CHARS}{{0,200}})?", re.IGNORECASE)
# "www xyz-group com": the dots left out; only with a top-level domain that is no word.
_WWW_SPACED = re.compile(
    r"(?<![A-Za-z0-9@.\-])www[ \t]+(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?[ \t]+){1,3}"
    r"(?:com|net|org|biz|info|cn|uk|ru|vn|tr|br|mx|pk|ng|ke|za|ae|hk|tw|sg|th|ph|bd|lk|eg|eu|"
    r"asia|ir|pl|ua|kz|sa|qa|kw|om|ma|tn|dz)(?![A-Za-z0-9\-])", re.IGNORECASE)
_WORD_DOT = re.compile(rf"[ \t]+(?:{DOT_WORDS})[ \t]+", re.IGNORECASE)

# Words that come before " at " in prose ("visit us at acme.com", "we are at your service"):
# with them the " at " is English, not an obfuscated "@".
PROSE_BEFORE_AT = frozenset("""
    us me him her them it we you they here there online available visit visiting located
    find found reach contact write sold listed based shop store buy order booth stand hall is
    are am was be look see price prices rate cost quote photos pictures images details
    catalogue catalog brochure list products range website site
""".split())
# Words that come before " dot " in prose ("polka dot", "the dot com era"), and before the
# word for "point" in French, Spanish, Italian, Portuguese, German and Dutch ("au point de
# vente", "el punto de venta", "il punto di forza", "der Punkt", "het punt").
_PROSE_BEFORE_DOT = frozenset("""
    the a an polka per one each every this that our your
    le la les l au aux du des un une ce cet cette mon ton son notre votre leur bon meilleur
    el los las del al este esta ese esa su mi tu nuestro nuestra otro buen mejor
    il lo gli uno della dello dal nel questo quel nostro
    o os as um uma do da no na pelo pela nosso nossa este
    der die das dem den ein eine einen einem kein keinen jeder
    de het een elk ons
""".split())


# "My gmail id is onp.buyer.delhi", "Email ID: rajesh_exports": an address without its domain.
_PROVIDER_ID = re.compile(
    r"\b(?:g-?mail|yahoo|ymail|hotmail|outlook|rediff(?:mail)?|icloud|proton(?:mail)?|aol|gmx|"
    r"yandex|e-?mail)(?:[ \t]+(?:id|address|account))?[ \t]*(?:is[ \t]+|[:=\-][ \t]*|"
    # with no ":" the id must look like one: "gmail kinnow.buyer786", never "gmail users.Our"
    r"[ \t]+(?=[A-Za-z0-9_%+\-]{1,40}(?-i:\.[a-z0-9_%+\-]{1,40}){0,3}(?![\w.@])))"
    r"(?P<local>[A-Za-z0-9][A-Za-z0-9._%+\-]{2,63})(?![@A-Za-z0-9])", re.IGNORECASE)


# "acme.sales@gmail", "lina@yahoo": a mailbox provider's name needs no top-level domain.
_AT_PROVIDER = re.compile(
    rf"(?<![A-Za-z0-9._%+\-]){_LOCAL_PART}@[ \t]?(?:g-?mail|googlemail|yahoo|ymail|hotmail|"
    r"outlook|rediffmail|icloud|protonmail|proton|aol|gmx|yandex|mail\.ru|naver|daum|libero|"
    r"wanadoo|laposte|web\.de|t-online|seznam|onet|interia|bigpond|sify|zoho)"
    r"(?![\w\-]|\.[A-Za-z0-9])", re.IGNORECASE)


# "info#acme.com (replace # with @)", "sales*acme.com, * = @": a stand-in for "@", named by
# the text itself; "#" needs no such note where it sits in an address's place.
_STAND_IN_NOTE = re.compile(
    r"(?:replace|change|swap|substitute|use)[ \t]+(?:the[ \t]+)?[\"'“‘(\[]?(?P<a>[^\w\s@])"
    r"[\"'”’)\]]?"
    r"[ \t]+(?:with|by|to|for|into|as)[ \t]+(?:an?[ \t]+)?[\"'“‘(\[]?@|"
    r"(?<![^\s(\[,;])(?P<b>[^\w\s@=])[ \t]*(?:=|means|is)[ \t]*@", re.IGNORECASE)
_STAND_IN = (r"(?<=[A-Za-z0-9._\-]){}(?=[A-Za-z0-9][A-Za-z0-9\-]{{1,61}}"
             r"(?:\.[A-Za-z0-9\-]{{1,63}}){{0,3}}\.{})")


def stand_ins_for_at(text: str) -> Iterator[tuple[int, int, str]]:
    """Edits that put "@" where a local part and a domain are joined by its stand-in."""
    marks = {m.group("a") or m.group("b") for m in _STAND_IN_NOTE.finditer(text)}
    if "#" in text:
        marks.add("#")
    for mark in marks:
        for match in re.finditer(_STAND_IN.format(re.escape(mark), TLD), text, re.IGNORECASE):
            yield match.start(), match.end(), "@"


# "mail me at the rate kinnow.buyer786 gmail": an id, then its provider, after a word for mail.
_ID_THEN_PROVIDER = re.compile(
    r"(?<![\w.@])(?P<local>[A-Za-z0-9][A-Za-z0-9_%+\-]{1,40}(?-i:\.[a-z0-9_%+\-]{1,40}){0,3})"
    r"[ \t]+(?:on[ \t]+|at[ \t]+|@[ \t]*)?(?:g-?mail|yahoo|ymail|hotmail|outlook|rediffmail)\b"
    r"(?:[ \t]?(?:\.|[ \t]dot[ \t])[ \t]?(?:com|co\.in|co\.uk|in|fr|de)\b)?"
    r"(?![ \t]*(?:\.\w|dot\b))", re.IGNORECASE)
_MAIL_WORD = re.compile(r"\b(?:e-?mail|mail|gmail|at[ \t]+the[ \t]+rate|courriel|correo)\b|@",
                        re.IGNORECASE)


def find_forms(text: str) -> list[Span]:
    """Every email address and web address in `text`."""
    return [*_emails(text), *_provider_ids(text), *_ids_then_provider(text),
            *_web_addresses(text)]


def _ids_then_provider(text: str) -> Iterator[Span]:
    for match in _ID_THEN_PROVIDER.finditer(text):
        local = match.group("local")
        if any(c.isdigit() or c in "._" for c in local) and any(c.isalpha() for c in local) and \
                _MAIL_WORD.search(text, max(0, match.start() - 25), match.start()):
            yield "email", match.start(), match.end("local")


def _provider_ids(text: str) -> Iterator[Span]:
    for match in _PROVIDER_ID.finditer(text):
        local = match.group("local").rstrip(".-")
        provider = match.group().split(None, 1)[0].lower()
        if provider.startswith(("e-mail", "email")) and " id" not in match.group().lower():
            continue  # "Email: sales" is a word; "Email ID: sales_1" is an address
        if any(c.isdigit() or c in "._" for c in local) and any(c.isalpha() for c in local):
            yield "email", match.start("local"), match.start("local") + len(local)


def _emails(text: str) -> Iterator[Span]:
    if "@" not in text and not re.search(rf"\b(?:{AT_WORDS})\b", text, re.IGNORECASE):
        return
    for match in _EMAIL.finditer(text):
        at = text[match.end("local"):match.start("domain")]
        # "contact arobase societe point fr": a word that can only mean "@" is never prose.
        if "@" not in at and not _ONLY_AT.fullmatch(at) and not _worded_email(text, match):
            continue
        if not _plausible_domain(match.group("domain")):
            continue
        yield "email", match.start(), match.end()
    for match in _PLAIN_EMAIL.finditer(text):
        yield "email", match.start(), match.end()
    for match in _AT_PROVIDER.finditer(text):
        yield "email", match.start(), match.end()


# What comes before "name at domain dot com" when it is an address ("Email: …", "write to …").
_EMAIL_CUE = re.compile(
    r"(?:^|[:：(\[,;\-–—>\"'“”«»]|\b(?:e-?mail|mail|courriel|correo|contact|contacto|contactez|kontakt|"
    r"write|écrivez|escriba|escríbanos|escreva|schreiben|to|à|a|an|at|para|pour|us|uns|nous|me|"
    r"reply|answers|enquiries|orders|quotes|questions|pepe|tuandikie|yazın|e-posta|courriel)"
    r"|[^\x00-\x7f])[ \t]*$", re.IGNORECASE)


def _worded_email(text: str, match: re.Match[str]) -> bool:
    """Is "sales at acme dot com" an address, or prose ("price list at acme dot com")?"""
    local = match.group("local").rstrip(".")
    if local.lower() in PROSE_BEFORE_AT or match.group("domain").lower().startswith("www"):
        return False
    if any(c in local for c in "._+-") or any(c.isdigit() for c in local):
        return True
    return bool(_EMAIL_CUE.search(text, max(0, match.start() - 20), match.start()))


def _plausible_domain(domain: str) -> bool:
    """A worded domain ("gmail dot com") must not start with a prose word ("the dot com")."""
    first = _WORD_DOT.split(domain, maxsplit=1)
    return len(first) == 1 or first[0].strip().lower() not in _PROSE_BEFORE_DOT


def _web_addresses(text: str) -> Iterator[Span]:
    for match in _SCHEME_URL.finditer(text):
        yield "url", match.start(), match.start() + len(match.group().rstrip(".,;:!?"))
    for match in _DOMAIN.finditer(text):
        if _is_domain(match) and not _webmail(match):
            end = match.end()
            if match.group("path"):
                end = match.start("path") + len(match.group("path").rstrip(".,;:!?)"))
            yield ("email" if _mailbox_as_host(match) else "url"), match.start(), end
    for match in _WWW_DOMAIN.finditer(text):
        yield "url", match.start(), match.start() + len(match.group().rstrip(".,;:!?)"))
    for match in _WWW_SPACED.finditer(text):
        yield "url", match.start(), match.end()
    for match in _IDN_DOMAIN.finditer(text):
        yield "url", match.start(), match.end()


# A mailbox provider's own name ("we do not accept gmail.com addresses") is no one's contact.
_WEBMAIL = frozenset("""gmail.com googlemail.com yahoo.com ymail.com hotmail.com outlook.com
    live.com msn.com aol.com icloud.com qq.com 163.com 126.com sina.com yeah.net rediffmail.com
    mail.ru yandex.ru gmx.de gmx.net web.de proton.me protonmail.com""".split())


def _webmail(match: re.Match[str]) -> bool:
    return not (match.group("www") or match.group("path")) and \
        _WORD_DOT.sub(".", match.group()).replace(" ", "").lower() in _WEBMAIL


# Hosts of a mailbox provider's own: "mail.yahoo.com" is a web address.
_PROVIDER_HOSTS = frozenset("www mail login accounts m web signin smtp imap pop outlook".split())


def _mailbox_as_host(match: re.Match[str]) -> bool:
    """Is "bamboo.eco.gmail.com" an address whose "@" was written as a dot? Mailbox providers
    give no one a host of their own."""
    labels = _WORD_DOT.sub(".", match.group()).replace(" ", "").lower().split(".")
    return len(labels) >= 3 and ".".join(labels[-2:]) in _WEBMAIL and \
        labels[-3] not in _PROVIDER_HOSTS and not match.group("path")


def _is_domain(match: re.Match[str]) -> bool:
    labels, tld = match.group("labels"), match.group("tld")
    if not _plausible_domain(labels + tld):
        return False
    if match.group("www") or match.group("path"):
        return True
    # "India.It is" and "Pvt.Ltd" are sentences and abbreviations, not domains: a bare
    # domain is written in lower case (or all in capitals).
    domain = labels + tld
    if not (tld.islower() or domain.isupper()):
        return False
    # "main.py", "lib.rs": a file name, unless written as a domain ("acme.com.py").
    if tld.lower() in _FILE_EXTENSION_TLDS and labels.count(".") < 2:
        return False
    if _run_on(match) or _worded_prose(match):
        return False
    return not all(label.strip(" .").isdigit() for label in re.split(r"\.", labels) if label)


# Top-level domains that are words ("garden", "tools", "top"): "hand tools.garden tools" is
# a list whose full stops lost their spaces, not a web address.
_WORD_TLDS = frozenset(t for t in _TLDS if len(t) > 2) - {
    "com", "net", "org", "edu", "gov", "int", "mil", "biz", "info", "xyz", "asia", "mobi", "nyc"}
_WEB_CUE = re.compile(r"\b(?:visit|site|website|web|online|url|link|see|at|on|www|order|buy|"
                      r"check|find|follow|go|browse|us)\b|[:🌐👉]", re.IGNORECASE)
_PROSE_BEFORE = re.compile(r"[a-z][ \t]+$")
_PROSE_AFTER = re.compile(r"[ \t]+[a-z]")


# Top-level domains that are also short words of French, Spanish, Italian, Portuguese or
# English ("point de vente", "punto de equilibrio", "dot in the middle").
_FUNCTION_WORD_TLDS = frozenset("de da do di es it in at be me us se si na ma il al la".split())


def _worded_prose(match: re.Match[str]) -> bool:
    """Is "X point de Y" prose: a dot written as a word, then a short word and more prose?"""
    text, tld = match.string, match.group("tld").lower()
    if tld not in _FUNCTION_WORD_TLDS or not _WORD_DOT.search(match.group("labels")):
        return False
    before = text[max(0, match.start() - 30):match.start()]
    return not _WEB_CUE.search(before) and _PROSE_AFTER.match(text, match.end()) is not None


def _run_on(match: re.Match[str]) -> bool:
    """Is a bare "word.word" between two words of prose, with no word that announces a site?"""
    name, tld, text = match.group("labels").rstrip(" .\t"), match.group("tld"), match.string
    if tld.lower() not in _WORD_TLDS or not (name.isalpha() and name.islower()):
        return False
    before = text[max(0, match.start() - 30):match.start()]
    return not _WEB_CUE.search(before) and _PROSE_BEFORE.search(before) is not None and \
        _PROSE_AFTER.match(text, match.end()) is not None
