"""Every spelling of a member's address in text: the address in any case, with its domain in
Unicode or punycode, and the text read every way that could hide it (HTML entities,
%-escapes, quoted-printable, line folding, invisible marks, look-alike letters, "at" and
"dot"), with the way back from what was found to the text as written, to rewrite it.

Linear in its input: the address is found by a literal alternation, and every decoding pass is
a regular expression with bounded repeats and no nesting, run a bounded number of rounds.
"""

from __future__ import annotations

import html
import re
import unicodedata
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import idna
from confusable_homoglyphs import confusables

# Rounds of decoding on one text: enough for an escape inside an escape inside an escape.
MAX_ROUNDS = 4
# A local part may carry a tag ("name+anything@…") and still reach the member.
MAX_TAG_CHARS = 64


# ---------------------------------------------------------------------- the address's forms


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


def fold(text: str) -> str:
    """Compatibility forms (full-width letters and at signs) and look-alike letters made
    ASCII."""
    text = unicodedata.normalize("NFKC", text)
    # str.translate is slow on long text: only when there is something to translate.
    if _lookalike_letters().isdisjoint(frozenset(text)):
        return text
    return text.translate(_lookalikes())


def _domains(domain: str) -> set[str]:
    """The domain as registered, in its ASCII (punycode) form and in its Unicode form."""
    forms = {domain.lower(), unicodedata.normalize("NFC", domain).lower()}
    for convert in (lambda d: idna.encode(d, uts46=True).decode("ascii"),
                    lambda d: idna.decode(d, uts46=True),
                    lambda d: d.encode("idna").decode("ascii"),
                    lambda d: d.encode("ascii").decode("idna")):
        try:
            forms.add(unicodedata.normalize("NFC", convert(domain)).lower())
        except (idna.IDNAError, UnicodeError, ValueError):
            continue  # one library refuses what the other takes (IDNA 2003 against 2008)
    return {d for d in forms if d}


@dataclass(frozen=True)
class Forms:
    """What finds any of the addresses: a pattern for normalised text, needles for bytes."""

    pattern: re.Pattern[str]
    needles: tuple[bytes, ...]  # every spelling in every charset, ASCII letters lower case
    shortest: int  # bytes of the shortest needle

    def in_text(self, text: str) -> bool:
        return self.pattern.search(text) is not None

    def in_bytes(self, data: bytes) -> bool:
        low = data.lower()
        return any(needle in low for needle in self.needles)


_NEVER = re.compile(r"(?!)")
_CHARSETS = ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp1252", "latin-1")


@lru_cache(maxsize=64)
def _forms(addresses: tuple[str, ...]) -> Forms:
    alternatives: list[str] = []
    spellings: set[str] = set()
    for address in addresses:
        local, at, domain = address.strip().rpartition("@")
        if not (at and local and domain):
            continue
        locals_ = {local, fold(local)}
        domains = _domains(domain)
        domains |= {fold(d) for d in domains} | {unicodedata.normalize("NFD", d) for d in domains}
        spellings |= {f"{a}@{d}" for a in locals_ for d in domains}
        # Longest first: one alternative never hides a longer one starting at the same place.
        alternatives.append(
            "(?:" + "|".join(re.escape(a) for a in sorted(locals_, key=len, reverse=True))
            + f")(?:\\+[^\\s@<>()\\[\\],;:\"']{{1,{MAX_TAG_CHARS}}})?@(?:"
            + "|".join(re.escape(d) for d in sorted(domains, key=len, reverse=True)) + ")")
    if not alternatives:
        return Forms(_NEVER, (), 0)
    needles: set[bytes] = set()
    for spelling in spellings:
        for variant in (spelling, spelling.upper(), unicodedata.normalize("NFD", spelling)):
            for charset in _CHARSETS:
                try:
                    needles.add(variant.encode(charset).lower())
                except UnicodeError:
                    continue  # a Unicode domain has no spelling in a Latin charset
    return Forms(re.compile("|".join(alternatives), re.I), tuple(sorted(needles)),
                 min(len(n) for n in needles))


def forms(addresses: Sequence[str]) -> Forms:
    return _forms(tuple(sorted({a for a in addresses if a})))


# ---------------------------------------------------------------------- normalised views of text

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
    if match.group("css") is not None:
        return _code_point(int(match.group("css"), 16), token)
    number = int(match.group("rtf"))  # RTF: \uN, N a signed 16-bit decimal, then a fallback
    return _code_point(number + 65536 if number < 0 else number, token)


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


class _Pass(NamedTuple):
    name: str
    pattern: re.Pattern[str]
    decode: _Decode
    triggers: str  # the pass can only match where one of these is present; "" for always
    decodes: bool  # its output may hold something an earlier pass would read: another round
    constant: str | None = None  # what every match becomes, when that is all it does


_PASSES = (
    # Folded lines (iCalendar, vCard, headers: a line break and one blank) and soft line
    # breaks of quoted-printable vanish (a fold wins: "=<CR><LF> 40" is "=40" folded); so do
    # NUL (UTF-16 read as bytes) and invisible marks.
    _Pass("unfold", re.compile("\\r?\\n[ \\t]|\\r[ \\t]|=[ \\t]{0,8}\\r?\\n(?![ \\t])|"
                               "[\\x00\\xad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5"
                               "\\u180b-\\u180f\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\u3164"
                               "\\ufe00-\\ufe0f\\ufeff\\uffa0]+"), _constant(""), "", False, ""),
    _Pass("entities", re.compile(f"&(?:#[0-9]{{1,8}};?|#[xX]{_HEX}{{1,8}};?|[A-Za-z]"
                                 "[A-Za-z0-9]{1,31};)"), _entity, "&", True),
    # JavaScript and JSON ("\\u0040", "\\x40"), RTF ("\\'40", "\\u64?"), CSS ("\\40 ").
    _Pass("escapes", re.compile(f"\\\\(?:u\\{{{_HEX}{{1,6}}\\}}|u(?P<js>{_HEX}{{4}})|"
                                f"x{_HEX}{{2}}|'{_HEX}{{2}}|u(?P<rtf>-?[0-9]{{1,5}}) ?"
                                f"(?:\\?|\\\\'{_HEX}{{2}})?|(?P<css>{_HEX}{{1,6}})[ \\t]?)"),
          _escape, "\\", True),
    _Pass("percent", _PERCENT, _hex_run, "%", True),
    _Pass("quoted-printable", _QP, _hex_run, "=", True),
    _Pass("look-alikes", re.compile("[^\\x00-\\x7f]+"), _fold_run, "", True),
    # "name at domain dot com", "name [at] domain (dot) com", "name @ domain . com".
    _Pass("at", re.compile(f"{_SPELLED_START}(?:{_SPACE}{{0,3}}{_OPEN}{_SPACE}{{0,2}}"
                           f"{_BRACKETED_AT}{_SPACE}{{0,2}}{_CLOSE}{_SPACE}{{0,3}}|"
                           f"{_GAP}{{1,3}}{_AT_WORD}{_GAP}{{1,3}}|{_GAP}{{1,3}}@|@{_GAP}{{1,3}})",
                           re.I),
          _constant("@"), "", False, "@"),
    _Pass("dot", re.compile(f"{_SPELLED_START}(?:{_SPACE}{{0,3}}{_OPEN}{_SPACE}{{0,2}}"
                            f"{_DOT_WORD}{_SPACE}{{0,2}}{_CLOSE}{_SPACE}{{0,3}}|{_GAP}{{1,3}}"
                            f"{_DOT_WORD}{_GAP}{{1,3}}|\\.{_GAP}{{1,3}})", re.I),
          _constant("."), "", False, "."),
    _Pass("quoted-local", re.compile('"([^"\\r\\n@]{1,64})"@'), _unquote_local, '"', False),
)
# Markup between the letters of an address ("name<b>@</b>domain"): read in a view of its own,
# for in the others a tag around the address ("<a href=mailto:…>") must stay.
_TAGS = _Pass("tags", re.compile("<(?:[A-Za-z/!?][^<>]{0,2000})>"), _constant(""), "<", False,
              "")


# Decodings that can eat the first letters of an address when something before it looks like
# the start of an escape ("email=bakari@…", "50%bakari@…"): each is also read strictly (or
# not at all) in a view of its own.
_STRICT = {"percent": _Pass("percent", _PERCENT, _hex_run_strict, "%", True),
           "quoted-printable": _Pass("quoted-printable", _QP, _hex_run_strict, "=", True)}
_EATERS = ("quoted-printable", "percent", "entities", "escapes")


def _passes(*, unicode: bool, tags: bool = False, strict: str = "") -> tuple[_Pass, ...]:
    chosen = tuple(_STRICT.get(p.name, p) if p.name == strict else p for p in _PASSES
                   if (unicode or p.name != "look-alikes")
                   and (p.name != strict or strict in _STRICT))
    return (_TAGS, *chosen) if tags else chosen


class _Edits:
    """Where one pass replaced what: (start, end) in its output, (start, end) in its input."""

    def __init__(self) -> None:
        self.new_start, self.new_end = array("q"), array("q")
        self.old_start, self.old_end = array("q"), array("q")

    def add(self, new_start: int, new_end: int, old_start: int, old_end: int) -> None:
        self.new_start.append(new_start)
        self.new_end.append(new_end)
        self.old_start.append(old_start)
        self.old_end.append(old_end)

    def span(self, position: int) -> tuple[int, int]:
        """The input span that produced the character at `position` of the output."""
        i = bisect_right(self.new_start, position) - 1
        if i >= 0 and position < self.new_end[i]:
            return self.old_start[i], self.old_end[i]
        shift = self.old_end[i] - self.new_end[i] if i >= 0 else 0
        return position + shift, position + shift + 1


# What, in the output of a decoding pass, another round must read (a double escape).
_READ_AGAIN = re.compile("[\\r\\n\\x00&\\\\%=\\xad\\u200b-\\u200f\\u2060-\\u2064\\ufeff]")


def _apply(text: str, step: _Pass, edits: _Edits | None) -> tuple[str, bool]:
    """One pass over `text`: what it made of it, and whether another round must read that.
    With `edits`, where it replaced what is noted."""
    again = False

    def decode(match: re.Match[str]) -> str:
        nonlocal again
        replacement = step.decode(match)
        again = again or (step.decodes and _READ_AGAIN.search(replacement) is not None)
        return replacement

    if step.name == "look-alikes" and (edits is None or fold(text) == text):
        return fold(text), False  # in one go; the way back is only needed when it changed
    if edits is None:
        # Nothing to note: the fastest equivalent, in C where it can be.
        after, count = step.pattern.subn(decode if step.constant is None else step.constant,
                                         text)
        return (after if count else text), again
    out: list[str] = []
    position = shift = 0
    for match in step.pattern.finditer(text):
        replacement = decode(match)
        start, end = match.span()
        if replacement == match.group():
            continue
        out.append(text[position:start])
        out.append(replacement)
        edits.add(start + shift, start + shift + len(replacement), start, end)
        shift += len(replacement) - (end - start)
        position = end
    if not out:
        return text, again
    out.append(text[position:])
    return "".join(out), again


class View:
    """A text with every encoding the passes know undone, and (when `mapped`) the way back
    from a span of it to the span of the original text it came from."""

    def __init__(self, text: str, passes: Sequence[_Pass], *, mapped: bool = False) -> None:
        self._steps: list[_Edits] = []
        self.changed: set[str] = set()  # names of the passes that changed something
        for _ in range(MAX_ROUNDS):
            again = False
            for step in passes:
                if step.triggers and step.triggers not in text:
                    continue
                if step.name == "look-alikes" and text.isascii():
                    continue
                edits = _Edits() if mapped else None
                after, more = _apply(text, step, edits)
                again = again or more
                if after is not text and after != text:
                    self.changed.add(step.name)
                    if edits is not None:
                        self._steps.append(edits)
                text = after
            if not again:
                break
        self.text = text

    def original(self, start: int, end: int) -> tuple[int, int]:
        for edits in reversed(self._steps):
            start, end = edits.span(start)[0], edits.span(end - 1)[1]
        return start, end


def views(text: str, *, unicode: bool = True, mapped: bool = False) -> Iterator[View]:
    """The text read every way: everything undone; then, for each decoding that changed
    something and could eat into an address, that one read strictly or left out; and with
    markup taken out."""
    first = View(text, _passes(unicode=unicode), mapped=mapped)
    yield first
    for name in _EATERS:
        if name in first.changed:
            yield View(text, _passes(unicode=unicode, strict=name), mapped=mapped)
    if unicode and "<" in text and ">" in text:
        yield View(text, _passes(unicode=unicode, tags=True), mapped=mapped)


def spans(text: str, found: Forms) -> list[tuple[int, int]]:
    """Where `text` spells one of the addresses, in any view, as merged spans of `text`."""
    found_spans = [m.span() for m in found.pattern.finditer(text)]
    for view in views(text, mapped=True):
        found_spans.extend(view.original(*m.span()) for m in found.pattern.finditer(view.text))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found_spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def normalised(text: str) -> str:
    """The text with every encoding undone (quoted-printable too): what a reader could make
    of it, as plain text."""
    return View(text, _passes(unicode=True)).text
