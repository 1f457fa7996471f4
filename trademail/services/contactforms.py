"""Email addresses, web addresses and messenger handles in normalised text.

Every pattern here runs on text that `contacts.normalise` prepared (ASCII look-alikes, "[at]"
already "@"), uses bounded repetition only, and never nests a quantifier over a class that the
next part could also match, so a hostile 20,000-character text costs linear time.
"""

from __future__ import annotations

import bisect
import itertools
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
_TLD = "(?:" + "|".join(_TLDS) + ")"
# Any other top-level domain ("studio.photography") counts only after a written "@" or "www.",
# and only in lower case, so that "acme.com.Thanks" still ends at ".com".
_ANY_TLD = r"(?-i:[a-z]{2,24})"
_FILE_EXTENSION_TLDS = frozenset({"py", "rs", "pl", "sh", "ml"})
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
# A dot in a domain, as written or as a word: "acme . com", "acme dot com", "acme punto es".
_DOT_WORDS = r"dot|punto|point|punkt|ponto|nokta|punt|kropka|точка|tochka"
_DOT = rf"(?:\.|[ \t]\.[ \t]|[ \t]+(?:{_DOT_WORDS})[ \t]+)"
# "at the rate" is how "@" is read out in India; "chiocciola" in Italy.
_AT_WORDS = (r"at[ \t]+the[ \t]+rate(?:[ \t]+of)?|at|arroba|aroba|arobase|chez|chiocciola|ät|"
             r"strudel|klammeraffe|małpa|malpa|собака|sobaka|snabel-a|kukac")
# A space after "@" or on both sides; "Telegram @acme.tex" (a space before only) is a handle.
_AT = rf"(?:@[ \t]?|[ \t]@[ \t]|[ \t]+(?:{_AT_WORDS})[ \t]+)"
# After an "@" even a spaced dot is the domain's: "sales@acme. com", "sales@acme .com".
_EMAIL_DOT = rf"(?:\.(?:[ \t](?=[a-z]))?|[ \t]\.[ \t]?|{_DOT})"
# Words that can only mean "@": no cue is needed before "sales arroba acme punto es".
_ONLY_AT = re.compile(
    r"[ \t]*(?:arroba|aroba|arobase|chiocciola|ät|strudel|klammeraffe|małpa|malpa|собака|sobaka|"
    r"snabel-a|kukac|"
    r"at[ \t]+the[ \t]+rate(?:[ \t]+of)?)[ \t]*", re.IGNORECASE)
_LOCAL_PART = r"[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}"
# "liquidation dot deals at gmail dot com": the dots of the name may be words too.
_LOCAL = rf"{_LOCAL_PART}(?:[ \t]+(?:{_DOT_WORDS})[ \t]+{_LOCAL_PART}){{0,3}}"

# After an "@" a domain may be internationalised ("café-do-cerrado.com"): the "@" says enough.
_IDN_LABEL = r"[^\W_](?:[\w\-]{0,61}[^\W_])?"
_EMAIL = re.compile(rf"(?<![A-Za-z0-9._%+\-])(?P<local>{_LOCAL}){_AT}"
                    rf"(?P<domain>(?:{_IDN_LABEL}{_EMAIL_DOT}){{1,4}}{_TLD})(?![A-Za-z0-9\-/])",
                    re.IGNORECASE)
# The characters of a URL's path as RFC 3986 has them (no brackets, which close prose).
_URL_CHARS = r"[A-Za-z0-9\-._~:/?#@!$&*+,;=%]"
_SCHEME_URL = re.compile(rf"\b(?:https?|hxxps?|ftp)[ \t]?:[ \t]?//{_URL_CHARS}{{1,300}}",
                         re.IGNORECASE)
_DOMAIN = re.compile(rf"(?<![A-Za-z0-9@.\-])(?<!live:)(?P<www>www{_DOT})?"
                     rf"(?P<labels>(?:{_LABEL}{_DOT}){{1,4}})(?P<tld>{_TLD})(?![A-Za-z0-9\-])"
                     rf"(?P<path>/{_URL_CHARS}{{0,200}})?",
                     re.IGNORECASE)
_PLAIN_EMAIL = re.compile(rf"(?<![A-Za-z0-9._%+\-]){_LOCAL_PART}@(?:{_IDN_LABEL}\.){{1,4}}"
                          rf"{_ANY_TLD}(?![A-Za-z0-9\-/])", re.IGNORECASE)
_WWW_DOMAIN = re.compile(rf"(?<![A-Za-z0-9@.\-])www\.(?:{_LABEL}\.){{1,4}}{_ANY_TLD}"
                         rf"(?![A-Za-z0-9\-])(?:/{_URL_CHARS}{{0,200}})?", re.IGNORECASE)
# "www xyz-group com": the dots left out; only with a top-level domain that is no word.
_WWW_SPACED = re.compile(
    r"(?<![A-Za-z0-9@.\-])www[ \t]+(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?[ \t]+){1,3}"
    r"(?:com|net|org|biz|info|cn|uk|ru|vn|tr|br|mx|pk|ng|ke|za|ae|hk|tw|sg|th|ph|bd|lk|eg|eu|"
    r"asia|ir|pl|ua|kz|sa|qa|kw|om|ma|tn|dz)(?![A-Za-z0-9\-])", re.IGNORECASE)
_WORD_DOT = re.compile(rf"[ \t]+(?:{_DOT_WORDS})[ \t]+", re.IGNORECASE)

# Words that come before " at " in prose ("visit us at acme.com", "we are at your service"):
# with them the " at " is English, not an obfuscated "@".
_PROSE_BEFORE_AT = frozenset("""
    us me him her them it we you they here there online available visit visiting located
    find found reach contact write sold listed based shop store buy order booth stand hall is
    are am was be look see price prices rate cost quote photos pictures images details
    catalogue catalog brochure list products range website site
""".split())
# Words that come before " dot " in prose ("polka dot", "the dot com era").
_PROSE_BEFORE_DOT = frozenset("the a an polka per one each every this that our your".split())


# "My gmail id is onp.buyer.delhi", "Email ID: rajesh_exports": an address without its domain.
_PROVIDER_ID = re.compile(
    r"\b(?:g-?mail|yahoo|ymail|hotmail|outlook|rediff(?:mail)?|icloud|proton(?:mail)?|aol|gmx|"
    r"yandex|e-?mail)(?:[ \t]+(?:id|address|account))?[ \t]*(?:is[ \t]+|[:=\-][ \t]*|"
    # with no ":" the id must look like one: "gmail kinnow.buyer786", never "gmail users.Our"
    r"[ \t]+(?=[A-Za-z0-9_%+\-]{1,40}(?-i:\.[a-z0-9_%+\-]{1,40}){0,3}(?![\w.@])))"
    r"(?P<local>[A-Za-z0-9][A-Za-z0-9._%+\-]{2,63})(?![@A-Za-z0-9])", re.IGNORECASE)


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
        for match in re.finditer(_STAND_IN.format(re.escape(mark), _TLD), text, re.IGNORECASE):
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
    """Every email address, web address and messenger handle in `text`."""
    return [*_emails(text), *_provider_ids(text), *_ids_then_provider(text),
            *_web_addresses(text), *_messenger_handles(text)]


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
    if "@" not in text and not re.search(rf"\b(?:{_AT_WORDS})\b", text, re.IGNORECASE):
        return
    for match in _EMAIL.finditer(text):
        at = text[match.end("local"):match.start("domain")]
        if "@" not in at and (match.group("local").lower() in _PROSE_BEFORE_AT or not (
                _ONLY_AT.fullmatch(at) or _worded_email(text, match))):
            continue
        if not _plausible_domain(match.group("domain")):
            continue
        yield "email", match.start(), match.end()
    for match in _PLAIN_EMAIL.finditer(text):
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
    if local.lower() in _PROSE_BEFORE_AT or match.group("domain").lower().startswith("www"):
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
            yield "url", match.start(), end
    for match in _WWW_DOMAIN.finditer(text):
        yield "url", match.start(), match.start() + len(match.group().rstrip(".,;:!?)"))
    for match in _WWW_SPACED.finditer(text):
        yield "url", match.start(), match.end()


# A mailbox provider's own name ("we do not accept gmail.com addresses") is no one's contact.
_WEBMAIL = frozenset("""gmail.com googlemail.com yahoo.com ymail.com hotmail.com outlook.com
    live.com msn.com aol.com icloud.com qq.com 163.com 126.com sina.com yeah.net rediffmail.com
    mail.ru yandex.ru gmx.de gmx.net web.de proton.me protonmail.com""".split())


def _webmail(match: re.Match[str]) -> bool:
    return not (match.group("www") or match.group("path")) and \
        _WORD_DOT.sub(".", match.group()).replace(" ", "").lower() in _WEBMAIL


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
    if _run_on(match):
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


def _run_on(match: re.Match[str]) -> bool:
    """Is a bare "word.word" between two words of prose, with no word that announces a site?"""
    name, tld, text = match.group("labels").rstrip(" .\t"), match.group("tld"), match.string
    if tld.lower() not in _WORD_TLDS or not (name.isalpha() and name.islower()):
        return False
    before = text[max(0, match.start() - 30):match.start()]
    return not _WEB_CUE.search(before) and _PROSE_BEFORE.search(before) is not None and \
        _PROSE_AFTER.match(text, match.end()) is not None


# ---------------------------------------------------------------- messengers

# Messengers, and the social networks whose handles are written the same way.
_MESSENGER = (r"what'?s[ \t]?app|wechat|we[ \t]chat|weixin|telegram|skype|viber|signal|"
              r"kakao(?:talk)?|zalo|threema|wickr|line|qq|vx|tg|insta(?:gram)?|ig|tik[ \t]?tok|"
              r"facebook|fb|snapchat|snap|twitter|linkedin|botim|discord|messenger|vk|vkontakte|"
              r"youtube|pinterest|dingtalk|douyin|weibo|xiaohongshu|kik|wa")
_MESSENGER_NAME = re.compile(rf"(?:\b(?:{_MESSENGER})\b|微信号?|[Vv薇威]信|扣扣|QQ号|"
                             r"(?-i:\bV\b)(?=[ \t]*:)|\bwx\b|钉钉号?|抖音号?|微博|小红书号?|"
                             r"تيليجرام|تلغرام|تليجرام|ويتشات|"
                             r"سكايب|فايبر|انستغرام|انستقرام|انستجرام|فيسبوك|فيس[ \t]بوك|"
                             r"تيك[ \t]توك|سناب)", re.IGNORECASE)
# "DM us @acme.textiles", "follow @acme": a handle by what is asked of the reader.
_HANDLE_VERB = re.compile(r"\b(?:dm|pm|inbox|follow|message|msg|ping|add)\b", re.IGNORECASE)
_HANDLE_AFTER = re.compile(
    r"(?P<label>[ \t]*(?:(?:id|username|user ?name|handle|account|channel|group|号)\b[ \t]*)?)"
    r"(?P<sep>(?:[:=][ \t]*|[ \t]+[-–][ \t]+|is[ \t]+|[ \t]*))"
    r"(?P<handle>@[A-Za-z0-9][A-Za-z0-9_.\-]{1,31}|live:[A-Za-z0-9_.\-]{3,40}|"
    r"[A-Za-z][A-Za-z0-9_.\-]{2,31}|\d{1,4}[A-Za-z][A-Za-z0-9_.\-]{1,30}|\d{5,12})", re.IGNORECASE)
_AT_HANDLE = re.compile(r"(?<![A-Za-z0-9_.@/])@[A-Za-z][A-Za-z0-9_.]{2,31}")
# What follows a messenger's name in prose rather than an id.
_NOT_HANDLE = frozenset("""
    me us or and for the a an app to on at with via in by number no chat group channel account
    call calls message messages only also too cables cable converter converters strength line
    lines available business web desktop please pay payment id is our my your contact
    coming down broken banned blocked hacked private public active inactive open closed new not
    same below above here there updated currently still being under suspended verified off back
    now soon given shown attached mentioned listed temporarily always
    facebook instagram linkedin youtube tiktok twitter whatsapp wechat telegram skype
""".split())
# Messenger names that are also ordinary words ("product line 3", "signal cables") count only
# when written the way people write a contact: capitals, or followed by ":", "ID" or "@".
_AMBIGUOUS = frozenset({"line", "signal", "tg", "vx", "qq", "ig", "fb", "snap", "wx", "v",
                        "messenger", "wa", "kik", "vk"})
# Social networks' short names: a page named in camel case after them is theirs ("fb AcmeTea").
_SOCIAL = frozenset({"ig", "fb", "snap", "tg"})
# Chinese shorthand for WeChat ("V: tom_88", "wx: tom88"): its ids carry a digit or "_".
_TERSE = frozenset({"v", "wx"})


def _messenger_handles(text: str) -> Iterator[Span]:
    # "youtube.com/@acme" is a web address that names the network, not a mention of it.
    names = [name for name in _MESSENGER_NAME.finditer(text)
             if not re.match(r"\.[A-Za-z]", text[name.end():name.end() + 2])]
    for name in names:
        after = _HANDLE_AFTER.match(text, name.end())
        if after and _is_handle(name.group(), after) and \
                not text.startswith("/", after.end("handle")):
            handle = after.group("handle").rstrip(".-")
            yield "messenger", after.start("handle"), after.start("handle") + len(handle)
    # "@acme_export on Telegram": an @handle within a few words of a messenger's name.
    starts = sorted([name.start() for name in names] +
                    [verb.start() for verb in _HANDLE_VERB.finditer(text)])
    for handle in _AT_HANDLE.finditer(text):
        at = bisect.bisect_left(starts, handle.start() - 44)
        if at < len(starts) and starts[at] < handle.start() + 45:
            yield "messenger", handle.start(), handle.start() + len(handle.group().rstrip("."))


def _is_handle(name: str, after: re.Match[str]) -> bool:
    handle = after.group("handle")
    # "WeChat ID lily88" names a handle; "WhatsApp group coming soon" does not.
    label = after.group("label").strip().lower()
    sep = after.group("sep").strip().lower()
    explicit = bool(sep) or label not in ("", "group", "channel", "account")
    bare = handle.lstrip("@").rstrip(".-")
    lowered = name.lower()
    # Digits, "_" or "." mark an id, and so do capitals inside a word ("MezcalDonPedroOax").
    camel = any(a.islower() and b.isupper() for a, b in itertools.pairwise(bare))
    marked = handle.startswith("@") or any(c.isdigit() or c in "_." for c in bare) or camel
    # "ig acme_charcoal_official", "fb AcmeTea", "LINE tapioca.bkk" (the brand's own capitals).
    if lowered in _AMBIGUOUS and not (explicit or handle.startswith("@") or "_" in bare or
                                      (camel and lowered in _SOCIAL) or
                                      (name == "LINE" and marked)):
        return False
    if lowered in _TERSE and not any(c.isdigit() or c == "_" for c in bare):
        return False
    # "Production Line: fully automatic" is prose; "Line: @acmethai" and "LINE ID" are not.
    if lowered == "line" and name != "LINE" and not (label or marked):
        return False
    if bare.isdigit():
        # Digits after WhatsApp or Viber are a phone number; QQ ids are digits by design.
        return lowered.startswith("qq") or "qq" in lowered
    # "Threema ID: 7HX4K2PA" starts with a digit; "WeChat 24hours" and "Signal: 4mA" do not.
    if bare[0].isdigit() and (not explicit or lowered in _AMBIGUOUS or len(bare) < 5):
        return False
    if bare.lower() in _NOT_HANDLE:
        return False
    # "My Instagram is coming soon": after "is", a word of prose unless it is marked as an id.
    if sep == "is" and not marked and bare.lower().endswith(("ing", "ed", "ly", "en")):
        return False
    # Without ":" or "@" a plain word is prose ("WeChat groups"): ids carry digits or marks.
    return handle.lower().startswith("live:") or explicit or marked
