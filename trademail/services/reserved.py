"""Names that claim to be the marketplace or its staff, refused however their letters are dressed.

Usernames, company names and the word of a relay alias all go through `claims_staff`.

How a name is read. After NFKC, every character becomes a *position*: the Latin letters it
may stand for, likeliest first. Case is folded and diacritics stripped; letters of other
scripts that look Latin (Cyrillic dze for s, Greek alpha for a, Cherokee letters, small
capitals, letters with strokes, squared and regional-indicator letters) are mapped through
`confusable_homoglyphs` and the Unicode character names; leetspeak digits and signs (4 a,
3 e, 1 i or l, 0 o, 5 s, 7 t, $ s, @ a, ! i, | l, + t) may be letters too. Spaces,
punctuation, symbols and invisible characters (zero-width, bidi controls, Hangul fillers,
stray combining marks) are dropped. `skeleton` joins the likeliest reading of each position.
Letters of other scripts that look like nothing Latin are kept as themselves, so a Chinese
or Arabic name never spells a term. A name holding a bidi override is also read backwards,
as the override shows it.

A name is refused when either holds:

1. Some stretch of it reads as a marketplace term (`reserved_terms`): the brand forms
   (tradestaff, trademail, tradeteam, tradeadmin, tradesupport, tradesecurity) and every
   distinctive label of the relay domain six or more letters long. Anywhere, even inside a
   longer word: "Global Trade Staffing" reads as the brand and is refused too.
2. The whole of it splits into vocabulary words and digits, with at least one word. The
   vocabulary is the role words (staff, admin, support, security, abuse, postmaster, ...),
   the filler words (team, department, services, customer, care, the, of, ...), the
   marketplace words (trade, mail, the brand forms) and the relay domain's shorter labels.
   "Staff Support Team", "supportteam", "admin2", "the-staff" and "Security Dept." are
   refused. One word outside the vocabulary makes an ordinary name, so these pass: "Acme
   Security Solutions"; "Nairobi Support Services Ltd" (a legal suffix is not filler);
   "adminkenya" (place names are not filler: members name themselves after their country);
   "Administaff Logistics", "Staffordshire Ceramics" and "supporter" (a longer word that
   merely begins with a role word is a word of its own).

Rule 2 looks at names of up to 256 positions (no name field is longer); a longer text is
judged by rule 1 alone. A check costs well under a millisecond for an ordinary name and a
few milliseconds for the most ambiguous 200 characters.

Ambiguity counts against the name: a capital I may be an l; 1 may be i, l or a digit;
$ @ ! | + may be letters or punctuation; rn may be m, vv w and cl d; and in words of five
letters or more a letter may be written once or repeated ("Suppport", "Trade Staf"). A
lowercase l is never read as i, because the missing dot shows: "Kampala Trade Mall" passes.
Words in scripts other than Latin are not in the vocabulary.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import idna
from confusable_homoglyphs import confusables

__all__ = ["BRAND_TERMS", "FILLER_WORDS", "ROLE_WORDS", "claims_staff", "reserved_terms",
           "skeleton"]

BRAND_TERMS = frozenset({
    "tradestaff", "trademail", "tradeteam", "tradeadmin", "tradesupport", "tradesecurity",
})

# Mailboxes and jobs that speak for the marketplace, with the French, Spanish, Portuguese and
# Swahili words members of an import/export marketplace are likely to use for the same.
ROLE_WORDS = frozenset({
    "staff", "staffer", "admin", "administrator", "administration", "sysadmin", "sysop", "root",
    "superuser", "support", "helpdesk", "helpline", "security", "secops", "infosec", "abuse",
    "postmaster", "hostmaster", "webmaster", "mailerdaemon", "daemon", "noreply", "donotreply",
    "moderator", "moderation", "mod", "official", "verification", "verify", "verified",
    "compliance", "billing", "payment", "fraud", "antifraud", "operator", "personnel",
    "employee", "administrateur", "administrador", "moderateur", "moderador", "soporte",
    "suporte", "securite", "seguridad", "seguranca", "usalama", "msaada", "wafanyakazi",
})

# Words that name no one: a name made only of these and role words is an institution's voice.
FILLER_WORDS = frozenset({
    "team", "group", "unit", "division", "department", "dept", "desk", "center", "centre",
    "service", "office", "bureau", "hq", "headquarters", "marketplace", "market", "platform",
    "site", "website", "portal", "account", "help", "customer", "client", "member", "user",
    "care", "safety", "trust", "notification", "notify", "alert", "info", "information",
    "contact", "enquiry", "enquiries", "inquiry", "inquiries", "system", "automated", "bot",
    "robot", "agent", "manager", "management", "it", "tech", "technical", "ops", "operations",
    "inbox", "message", "messaging", "relay", "equipe", "equipo", "servicio", "servico",
    "cliente", "departement", "departamento", "centro", "timu", "huduma",
})

# Filler too, but never plural. English only: short words of other languages ("de", "la")
# would let ordinary names such as "Dela" split into filler.
_FUNCTION_WORDS = frozenset({"the", "of", "and", "for", "our", "your", "my"})

_MARKETPLACE_WORDS = frozenset({"trade", "mail", "email", "tm"})

# Labels of the relay domain that say nothing about who runs it; every label of one or two
# letters (country codes, co, ac, or) and every all-digit label is ignored as well.
_GENERIC_LABELS = frozenset({
    "relay", "mail", "email", "smtp", "mx", "mta", "imap", "pop", "pop3", "www", "web",
    "localhost", "localdomain", "local", "example", "test", "invalid", "internal", "lan",
    "home", "intranet", "corp", "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz",
    "name", "pro", "app", "dev", "cloud", "online", "site", "tech", "xyz", "shop", "store",
    "africa", "asia", "ltd", "plc", "inc", "llc", "sch", "msg", "inbound", "outbound",
    "bounce", "bounces", "reply", "replies", "api", "secure", "gateway", "server", "host",
    "prod", "production", "staging", "stage", "sandbox", "demo",
})
_MIN_ANYWHERE = 6  # shorter relay labels ("acme") would refuse too many names ("Acmeline")
_MIN_STRETCHY = 5  # "mood" must not read as "mod"
_MAX_SPLIT = 256  # positions rule 2 examines; no name field is longer

_NOTHING = " "  # a reading meaning "this position may be punctuation and stand for nothing"
_LEET = {
    "0": "o", "1": "il", "3": "e", "4": "a", "5": "s", "7": "t",
    "@": "a", "$": "s", "!": "i", "|": "il", "+": "t", "€": "e", "¢": "c",
}
_GLYPH_PAIRS = {"m": "rn", "w": "vv", "d": "cl"}  # two letters that together look like one
# Decorations NFKC would otherwise spell out as letters ("™" becomes "TM").
_DECORATIONS = str.maketrans("", "", "™℠®©℗")
# Letters that render as blank space; the other invisible characters are in categories C, Z, M.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_REORDERING = frozenset("\u202a\u202b\u202d\u202e\u2066\u2067\u2068")
# What the Unicode names call a Latin letter with a stroke or hook, a small capital, or a
# squared, circled or regional-indicator letter: the letter it shows.
_LATIN_NAME = re.compile(
    r"(?:[A-Z]+ )*(?:LATIN (?:SMALL |CAPITAL |SMALL CAPITAL )?LETTER (?:SMALL CAPITAL )?"
    r"|REGIONAL INDICATOR SYMBOL LETTER )([A-Z])(?: WITH .*)?"
)
_REPEATS = re.compile(r"(.)\1+")

_Positions = tuple[str, ...]  # per position, the letters it may read as, likeliest first


@dataclass(frozen=True)
class _Pattern:
    """A term to look for: its letters, and whether each may be written once or repeated."""

    letters: str
    stretchy: bool


@dataclass(frozen=True)
class _Rules:
    """Everything `claims_staff` needs for one relay domain, built once."""

    anywhere: tuple[_Pattern, ...]
    vocabulary: dict[str, tuple[_Pattern, ...]]  # by first letter


@dataclass(frozen=True)
class _Masks:
    """A name's positions as bitmasks, so a pattern is matched from many starts at once.

    Bit i of `letters[c]` is set when position i may read as c; `pairs[c]` when positions
    i and i + 1 together may (rn for m); `nothing` when position i may be punctuation.
    """

    size: int
    letters: dict[str, int]
    pairs: dict[str, int]
    nothing: int
    filler: int  # digits and punctuation, which may stand between vocabulary words


def claims_staff(name: str, *, relay_domain: str) -> bool:
    """Whether `name` reads as the marketplace itself or as one of its staff (see the module)."""
    rules = _rules(relay_domain.strip().strip(".").lower())
    # A right-to-left override shows the letters after it backwards: "\u202effatsedart".
    readings = (name, name[::-1]) if _REORDERING.intersection(name) else (name,)
    for text in readings:
        masks = _masks(_positions(text))
        if _contains_term(masks, rules.anywhere) or _all_vocabulary(masks, rules.vocabulary):
            return True
    return False


def reserved_terms(relay_domain: str) -> frozenset[str]:
    """The terms refused anywhere in a name: the brand forms and the relay domain's long labels."""
    return _terms(relay_domain.strip().strip(".").lower())[0]


def skeleton(text: str) -> str:
    """The likeliest reading of `text`: NFKC, case folded, Latin look-alikes, no diacritics,
    leetspeak, without separators or invisible characters ("Trade-St@ff" is "tradestaff")."""
    return "".join(position[0] for position in _positions(text))


def _positions(text: str) -> _Positions:
    text = unicodedata.normalize("NFKC", text.translate(_DECORATIONS))
    return tuple(position for char in text for position in _readings(char))


@lru_cache(maxsize=8192)  # the homoglyph lookup is slow-ish; names reuse few characters
def _readings(char: str) -> _Positions:
    """The positions one NFKC character stands for: none, one, or several (sharp s is ss)."""
    if char in _LEET:
        return (_LEET[char] + (char if char.isdigit() else _NOTHING),)
    if char.isascii():
        if char == "I":
            return ("il",)
        return (char.lower(),) if char.isalnum() else ()
    category = unicodedata.category(char)
    if char in _INVISIBLE or category[0] in "CZM":
        return ()
    if char.isdecimal():
        return _readings(str(unicodedata.decimal(char)))
    folded = char.casefold()
    if len(folded) > 1:
        return tuple(position for part in folded for position in _readings(part))
    # The character as shown and in lower case, each also without accents (a Greek capital
    # epsilon with tonos is still an E), and the glyphs each can be mistaken for.
    forms = [form for form in dict.fromkeys((char, _strip_marks(char), folded,
                                             _strip_marks(folded))) if len(form) == 1]
    letters = _unique(_latin_letter(glyph)
                      for glyph in forms + [h for form in forms for h in _homoglyphs(form)])
    if category[0] in "PS":
        # A sign that looks like a letter (DIVIDES for l) may still be only a separator.
        return (letters + _NOTHING,) if letters else ()
    return (letters or folded,)


def _latin_letter(glyph: str) -> str:
    """The ASCII letter `glyph` is a dressed-up form of, or "" when it is none."""
    glyph = "".join(c for c in glyph if unicodedata.category(c) != "Cf")  # bidi marks in data
    plain = _strip_marks(unicodedata.normalize("NFKC", glyph).casefold())
    if len(plain) == 1 and plain.isascii() and plain.isalpha():
        return plain
    if len(glyph) == 1 and (match := _LATIN_NAME.fullmatch(unicodedata.name(glyph, ""))):
        return match.group(1).lower()
    return ""


def _strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _homoglyphs(char: str) -> list[str]:
    found = confusables.is_confusable(char, greedy=True)
    return [h["c"] for entry in found or () for h in entry["homoglyphs"]]


def _unique(letters: Iterable[str]) -> str:
    return "".join(dict.fromkeys(letter for letter in letters if letter))


@lru_cache(maxsize=32)  # one relay domain in practice
def _terms(relay_domain: str) -> tuple[frozenset[str], frozenset[str]]:
    """The terms refused anywhere, and the whole vocabulary, for one relay domain."""
    labels = set(_distinctive(relay_domain.split(".")))
    # "acme-exports" names the relay, but "exports" alone is any exporter's word.
    parts = set(_distinctive(part for label in relay_domain.split(".")
                             for part in label.split("-")))
    words = ROLE_WORDS | FILLER_WORDS | _MARKETPLACE_WORDS | BRAND_TERMS
    anywhere = BRAND_TERMS | {label for label in labels
                              if len(label) >= _MIN_ANYWHERE and label not in words}
    return anywhere, words | labels | parts


def _distinctive(labels: Iterable[str]) -> Iterable[str]:
    for label in labels:
        if label.startswith("xn--"):
            try:
                label = idna.decode(label)
            except UnicodeError:  # not valid punycode: read it as written
                pass
        plain = skeleton(label)
        if len(plain) > 2 and not plain.isdigit() and plain not in _GENERIC_LABELS:
            yield plain


@lru_cache(maxsize=32)
def _rules(relay_domain: str) -> _Rules:
    anywhere, vocabulary = _terms(relay_domain)
    index: dict[str, list[_Pattern]] = {}
    for word in vocabulary | _FUNCTION_WORDS:
        pattern = _pattern(word)
        index.setdefault(pattern.letters[0], []).append(pattern)
        if len(word) > 2 and word[-1] != "s" and word not in _FUNCTION_WORDS:
            # A plural keeps its singular's strictness: "roots" is not "rots".
            index[pattern.letters[0]].append(_Pattern(pattern.letters + "s", pattern.stretchy))
    return _Rules(tuple(map(_pattern, anywhere)),
                  {first: tuple(patterns) for first, patterns in index.items()})


def _pattern(word: str) -> _Pattern:
    if len(word) >= _MIN_STRETCHY:
        return _Pattern(_REPEATS.sub(r"\1", word), stretchy=True)
    return _Pattern(word, stretchy=False)


def _masks(positions: _Positions) -> _Masks:
    letters: dict[str, int] = {}
    for i, position in enumerate(positions):
        for letter in position:
            letters[letter] = letters.get(letter, 0) | 1 << i
    nothing = letters.pop(_NOTHING, 0)
    digits = 0
    for letter, mask in letters.items():
        if letter.isdigit():
            digits |= mask
    pairs = {letter: letters.get(pair[0], 0) & letters.get(pair[1], 0) >> 1
             for letter, pair in _GLYPH_PAIRS.items()}
    return _Masks(len(positions), letters, pairs, nothing, digits | nothing)


def _contains_term(masks: _Masks, terms: tuple[_Pattern, ...]) -> bool:
    everywhere = (1 << masks.size) - 1
    return any(_ends(masks, everywhere, term) for term in terms)


def _all_vocabulary(masks: _Masks, vocabulary: dict[str, tuple[_Pattern, ...]]) -> bool:
    """A word break over the vocabulary, digits and punctuation, needing at least one word."""
    if not masks.size or masks.size > _MAX_SPLIT:
        return False
    bare = 1  # positions reached from the start over filler alone
    worded = 0  # positions reached with at least one vocabulary word behind
    for i in range(masks.size):
        bit = 1 << i
        if not (bare | worded) & bit:
            continue
        if masks.filler & bit:
            bare |= (bare & bit) << 1
            worded |= (worded & bit) << 1
        for pattern in _starting_at(masks, bit, vocabulary):
            worded |= _ends(masks, bit, pattern)
    return bool(worded >> masks.size & 1)


def _starting_at(masks: _Masks, bit: int,
                 vocabulary: dict[str, tuple[_Pattern, ...]]) -> Iterable[_Pattern]:
    for letter, patterns in vocabulary.items():
        if (masks.letters.get(letter, 0) | masks.pairs.get(letter, 0)) & bit:
            yield from patterns


def _ends(masks: _Masks, starts: int, pattern: _Pattern) -> int:
    """Where a reading of `pattern` begun at any of `starts` can end, as a bitmask."""
    frontier = starts
    for k, letter in enumerate(pattern.letters):
        if k:  # punctuation read as nothing may sit inside a word: "Sup!port"
            frontier |= _through_runs(frontier & masks.nothing, masks.nothing)
        same = masks.letters.get(letter, 0)
        reached = (frontier & same) << 1 | (frontier & masks.pairs.get(letter, 0)) << 2
        if pattern.stretchy:  # more of the same letter, punctuation between: "Staf.f"
            run = same | masks.nothing
            reached |= _through_runs(reached & run, run)
        frontier = reached
        if not frontier:
            break
    return frontier


def _through_runs(starts: int, run: int) -> int:
    """Where one or more consecutive positions of `run` end, entered at any of `starts`.

    Adding `starts` to `run` carries each start through the rest of its run, so this
    costs a few integer operations however long the run is.
    """
    covered = ((run + starts) ^ run ^ starts) & run | starts
    return covered << 1
