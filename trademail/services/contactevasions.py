"""The "@" and "." of an address written some other way, folded back before matching.

"info [ät] firma [punkt] de", "info-at-acme-dot-de", "orders_at_acme_dot_com", "acme·com",
"acmedotcom", "sales at acme dotcom", "www,acme,de". Each function returns edits (start, end,
replacement) for `contacts.MappedText.rewrite`, sorted and disjoint; words for "@" and "dot"
that stand between spaces ("sales arroba acme punto es") are left to `contactforms`, which
weighs them against prose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from trademail.services.contactforms import (
    AT_WORDS,
    DOT_WORDS,
    ONLY_AT_WORDS,
    PROSE_BEFORE_AT,
    TLD,
)

__all__ = ["bracketed_at_and_dot", "glued_dots", "joined_at_and_dot", "middle_dots",
           "www_commas"]

Edit = tuple[int, int, str]

# "[at]", "(at)", "{ät}", "<arroba>", "(.)", "[punkt]": in brackets no word is prose.
_BRACKETED = re.compile(
    rf"[ \t]*[(\[{{<][ \t]*(?:(?P<at>{AT_WORDS}|@)|(?P<dot>{DOT_WORDS}|\.))[ \t]*[)\]}}>][ \t]*"
    r"|(?<=\w)\((?P<a>a)\)(?=\w)", re.IGNORECASE)


def bracketed_at_and_dot(text: str) -> Iterator[Edit]:
    """ "[at]", "(at)", "{dot}", "(.)", "john(a)gmail" are never prose: fold them at once."""
    for match in _BRACKETED.finditer(text):
        yield match.start(), match.end(), "." if match.group("dot") else "@"


# "info-at-acme-dot-de", "orders_at_acmeprint_dot_com": one token, the words joined by
# "-" or "_", ending in a top-level domain. Without "at" it is a web address only when its
# top-level domain is written in lower case and has two or three letters ("acme-dot-com").
_TOKEN = re.compile(r"(?<![\w\-.@])[A-Za-z0-9][\w.\-]{3,199}[A-Za-z0-9]")
_JOINED_END = re.compile(rf"[\-_]d[o0]t[\-_](?P<tld>{TLD})$", re.IGNORECASE)
_JOINED_DOT = re.compile(r"[\-_]d[o0]t[\-_]", re.IGNORECASE)
_JOINED_WORD = re.compile(r"(?P<sep>[\-_])(?:(?P<at>at)|d[o0]t)(?P=sep)", re.IGNORECASE)


def joined_at_and_dot(text: str) -> Iterator[Edit]:
    if not _JOINED_DOT.search(text):
        return
    for token in _TOKEN.finditer(text):
        end = _JOINED_END.search(token.group())
        if end is None:
            continue
        words = list(_JOINED_WORD.finditer(text, token.start(), token.end()))
        first_at = next((word.start() for word in words if word.group("at")), -1)
        tld = end.group("tld")
        if first_at < 0 and (len(tld) > 3 or not tld.islower()):
            continue
        for word in words:
            if word.start() == first_at:
                yield word.start(), word.end(), "@"
            elif word.start() > first_at and not word.group("at"):
                yield word.start(), word.end(), "."


# "acme·com", "acme•co•uk", "acme‧com": a dot in the middle of the line between the labels
# of a name that ends in a top-level domain of the commonest kind. With spaces around it
# ("Tea · Coffee"), or between words ("organic·bio·eco"), it separates the items of a list.
_MIDDLE_DOTTED = re.compile(r"(?<![\w.\-])[\w\-.]{1,63}(?:[·•∙⋅‧・][\w\-]{1,63}){1,4}(?![\w\-])")
_MIDDLE_DOT = re.compile(r"[·•∙⋅‧・]")
_PLAIN_TLD = re.compile(r"com|net|org|info|biz|[a-z]{2}")


def middle_dots(text: str) -> Iterator[Edit]:
    if text.isascii():
        return
    for match in _MIDDLE_DOTTED.finditer(text):
        last = _MIDDLE_DOT.split(match.group())[-1]
        if _PLAIN_TLD.fullmatch(last) and re.fullmatch(TLD, last):
            for dot in _MIDDLE_DOT.finditer(text, match.start(), match.end()):
                yield dot.start(), dot.end(), "."


# "acmedotcom", "palmco DOTCOM": "dot" glued to the commonest top-level domains. Glued to the
# name it is never prose; after a space only where an "@" or a word for a site comes before
# ("sales at acme dotcom", "Visit acme dotcom"), since "early dotcom years" is prose.
_GLUED_TLDS = r"(?:com|net|org|info|biz)(?![\w\-])"
_GLUED_TLD = re.compile(rf"d[o0]t{_GLUED_TLDS}", re.IGNORECASE)
_GLUED = re.compile(rf"(?<=[A-Za-z0-9])d[o0]t(?={_GLUED_TLDS})|"
                    rf"(?<=[A-Za-z0-9])[ \t]d[o0]t(?={_GLUED_TLDS})", re.IGNORECASE)
_GLUED_CUE = re.compile(
    rf"(?:@|[:>]|\b(?:{ONLY_AT_WORDS}|visit|site|website|web|www|url)\b|"
    r"(?P<word>\b[\w.\-]{1,64})[ \t]+at\b)[ \t]*[A-Za-z0-9][A-Za-z0-9\-]{0,62}$", re.IGNORECASE)


def glued_dots(text: str) -> Iterator[Edit]:
    if not _GLUED_TLD.search(text):
        return
    for match in _GLUED.finditer(text):
        word_start = max(0, match.start() - 80)
        if match.group()[0] in " \t" and not _spaced_dot_cued(text, word_start, match.start()):
            continue
        # "anecdotcom" is no word; the name before must not end a word of prose either.
        name = re.search(r"[A-Za-z0-9\-]{1,63}$", text[word_start:match.start()])
        if name and len(name.group()) >= 2:
            yield match.start(), match.end(), "."


def _spaced_dot_cued(text: str, start: int, end: int) -> bool:
    """Does an "@", a word for one, or a word for a site come before "acme dotcom"?"""
    cue = _GLUED_CUE.search(text, start, end)
    # "sold at early dotcom prices": "at" after a word of prose is English.
    return cue is not None and (cue.group("word") or "").lower() not in PROSE_BEFORE_AT


# "www,acme-pellets,de": commas for dots, after "www" only.
_WWW_COMMAS = re.compile(rf"(?<![\w.@\-])www(,)(?:[A-Za-z0-9\-]{{1,63}}(,)){{1,3}}{TLD}"
                         r"(?![\w\-])", re.IGNORECASE)


def www_commas(text: str) -> Iterator[Edit]:
    if "www," not in text.lower():
        return
    for match in _WWW_COMMAS.finditer(text):
        for comma in re.finditer(",", match.group()):
            yield match.start() + comma.start(), match.start() + comma.end(), "."
