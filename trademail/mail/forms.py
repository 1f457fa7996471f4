"""Every spelling of a member's address in text: the address in any case, with its domain in
Unicode or punycode, and the text read every way that could hide it (HTML entities,
%-escapes, quoted-printable, line folding, invisible marks, look-alike letters, "at" and
"dot"), with the way back from what was found to the text as written, to rewrite it.

Linear in its input: the address is found by a literal alternation, and every decoding pass is
a regular expression with bounded repeats and no nesting, run a bounded number of rounds.
The passes themselves, and the look-alike table, are in `trademail.mail.decoding`.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import idna

from trademail.mail.decoding import EATERS, Pass, fold, joined, passes_for

# Rounds of decoding on one text: enough for an escape inside an escape inside an escape.
MAX_ROUNDS = 4
# A local part may carry a tag ("name+anything@…") and still reach the member.
MAX_TAG_CHARS = 64


# ---------------------------------------------------------------------- the address's forms


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
        locals_ |= {joined(a) for a in locals_}
        domains = _domains(domain)
        domains |= {fold(d) for d in domains} | {unicodedata.normalize("NFD", d) for d in domains}
        domains |= {joined(d) for d in domains}
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


def _apply(text: str, step: Pass, edits: _Edits | None) -> tuple[str, bool]:
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

    def __init__(self, text: str, passes: Sequence[Pass], *, mapped: bool = False) -> None:
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
    something and could eat into an address, that one read strictly or left out; with
    markup taken out; and rich text as shown."""
    first = View(text, passes_for(unicode=unicode), mapped=mapped)
    yield first
    for name in EATERS:
        if name in first.changed:
            yield View(text, passes_for(unicode=unicode, strict=name), mapped=mapped)
    if unicode and "<" in text and ">" in text:
        yield View(text, passes_for(unicode=unicode, tags=True), mapped=mapped)
    if "\\rtf" in text:
        yield View(text, passes_for(unicode=unicode, rtf=True), mapped=mapped)


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
    return View(text, passes_for(unicode=True)).text
