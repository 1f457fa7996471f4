"""Finds contact details hidden in listing texts; free members may show them only in their contacts.

`find_contacts(text, country=...)` normalises the text first (invisible characters dropped,
NFKC, look-alike letters from other scripts mapped to Latin, in words that mix them with
ASCII and in words wholly of them that then make an address, a domain or digits;
letter-spaced words closed up; a stand-in for "@" the text names ("info#acme.com, replace #
with @"); in `contactevasions`, "@" and "." written as bracketed or joined words, middle dots
and "dotcom"; and, in `contactdigits`, toll-free numbers spelled on the keypad, number words
in English, French, German, Spanish, Portuguese, Italian and Turkish and Chinese numerals
turned into digits) while keeping, for every normalised character, the span of the original
it came from; the matchers in `contactforms`, `contactmessengers`, `contactaddresses` and
`contactphones` then run on the normalised text and each finding is reported with its span
in the original, so staff see it highlighted.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from confusable_homoglyphs import confusables

from trademail.services import (
    contactaddresses,
    contactdigits,
    contactevasions,
    contactforms,
    contactmessengers,
    contactphones,
)
from trademail.services.contactphones import region_code

__all__ = ["KINDS", "MAX_TEXT_LENGTH", "Finding", "find_contacts", "normalise", "region_code"]

# Listing fields are short; the cap bounds the work one save can cause.
MAX_TEXT_LENGTH = 20_000
KINDS = ("email", "phone", "url", "street_address", "messenger")


@dataclass(frozen=True)
class Finding:
    """One contact detail: its kind and where it sits in the text the member wrote."""

    kind: str
    start: int
    end: int
    text: str


def find_contacts(text: str, *, country: str = "") -> list[Finding]:
    """Contact details in `text`, in reading order.

    `country` is the member's country (ISO 3166 alpha-2 such as "DE", or a name such as
    "Germany"); it decides how numbers without an international prefix are read.
    Only the first MAX_TEXT_LENGTH characters are looked at.
    """
    original = text[:MAX_TEXT_LENGTH]
    mapped = normalise(original)
    spans = [*contactforms.find_forms(mapped.text), *contactmessengers.find_handles(mapped.text),
             *contactaddresses.find_addresses(mapped.text),
             *contactphones.find_phones(mapped.text, region_code(country))]
    findings = []
    for kind, start, end in _without_overlaps(mapped.text, spans):
        first, last = mapped.original_span(start, end)
        findings.append(Finding(kind, first, last, original[first:last]))
    return sorted(findings, key=lambda f: (f.start, f.end))


# A detail found by a more specific matcher wins over a vaguer one on the same characters:
# the digits of "wa.me/971501234567" are part of a web address, not a second finding, and
# "Skype: acme.trade" is a handle that happens to look like a domain.
_PRIORITY = {"email": 0, "messenger": 1, "url": 2, "street_address": 3, "phone": 4}


def _without_overlaps(text: str,
                      spans: Iterable[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    starts: list[int] = []
    kept: list[tuple[str, int, int]] = []
    for kind, start, end in sorted(spans, key=lambda s: (_PRIORITY[s[0]], s[1], -s[2])):
        at = bisect.bisect_left(starts, start)
        if at > 0 and kept[at - 1][2] > start:
            continue
        if at < len(kept) and kept[at][1] < end:
            # An address's tail that runs into the next detail ("…, Lyon ACME.FR") gives way.
            end = kept[at][1]
            while end > start and text[end - 1] in " \t,;:-":
                end -= 1
            if kind != "street_address" or end - start < 8:
                continue
        starts.insert(at, start)
        kept.insert(at, (kind, start, end))
    return kept


# ---------------------------------------------------------------- normalisation

class MappedText:
    """Normalised text; character i came from original[starts[i]:ends[i]]."""

    __slots__ = ("ends", "starts", "text")

    def __init__(self, text: str, starts: list[int], ends: list[int]) -> None:
        self.text, self.starts, self.ends = text, starts, ends

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        return self.starts[start], self.ends[end - 1]

    def rewrite(self, edits: Iterable[tuple[int, int, str]]) -> MappedText:
        """Replace text[start:end] by each edit's text; edits are sorted and disjoint."""
        edits = list(edits)
        if not edits:
            return self
        parts: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        done = 0
        for start, end, replacement in edits:
            parts.append(self.text[done:start])
            starts += self.starts[done:start]
            ends += self.ends[done:start]
            parts.append(replacement)
            starts += [self.starts[start]] * len(replacement)
            ends += [self.ends[end - 1]] * len(replacement)
            done = end
        parts.append(self.text[done:])
        return MappedText("".join(parts), starts + self.starts[done:], ends + self.ends[done:])


def normalise(text: str) -> MappedText:
    """The text as the matchers read it, mapped back to `text` character by character."""
    mapped = _unconfuse(_fold_characters(text))
    mapped = mapped.rewrite(contactevasions.middle_dots(mapped.text))
    mapped = mapped.rewrite(_letter_spaced(mapped.text))
    mapped = mapped.rewrite(sorted(contactforms.stand_ins_for_at(mapped.text)))
    mapped = mapped.rewrite(contactevasions.bracketed_at_and_dot(mapped.text))
    mapped = mapped.rewrite(contactevasions.joined_at_and_dot(mapped.text))
    mapped = mapped.rewrite(contactevasions.glued_dots(mapped.text))
    mapped = mapped.rewrite(contactevasions.www_commas(mapped.text))
    mapped = mapped.rewrite(contactdigits.vanity_numbers(mapped.text))
    mapped = mapped.rewrite(contactdigits.repeated_digits(mapped.text))
    mapped = mapped.rewrite(contactdigits.chinese_digits(mapped.text))
    mapped = mapped.rewrite(contactdigits.number_words(mapped.text))
    return mapped.rewrite(contactdigits.letters_for_digits(mapped.text))


# Invisible characters that are not of category Cf (format) but render as nothing.
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0") | frozenset(
    chr(c) for c in range(0xFE00, 0xFE10))
# Full stops that NFKC leaves alone but people use in "gmail。com".
_FULL_STOPS = {"\u3002": ".", "\uff61": ".", "\u06d4": "."}


@functools.lru_cache(maxsize=8192)
def _fold(ch: str) -> str:
    # Format characters and enclosing marks (the keycap in "0️⃣") add nothing a reader sees.
    if ch in _INVISIBLE or unicodedata.category(ch) in ("Cf", "Me"):
        return ""
    # Decimal digits of any script, and digits in circles ("①", "➊") as well.
    digit = unicodedata.digit(ch, None)
    if digit is not None:
        return str(digit)
    category = unicodedata.category(ch)
    if category == "Pd":
        return "-"
    if category == "Zs":
        return " "
    return _FULL_STOPS.get(ch) or unicodedata.normalize("NFKC", ch)


def _fold_characters(text: str) -> MappedText:
    if text.isascii():
        return MappedText(text, list(range(len(text))), list(range(1, len(text) + 1)))
    chars: list[str] = []
    starts: list[int] = []
    for i, ch in enumerate(text):
        folded = ch if ch.isascii() else _fold(ch)
        chars.append(folded)
        starts += [i] * len(folded)
    return MappedText("".join(chars), starts, [i + 1 for i in starts])


_LOOKALIKE_SCRIPTS = frozenset({"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC", "LISU",
                                "LATIN", "MODIFIER"})


@functools.cache
def _confusable_table() -> dict[str, str]:
    """Letters of other scripts that look like one ASCII letter or digit (U+0430 → "a")."""
    table: dict[str, str] = {}
    for target, glyphs in confusables.confusables_data.items():
        if len(target) != 1 or not (target.isascii() and target.isalnum()):
            continue
        for glyph in glyphs:
            char = glyph["c"].strip("\u200e")
            if len(char) == 1 and not char.isascii() and \
                    unicodedata.name(char, "?").split()[0] in _LOOKALIKE_SCRIPTS:
                table.setdefault(char, target)
    return table


_WORD = re.compile(r"\w+")
# A run of characters between spaces, and the punctuation around it that is no part of it.
_CHUNK = re.compile(r"\S+")
_LEAD = "([«\"'“„"
_TRAIL = ".,;:!?)]»\"'”"
# What a word wholly in another script must become to be read in Latin letters: an email
# address ("expo@yahoo.co.uk" typed in Cyrillic), a domain with a lower-case top-level domain
# ("expo.co" in Cyrillic), or digits (Cyrillic capital O for zero between "+7" and "123").
_ADDRESS_SHAPE = re.compile(
    rf"[A-Za-z0-9._%+\-]{{1,64}}@[A-Za-z0-9\-]{{1,63}}(?:\.[A-Za-z0-9\-]{{1,63}}){{0,4}}|"
    rf"(?:www\.)?(?:[A-Za-z0-9\-]{{1,63}}\.){{1,4}}{contactforms.TLD}(?:/\S*)?")
_DIGIT_SHAPE = re.compile(r"[0-9OolI]+")


def _unconfuse(mapped: MappedText) -> MappedText:
    """Map look-alikes in words that mix them with ASCII ("gm\u0430il", a Cyrillic a), and in
    words wholly of look-alikes where the result is an address, a domain or digits.

    Other words wholly in another script are left alone, so Russian or Greek prose stays
    prose (the Russian "OOO" of a company's name, the preposition "co"). The mapping is one
    character for one, so the offsets do not move.
    """
    if mapped.text.isascii():
        return mapped
    table = _confusable_table()

    def latin_word(word: re.Match[str]) -> str:
        token = word.group()
        if token.isascii() or not any(c.isascii() and c.isalnum() for c in token):
            return token
        if all(c.isascii() or c in table for c in token):
            return "".join(table.get(c, c) for c in token)
        return token

    def latin_chunk(chunk: re.Match[str]) -> str:
        whole = chunk.group()
        core = whole.lstrip(_LEAD).rstrip(_TRAIL)
        if core.isascii() or len(core) > 200:
            return whole
        latin, shape = _latin_chunk(core)
        if shape == "address" or (shape == "digits" and _between_digits(chunk)):
            lead = len(whole) - len(whole.lstrip(_LEAD))
            return whole[:lead] + latin + whole[lead + len(core):]
        return whole

    text = _WORD.sub(latin_word, mapped.text)
    return MappedText(_CHUNK.sub(latin_chunk, text), mapped.starts, mapped.ends)


@functools.lru_cache(maxsize=4096)
def _latin_chunk(core: str) -> tuple[str, str]:
    """`core` in Latin letters, and "address", "digits" or "" for the shape that makes."""
    table = _confusable_table()
    if not all(c.isascii() or c in table for c in core):
        return core, ""
    latin = "".join(table.get(c, c) for c in core)
    if _ADDRESS_SHAPE.fullmatch(latin):
        return latin, "address"
    return latin, "digits" if _DIGIT_SHAPE.fullmatch(latin) else ""


def _between_digits(chunk: re.Match[str]) -> bool:
    before = chunk.string[max(0, chunk.start() - 3):chunk.start()].rstrip()
    after = chunk.string[chunk.end():chunk.end() + 3].lstrip()
    return before[-1:].isdigit() and after[:1].isdigit()


# "S A L E S @ A C M E . C O M", "w w w . a c m e . c o m": one character, one space.
_SPACED_OUT = re.compile(r"(?<!\S)(?:[A-Za-z0-9@.][ \t]){4,60}[A-Za-z0-9@.](?!\S)")


def _letter_spaced(text: str) -> Iterator[tuple[int, int, str]]:
    """Letter-spaced addresses, closed up; spaced digits are left to the phone matcher."""
    for match in _SPACED_OUT.finditer(text):
        run = match.group()
        if "@" in run or "." in run:
            yield match.start(), match.end(), run.replace(" ", "").replace("\t", "")
