"""Messenger handles in normalised listing text: "WeChat: lily_tea88", "@acme on Telegram".

Like `contactforms`, every pattern runs on text that `contacts.normalise` prepared and uses
bounded repetition only.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator

Span = tuple[str, int, int]


# Messengers, and the social networks whose handles are written the same way.
_MESSENGER = (r"what'?s[ \t]?app|wechat|we[ \t]chat|weixin|telegram|skype|viber|signal|"
              r"kakao(?:talk)?|zalo|threema|wickr|line|qq|vx|tg|insta(?:gram)?|ig|tik[ \t]?tok|"
              r"facebook|fb|snapchat|snap|twitter|linkedin|botim|discord|messenger|vk|vkontakte|"
              r"youtube|pinterest|dingtalk|douyin|weibo|xiaohongshu|kik|wa")
_MESSENGER_NAME = re.compile(rf"(?:\b(?:{_MESSENGER})\b|微信号?|[Vv薇威]信|扣扣|QQ号|"
                             r"(?-i:\bV\b)(?=[ \t]*:)|\bwx\b|钉钉号?|抖音号?|微博|小红书号?|"
                             r"تيليجرام|تلغرام|تليجرام|ويتشات|"
                             r"سكايب|فايبر|انستغرام|انستقرام|انستجرام|فيسبوك|فيس[ \t]بوك|"
                             r"تيك[ \t]توك|سناب|카카오톡|카톡|라인|ไลน์)", re.IGNORECASE)
# "DM us @acme.textiles", "follow @acme": a handle by what is asked of the reader.
_HANDLE_VERB = re.compile(r"\b(?:dm|pm|inbox|follow|message|msg|ping|add)\b", re.IGNORECASE)
_HANDLE_AFTER = re.compile(
    r"(?P<label>[ \t]*(?:(?:id|username|user ?name|handle|account|channel|group|号)\b[ \t]*)?)"
    # "Telegram ➜ acmeexport", "WhatsApp => spice_route": an arrow points at the id.
    r"(?P<sep>(?:[ \t]*(?:[➜➔➙➛➝➞➟➠➡→⇒⟶►▶»👉]|=>|-+>)[ \t]*|[:=][ \t]*|[ \t]+[-–][ \t]+|"
    r"(?:is|as|under)[ \t]+|[ \t]*))"
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
    follow visit click see join subscribe like search find tap scan send write ask
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


def find_handles(text: str) -> Iterator[Span]:
    """Every messenger handle in `text`."""
    # "youtube.com/@acme" is a web address that names the network, not a mention of it.
    names = [name for name in _MESSENGER_NAME.finditer(text)
             if not re.match(r"\.[A-Za-z]", text[name.end():name.end() + 2])]
    for name in names:
        after = _HANDLE_AFTER.match(text, name.end())
        if after and _is_handle(name.group(), after) and \
                not text.startswith("/", after.end("handle")):
            handle = after.group("handle").rstrip(".-")
            yield "messenger", after.start("handle"), after.start("handle") + len(handle)
    yield from _handles_before(text, names)
    # "@acme_export on Telegram": an @handle within a few words of a messenger's name.
    starts = sorted([name.start() for name in names] +
                    [verb.start() for verb in _HANDLE_VERB.finditer(text)])
    for handle in _AT_HANDLE.finditer(text):
        at = bisect.bisect_left(starts, handle.start() - 44)
        if at < len(starts) and starts[at] < handle.start() + 45:
            yield "messenger", handle.start(), handle.start() + len(handle.group().rstrip("."))


# "acme_sales on telegram", "textile_hub22 on WeChat", "acme_teak (Telegram)": an id, then
# the messenger it lives on. Only a word marked as an id counts ("prices on Telegram" is prose),
# and not a web address ("acme.com on Facebook").
_HANDLE_BEFORE = re.compile(
    r"(?<![\w.@\-])(?P<handle>@?[A-Za-z][A-Za-z0-9_.\-]{2,31})"
    r"(?:[ \t]+(?:on|via|at|in|op|auf|sur|en|su|no|em|na|@)[ \t]+|[ \t]*\([ \t]*)$",
    re.IGNORECASE)
_WEB_ENDING = re.compile(r"\.(?:com|net|org|html?|php)$", re.IGNORECASE)


def _handles_before(text: str, names: list[re.Match[str]]) -> Iterator[Span]:
    for name in names:
        # "e-commerce on Line", "updates on Signal": words that are also a messenger's name
        # are too often prose; only LINE in capitals is the messenger.
        if name.group().lower() in _AMBIGUOUS and name.group() != "LINE":
            continue
        before = _HANDLE_BEFORE.search(text, max(0, name.start() - 50), name.start())
        if before is None:
            continue
        bare = before.group("handle").lstrip("@").rstrip(".-")
        # An id has a run of letters: "v2.1" and "U.S.A." are a version and an abbreviation.
        if (before.group("handle").startswith("@") or _marked(bare)) and \
                re.search(r"[A-Za-z]{3}", bare) and not _WEB_ENDING.search(bare) and \
                bare.lower() not in _NOT_HANDLE:
            start = before.start("handle")
            yield "messenger", start, start + len(before.group("handle").rstrip(".-"))


def _camel(bare: str) -> bool:
    return any(a.islower() and b.isupper() for a, b in itertools.pairwise(bare))


def _marked(bare: str) -> bool:
    """Does a word look like an id? Digits, "_" or "." mark one, and so do capitals inside a
    word ("MezcalDonPedroOax") and two hyphens ("acme-trade-cn"; "e-commerce" has one)."""
    return any(c.isdigit() or c in "_." for c in bare) or _camel(bare) or bare.count("-") >= 2


def _is_handle(name: str, after: re.Match[str]) -> bool:
    handle = after.group("handle")
    # "WeChat ID lily88" names a handle; "WhatsApp group coming soon" does not.
    label = after.group("label").strip().lower()
    sep = after.group("sep").strip().lower()
    # "on Telegram as soapmaker_ankara" names an id; "WeChat as well" does not.
    explicit = sep not in ("", "as", "under") or label not in ("", "group", "channel", "account")
    bare = handle.lstrip("@").rstrip(".-")
    lowered = name.lower()
    camel = _camel(bare)
    marked = handle.startswith("@") or _marked(bare)
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
