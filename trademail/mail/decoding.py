"""The decoding passes that undo each way text can hide an address, look-alike letters too."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from confusable_homoglyphs import confusables

# ---------------------------------------------------------------------- look-alike letters


@lru_cache(maxsize=1)
def _lookalikes() -> dict[int, str]:
    """Letters and signs of other scripts that pass for one ASCII character (Cyrillic a,
    Greek omicron, …), by code point: the same table reads the text and the address."""
    table: dict[int, str] = {}
    for char, homoglyphs in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        ascii_ones = [h["c"] for h in homoglyphs if len(h["c"]) == 1 and h["c"].isascii()
                      and (h["c"].isalnum() or h["c"] in "@.-_+")]
        if ascii_ones:
            table[ord(char)] = ascii_ones[0]
    return table


@lru_cache(maxsize=1)
def _lookalike_letters() -> frozenset[str]:
    return frozenset(chr(c) for c in _lookalikes())


# The full stops IDNA reads as "." (UTS 46) that NFKC leaves alone (it makes U+FF0E "."
# and U+FF61 U+3002), and the combining marks of Latin, Greek and Cyrillic letters.
_DOTS = {0x3002: "."}
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """Compatibility forms (full-width letters and at signs), ideographic full stops,
    accents and look-alike letters made ASCII."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    if _COMBINING.search(decomposed):
        text = unicodedata.normalize("NFC", _COMBINING.sub("", decomposed))
    text = text.translate(_DOTS)
    # str.translate is slow on long text: only when there is something to translate.
    if _lookalike_letters().isdisjoint(frozenset(text)):
        return text
    return text.translate(_lookalikes())


# ---------------------------------------------------------------------- the passes

_HEX = "[0-9A-Fa-f]"
_Decode = Callable[[re.Match[str]], str]


def _bytes_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _entity(match: re.Match[str]) -> str:
    return html.unescape(match.group())


def _code_point(value: int, original: str) -> str:
    return chr(value) if 0 < value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF else original


def _escape(match: re.Match[str]) -> str:
    token = match.group()
    if match.group("js") is not None or token.startswith(("\\u{", "\\x")):
        return _code_point(int(token.strip("\\ux{}"), 16), token)
    if token.startswith("\\'"):
        return bytes([int(token[2:4], 16)]).decode("cp1252", "replace")
    if match.group("sign") is not None:
        return match.group("sign")
    if match.group("css") is not None:
        return _code_point(int(match.group("css"), 16), token)
    number = int(match.group("rtf"))  # RTF: \uN, N a signed 16-bit decimal, then a fallback
    return _code_point(number + 65536 if number < 0 else number, token)


def _rtf(match: re.Match[str]) -> str:
    """RTF read as its reader shows it: escapes decoded, control words, ignorable groups,
    braces and raw line breaks (RTF ignores them) gone."""
    if match.group("byte") is not None:
        return bytes([int(match.group("byte"), 16)]).decode("cp1252", "replace")
    if match.group("unicode") is not None:
        number = int(match.group("unicode"))
        return _code_point(number + 65536 if number < 0 else number, "")
    token = match.group()
    return {"\\{": "{", "\\}": "}", "\\\\": "\\", "\\_": "-"}.get(token, "")


def _hex_run(match: re.Match[str]) -> str:
    return _bytes_text(bytes.fromhex(match.group().replace("%", "").replace("=", "")))


def _utf8_length(lead: int) -> int:
    return 2 if 0xC2 <= lead <= 0xDF else 3 if 0xE0 <= lead <= 0xEF else \
        4 if 0xF0 <= lead <= 0xF4 else 0


def _hex_run_strict(match: re.Match[str]) -> str:
    """Only what an escape is unambiguously for: a sign ("=40" is "@") or a whole UTF-8
    character. A letter, digit or stray byte stays as written, for "email=bakari@…" may be
    no escape at all."""
    token = match.group()
    data = bytes.fromhex(token.replace(token[0], ""))
    out: list[str] = []
    i = 0
    while i < len(data):
        size = _utf8_length(data[i])
        if data[i] < 0x80 and not chr(data[i]).isalnum():
            out.append(chr(data[i]))
            i += 1
            continue
        if size and i + size <= len(data):
            try:
                out.append(data[i:i + size].decode("utf-8"))
                i += size
                continue
            except UnicodeDecodeError:
                pass  # not a character: the escape stays
        out.append(token[3 * i:3 * i + 3])
        i += 1
    return "".join(out)


def _unquote_local(match: re.Match[str]) -> str:
    return match.group(1) + "@"


def _fold_run(match: re.Match[str]) -> str:
    return fold(match.group())


def _constant(value: str) -> _Decode:
    return lambda _match: value


_SPACE = "[ \\t]"
_GAP = "[ \\t\\r\\n]"
_OPEN, _CLOSE = "[\\[({<\"'*]", "[\\])}>\"'*]"
_AT_WORD = "(?:at|ät|arroba|chez|@)"
_BRACKETED_AT = "(?:at|ät|arroba|chez|@|a)"  # "name(a)domain" too, common in German
_DOT_WORD = "(?:dot|punkt|punto|point|\\.)"
# Where an "at" or "dot" may start: a lookahead lets the engine skip everything else fast.
_SPELLED_START = "(?=[ \\t\\r\\n\\[({<\"'*@.])"


_PERCENT = re.compile(f"(?:%{_HEX}{{2}})+")
_QP = re.compile(f"(?:={_HEX}{{2}})+")


class Pass(NamedTuple):
    name: str
    pattern: re.Pattern[str]
    decode: _Decode
    triggers: str  # the pass can only match where one of these is present; "" for always
    decodes: bool  # its output may hold something an earlier pass would read: another round
    constant: str | None = None  # what every match becomes, when that is all it does


_QP_SOFT_BREAK = "=[ \\t]{0,8}\\r?\\n(?![ \\t])"
_LINE_BREAK = "(?:\\r\\n|\\n|\\r)"
_PASSES = (
    # Lines are joined, the blanks around each break gone: folded lines (iCalendar, vCard,
    # headers: a line break and blanks, a tab shown as spaces in a body), soft line breaks
    # of format=flowed with DelSp (a blank, then the break; the blank may be gone) and of
    # quoted-printable (a fold wins: "=<CR><LF> 40" is "=40" folded), lines broken inside a
    # word (after a hyphen, or anywhere by a client that wraps hard). Also left out, in a
    # view of its own, for joining can eat the blanks around a spelled-out "at" (a line
    # break and an indent before it) or break base64 into lines that no longer align.
    Pass("unfold", re.compile(f"[ \\t]{{0,8}}{_LINE_BREAK}[ \\t]{{0,256}}|{_QP_SOFT_BREAK}"),
         _constant(""), "", False, ""),
    # NUL (UTF-16 read as bytes) and invisible marks vanish.
    Pass("invisible", re.compile("[\\x00\\xad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5"
                                 "\\u180b-\\u180f\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f"
                                 "\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0]+"),
         _constant(""), "", False, ""),
    Pass("entities", re.compile(f"&(?:#[0-9]{{1,8}};?|#[xX]{_HEX}{{1,8}};?|[A-Za-z]"
                                "[A-Za-z0-9]{1,31};)"), _entity, "&", True),
    # JavaScript and JSON ("\\u0040", "\\x40"), RTF ("\\'40", "\\u64?"), CSS ("\\40 ", and
    # "\\@" as Markdown escapes signs too).
    Pass("escapes", re.compile(f"\\\\(?:u\\{{{_HEX}{{1,6}}\\}}|u(?P<js>{_HEX}{{4}})|"
                               f"x{_HEX}{{2}}|'{_HEX}{{2}}|u(?P<rtf>-?[0-9]{{1,5}}) ?"
                               f"(?:\\?|\\\\'{_HEX}{{2}})?|(?P<css>{_HEX}{{1,6}})[ \\t]?|"
                               "(?P<sign>[@.+_-]))"),
         _escape, "\\", True),
    Pass("percent", _PERCENT, _hex_run, "%", True),
    Pass("quoted-printable", _QP, _hex_run, "=", True),
    Pass("look-alikes", re.compile("[^\\x00-\\x7f]+"), _fold_run, "", True),
    # "name at domain dot com", "name [at] domain (dot) com", "name @ domain . com".
    Pass("at", re.compile(f"{_SPELLED_START}(?:{_SPACE}{{0,3}}{_OPEN}{_SPACE}{{0,2}}"
                          f"{_BRACKETED_AT}{_SPACE}{{0,2}}{_CLOSE}{_SPACE}{{0,3}}|"
                          f"{_GAP}{{1,8}}{_AT_WORD}{_GAP}{{1,8}}|{_GAP}{{1,8}}@|@{_GAP}{{1,8}})",
                          re.I),
         _constant("@"), "", False, "@"),
    Pass("dot", re.compile(f"{_SPELLED_START}(?:{_SPACE}{{0,3}}{_OPEN}{_SPACE}{{0,2}}"
                           f"{_DOT_WORD}{_SPACE}{{0,2}}{_CLOSE}{_SPACE}{{0,3}}|{_GAP}{{1,8}}"
                           f"{_DOT_WORD}{_GAP}{{1,8}}|\\.{_GAP}{{1,8}})", re.I),
         _constant("."), "", False, "."),
    # "name-at-domain-dot-com", "name_at_domain": passes of their own, for hyphens are
    # everywhere and the ones above would stop at each.
    Pass("joined-at", re.compile(f"[-_]{_AT_WORD}[-_]", re.I), _constant("@"), "", False, "@"),
    Pass("joined-dot", re.compile(f"[-_]{_DOT_WORD}[-_]", re.I), _constant("."), "", False, "."),
    Pass("quoted-local", re.compile('"([^"\\r\\n@]{1,64})"@'), _unquote_local, '"', False),
)
# Markup between the letters of an address ("name<b>@</b>domain"): read in a view of its own,
# for in the others a tag around the address ("<a href=mailto:…>") must stay.
_TAGS = Pass("tags", re.compile("<!\\[CDATA\\[|\\]\\]>|<(?:[A-Za-z/!?][^<>]{0,2000})>"),
             _constant(""), "<", False, "")
# Rich text between the letters of an address ("name@{\\b domain}", Word's revision runs,
# bookmarks, Outlook's encapsulated HTML): read in a view of its own, as a reader shows it.
_RTF = Pass("rtf", re.compile(
    f"\\\\'(?P<byte>{_HEX}{{2}})|\\\\u(?P<unicode>-?[0-9]{{1,5}}) ?(?:\\\\'{_HEX}{{2}}|\\?)?|"
    "\\{\\\\\\*\\\\[A-Za-z]{1,32}[^{}]{0,4096}\\}|"  # an ignorable group: {\\*\\bkmkstart x}
    "\\\\[A-Za-z]{1,32}(?:-?[0-9]{1,10})? ?|\\\\[^A-Za-z0-9]|[{}\\r\\n]"), _rtf, "\\", False)


# Decodings that can eat the first letters of an address when something before it looks like
# the start of an escape ("email=bakari@…", "50%bakari@…"): each is also read strictly (or
# not at all) in a view of its own.
_STRICT = {"percent": Pass("percent", _PERCENT, _hex_run_strict, "%", True),
           "quoted-printable": Pass("quoted-printable", _QP, _hex_run_strict, "=", True)}
EATERS = ("unfold", "quoted-printable", "percent", "entities", "escapes")
_JOINED = tuple(p for p in _PASSES if p.name in ("joined-at", "joined-dot"))


def joined(text: str) -> str:
    """`text` as the joined-at and joined-dot passes leave it: an address that holds
    "-at-" or "_dot_" itself is looked for in that form too, as every view reads it so."""
    for step in _JOINED:
        text = step.pattern.sub(step.constant or "", text)
    return text


def passes_for(*, unicode: bool, tags: bool = False, rtf: bool = False,
               strict: str = "") -> tuple[Pass, ...]:
    """The passes of one view: look-alikes only for `unicode` text, the `strict` one read
    strictly (or left out), and with `tags` markup or `rtf` taken out first."""
    chosen = tuple(_STRICT.get(p.name, p) if p.name == strict else p for p in _PASSES
                   if (unicode or p.name != "look-alikes")
                   and (p.name != strict or strict in _STRICT))
    first = (_TAGS,) if tags else (_RTF,) if rtf else ()
    return (*first, *chosen)
