"""Digits written as something else, rewritten as digits for the phone matcher.

Number words in English, French, German, Spanish, Portuguese, Italian and Turkish ("zéro six
douze", "sifir bes"), Chinese numerals one per digit ("一三八"), "double oh nine", and letters
that look like digits inside a run of digits ("O8O5 l23"). Each function returns edits
(start, end, replacement) for `contacts.MappedText.rewrite`; none moves a character it does
not replace.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers
from text_to_num import find_numbers

__all__ = ["chinese_digits", "letters_for_digits", "number_words", "repeated_digits",
           "vanity_numbers"]


# Words and digit runs are what text_to_num reads; a hyphen joins "trente-quatre".
_NUMBER_TOKEN = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿıİşŞğĞ]+|\d+|-")
_NUMBER_LANGUAGES = ("en", "fr", "de", "es", "pt", "it")
# text_to_num has no Turkish; its digits are all a phone number needs, written with Turkish
# letters or without them ("sifir bes uc").
_TURKISH_DIGITS = {word: str(i % 10) for i, word in enumerate(
    "sıfır bir iki üç dört beş altı yedi sekiz dokuz sifir bir iki uc dort bes alti yedi "
    "sekiz dokuz".split())}


class _Token:
    """The token protocol text_to_num reads."""

    __slots__ = ("word",)

    def __init__(self, word: str) -> None:
        self.word = word

    def text(self) -> str:
        return self.word

    def nt_separated(self, previous: _Token) -> bool:
        return False

    def not_a_number_part(self) -> bool:
        return False


def number_words(text: str) -> list[tuple[int, int, str]]:
    """Spelled-out digits ("zero eight hundred", "zéro six douze") as digits.

    Only runs of two or more numbers (or a number word next to digits) are rewritten, so
    "one of the best" stays prose while "nine one seven 555" becomes "9 1 7 555".
    """
    tokens = list(_tokens_for_numbers(text))
    if not any(word[0].isalpha() for _, _, word in tokens):
        return []
    words = [_Token(word) for _, _, word in tokens]
    # A lone "o" is "or" in Spanish, Italian and Portuguese ("612 345 678 o 91 …"); a zero
    # written as a letter is read, more strictly, by _letters_for_digits.
    found = [(number.start, number.end, number.text) for language in _NUMBER_LANGUAGES
             for number in find_numbers(words, language, 0.0)
             if not number.is_ordinal and not _lone_o(words, number.start, number.end)
             and not _counts(words, number.start, number.end)]
    found += [(i, i + 1, _TURKISH_DIGITS[word.lower()]) for i, (_, _, word) in enumerate(tokens)
              if word.lower() in _TURKISH_DIGITS]
    # Where languages disagree the longest reading wins: French "zéro six" over English "six".
    values: dict[int, tuple[int, str]] = {}
    taken = 0
    for start, end, digits in sorted(found, key=lambda f: (f[0], f[0] - f[1])):
        if start >= taken:
            values[start] = (end, digits)
            taken = end
    return list(_digit_runs(text, tokens, values))


# "68 million impressions", "deux mille tonnes": an amount, never read out digit by digit.
_SCALE_WORDS = frozenset("""
    thousand thousands million millions billion billions lakh lakhs crore crores mille mil
    milles millier milliers milliard milliards tausend million millionen milliarde milliarden
    millón millones millon mil milhão milhões milhao milhoes bilhão milione milioni miliardo
    miliardi mila bin milyon milyar
""".split())


def _counts(words: list[_Token], start: int, end: int) -> bool:
    return any(word.word.lower() in _SCALE_WORDS for word in words[start:end])


def _lone_o(words: list[_Token], start: int, end: int) -> bool:
    return end - start == 1 and words[start].word.lower() in ("o", "oh")


def _tokens_for_numbers(text: str) -> Iterator[tuple[int, int, str]]:
    """Tokens with a "," wherever anything but spaces and hyphens separates two of them."""
    previous_end = 0
    for match in _NUMBER_TOKEN.finditer(text):
        if previous_end and text[previous_end:match.start()].strip(" \t-"):
            yield previous_end, match.start(), ","
        yield match.start(), match.end(), match.group()
        previous_end = match.end()


def _digit_runs(text: str, tokens: list[tuple[int, int, str]],
                values: dict[int, tuple[int, str]]) -> Iterator[tuple[int, int, str]]:
    """One edit per run of spelled numbers and the digits written between them.

    "zero eight zero three, 1 2 3, four five six seven" is one run; the commas go. A spoken
    "plus" before a long run is the international prefix.
    """
    i = 0
    while i < len(tokens):
        if i not in values:
            i += 1
            continue
        first, numbers = i, []
        while i < len(tokens) and (i in values or tokens[i][2].isdigit()):
            i, number = values[i] if i in values else (i + 1, tokens[i][2])
            numbers.append(number)
            if _joins_numbers(text, tokens, i, values):
                i += 1
        if len(numbers) > 1 or _digits_at(tokens, first - 1, -1) or _digits_at(tokens, i, 1):
            digits = " ".join(numbers)
            if first and tokens[first - 1][2].lower() == "plus" and len(digits) > 8:
                first, digits = first - 1, "+" + digits
            yield tokens[first][0], tokens[i - 1][1], digits


_LIST_COMMA = re.compile(r"[ \t]*,[ \t]+")


def _joins_numbers(text: str, tokens: list[tuple[int, int, str]], at: int,
                   values: dict[int, tuple[int, str]]) -> bool:
    """Does a hyphen or a comma at `at` sit between two numbers of one run?"""
    if at + 1 >= len(tokens) or tokens[at][2] not in (",", "-"):
        return False
    # A list's comma ("three, 1 2 3"), not a thousands separator ("2,000") or a full stop.
    if tokens[at][2] == "," and not _LIST_COMMA.fullmatch(text, tokens[at][0], tokens[at][1]):
        return False
    return at + 1 in values or tokens[at + 1][2].isdigit()


def _digits_at(tokens: list[tuple[int, int, str]], at: int, step: int) -> bool:
    """Is the token at `at` (or past a hyphen there) a run of digits?"""
    if 0 <= at < len(tokens) and tokens[at][2] == "-":
        at += step
    return 0 <= at < len(tokens) and tokens[at][2].isdigit()


# A run of digits written with letters that look like them: "O8O5 l23 4567", "0 8 O 3".
_DIGITISH = re.compile(r"(?<![0-9A-Za-z])(?:[0-9OoIl]{2,24}|oh|Oh|OH|O|o|l|I)(?![0-9A-Za-z])")
_LETTER_DIGITS = str.maketrans("OoIl", "0011")
# "一三八 零零一三 八零零零": Chinese numerals, one for each digit, as phone numbers are read out.
_CHINESE_DIGITS = str.maketrans("〇零一二两三四五六七八九幺", "0012234567891")
_CHINESE_RUN = re.compile(
    r"[〇零一二两三四五六七八九幺](?:[ \t\-]{0,2}[〇零一二两三四五六七八九幺]){6,19}")


def chinese_digits(text: str) -> Iterator[tuple[int, int, str]]:
    for match in _CHINESE_RUN.finditer(text):
        yield match.start(), match.end(), match.group().translate(_CHINESE_DIGITS)


# "double oh nine", "triple 5": read before the number words, so that the digits join their run.
_SPOKEN_DIGITS = {word: str(i % 10) for i, word in enumerate(
    "zero one two three four five six seven eight nine oh".split())} | {"o": "0"}
_REPEATED = re.compile(r"\b(?:double|doble|doppel|doppio|triple|triplo)[ \t]+"
                       r"(\d|oh?|zero|one|two|three|four|five|six|seven|eight|nine)\b",
                       re.IGNORECASE)


def repeated_digits(text: str) -> Iterator[tuple[int, int, str]]:
    for match in _REPEATED.finditer(text):
        times = 3 if match.group().lower().startswith("tripl") else 2
        digit = _SPOKEN_DIGITS.get(match.group(1).lower(), match.group(1))
        yield match.start(), match.end(), " ".join(digit * times)


def letters_for_digits(text: str) -> list[tuple[int, int, str]]:
    edits = []
    for match in _DIGITISH.finditer(text):
        token = match.group()
        if any(c.isdigit() for c in token):
            if not token.isdigit():
                edits.append((match.start(), match.end(), token.translate(_LETTER_DIGITS)))
        elif _between_digits(text, match.start(), match.end()):
            edits.append((match.start(), match.end(),
                          "0" if token.lower() == "oh" else token.translate(_LETTER_DIGITS)))
    return edits


def _between_digits(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 2):start].rstrip(" \t-.")
    after = text[end:end + 2].lstrip(" \t-.")
    return bool(before) and before[-1].isdigit() and bool(after) and after[0].isdigit()


# "1-800-FLOWERS", "1-888-GO-FEDEX", "0800-FLORIST": a toll-free prefix, then seven or more
# capitals and digits that the keypad turns into digits. Joined by hyphens it is written as a
# number; joined by spaces ("1 800 CARPETS") only after a word such as "call" or "hotline",
# since "1 800 CARTONS" is a quantity.
_VANITY = re.compile(
    r"(?<![\w+\-])(?:\+?1(?P<s1>[ \t\-.]))?\(?(?:8(?:00|33|44|55|66|77|88)|0800|0808|1800|1300)\)?"
    r"(?P<s2>[ \t\-.])(?=(?:[A-Z0-9]-?){7,12}(?![\w\-]))(?=[A-Z0-9\-]*[A-Z]{3})"
    r"(?P<word>[A-Z0-9]{1,12}(?:-[A-Z0-9]{1,12}){0,2})(?![\w\-])")
_TOLL_FREE = re.compile(r"8(?:00|33|44|55|66|77|88)|0808|1300")
_VANITY_CUE = re.compile(r"\b(?:call|tel|phone|dial|hotline|toll[ \t\-]?free|free[ \t]call|"
                         r"freephone|ring)\b[^\n]{0,20}$", re.IGNORECASE)


def vanity_numbers(text: str) -> Iterator[tuple[int, int, str]]:
    if not _TOLL_FREE.search(text):
        return
    for match in _VANITY.finditer(text):
        spaced = " " in (match.group("s1") or "") + match.group("s2")
        if spaced and not _VANITY_CUE.search(text, max(0, match.start() - 40), match.start()):
            continue
        word = match.group("word")
        yield match.start("word"), match.end("word"), \
            phonenumbers.convert_alpha_characters_in_number(word)
