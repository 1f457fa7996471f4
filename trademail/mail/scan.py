"""Looks for a member's address in content of any kind, whatever holds it: charsets (with or
without a byte order mark), base64 (PEM, OpenPGP armour, data: URIs), zlib streams (PDF),
gzip, bzip2, xz, zip archives (Office documents), PDF strings, PNG text chunks, winmail.dat,
files uuencoded in text.

Work is bounded: containers nest at most MAX_DEPTH deep and everything one part expands to
(decoded and decompressed) counts against one `Budget`. Data that cannot be fully inspected
within those bounds (a zip bomb, an encrypted archive, a format that cannot be read) raises
`Uninspectable`, which `mentions` answers with True: what cannot be read cannot be vouched for.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re

from trademail.mail.bounds import (
    MAX_ARCHIVE_ENTRIES,
    MAX_DEPTH,
    MAX_EXPANDED_BYTES,
    MAX_INPUT_BYTES,
    Budget,
    Uninspectable,
)
from trademail.mail.containers import Containers, container_kind
from trademail.mail.forms import Forms, views
from trademail.mail.uuencoded import uuencoded

# The bounds and `container_kind` have modules of their own now; other code still takes them
# from here, with what is defined here.
__all__ = [
    "MAX_ARCHIVE_ENTRIES",
    "MAX_DEPTH",
    "MAX_EXPANDED_BYTES",
    "MAX_INPUT_BYTES",
    "Budget",
    "Inspector",
    "Uninspectable",
    "bom_charset",
    "container_kind",
    "decode_text",
    "legacy_text",
    "mentions",
    "textual",
    "wide_charset",
]

# Base64 runs (PEM, OpenPGP armour, MIME, data: URIs), lines joined; no nested repeats.
_BASE64 = re.compile("[A-Za-z0-9+/]{16,}(?:[ \\t\\r\\n]{1,8}[A-Za-z0-9+/]{4,})*={0,2}")
_BASE64_URL = re.compile("[A-Za-z0-9_-]{16,}={0,2}")
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
# Runs of printable ASCII (and NUL, and the soft hyphen) in binary data: an address, however
# it is escaped, is one of at least this length.
_PRINTABLE = re.compile(b"[\x00\t\n\r\x20-\x7e\xad]{8,}")
# A folded line (iCalendar, vCard: a line break, then blanks), and a fold inside a UTF-8
# character (a lead or continuation byte before it, a continuation byte after), which
# simple clients write (RFC 5545 section 3.1 warns of them).
_FOLD = re.compile(b"(?:\r\n|\n|\r)[ \t]{1,256}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_FOLD_IN_CHARACTER = re.compile(b"(?<=[\x80-\xf4])(?:\r\n|\n|\r)[ \t](?=[\x80-\xbf])")


def bom_charset(data: bytes) -> str:
    return next((charset for bom, charset in _BOMS if data.startswith(bom)), "")


def wide_charset(data: bytes) -> str:
    """UTF-16 or UTF-32 without a byte order mark, told by where its NUL bytes fall."""
    sample = data[:4096]
    if len(sample) < 8 or len(sample) % 2:
        return ""
    zeros = [sample[i::4].count(0) / len(sample[i::4]) for i in range(4)]
    if len(sample) % 4 == 0 and min(zeros[1:]) > 0.9 and zeros[0] < 0.1:
        return "utf-32-le"
    if len(sample) % 4 == 0 and min(zeros[:3]) > 0.9 and zeros[3] < 0.1:
        return "utf-32-be"
    odd, even = (zeros[1] + zeros[3]) / 2, (zeros[0] + zeros[2]) / 2
    # Latin-script text: the other byte of each pair mostly printable ASCII.
    if odd > 0.6 and even < 0.1 and _printable(sample[0::2]):
        return "utf-16-le"
    if even > 0.6 and odd < 0.1 and _printable(sample[1::2]):
        return "utf-16-be"
    return ""


def _printable(sample: bytes) -> bool:
    return sum(1 for b in sample if 0x20 <= b < 0x7F or b in b"\t\r\n") >= 0.8 * len(sample)


def _codec(charset: str) -> str:
    try:
        return codecs.lookup(charset).name
    except (LookupError, TypeError, ValueError):
        return ""


def _folded(data: bytes) -> bool:
    return (b"\n" in data or b"\r" in data) and _FOLD.search(data) is not None


def _unfold(data: bytes) -> bytes:
    """`data` with its folded lines unfolded, as bytes: a fold may split a character."""
    return _FOLD.sub(b"", data)


def _decoded(data: bytes, charset: str = "") -> tuple[str | None, bool]:
    """The text in `data` (see `decode_text`), and whether it surely is that: a byte order
    mark or clean UTF-8 (or ASCII) say so; another declared charset or NUL bytes only
    suggest it. Text that reads cleanly only once a line folded inside a character is
    unfolded is read so: unfolded there, else everywhere."""
    text, sure = _read(data, charset)
    if text is not None or bom_charset(data) or wide_charset(data) or not _folded(data):
        return text, sure
    for unfolded in (_FOLD_IN_CHARACTER.sub(b"", data), _unfold(data)):
        if unfolded != data:
            text, sure = _read(unfolded, charset)
            if text is not None:
                break
    return text, sure


def _read(data: bytes, charset: str) -> tuple[str | None, bool]:
    candidates = [(bom_charset(data), True), (_codec(charset), False),
                  (wide_charset(data), False), ("utf-8", True)]
    for candidate, sure in candidates:
        if not candidate:
            continue
        try:
            text = data.decode(candidate)
        except (UnicodeError, LookupError):
            continue
        if not _SURROGATE.search(text):  # UTF-7 and the like can decode to half a pair
            return text, sure or candidate in ("utf-8", "ascii")
    return None, False


def decode_text(data: bytes, charset: str = "") -> str | None:
    """The text in `data`: by its byte order mark, its declared charset, as UTF-16 or UTF-32
    without a mark (told by its NUL bytes: they are valid UTF-8 too), or UTF-8; None when
    none of them reads it cleanly (it is not text, or not in a charset it says)."""
    return _decoded(data, charset)[0]


def legacy_text(data: bytes) -> str:
    """Text in no charset that can be told: Windows-1252 when it reads so, else Latin-1
    (which reads anything)."""
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def textual(text: str) -> bool:
    """Whether decoded data reads as text: no control characters but line ends and tabs."""
    sample = text[:4096]
    controls = sum(1 for c in sample if c < " " and c not in "\r\n\t\f")
    return controls <= len(sample) // 100


class Inspector(Containers):
    """Looks for the addresses in data of any kind, within one budget."""

    def __init__(self, found: Forms, budget: Budget | None = None) -> None:
        self.forms = found
        self.budget = budget or Budget()

    # ------------------------------------------------------------------ text

    def inspect_text(self, text: str, depth: int = 0, *, unicode: bool = True) -> bool:
        if len(text) > MAX_INPUT_BYTES:
            raise Uninspectable("too much text")
        if self.forms.in_text(text) or self._uuencoded(text, depth):
            return True
        seen: set[str] = set()
        for view in views(text, unicode=unicode):
            self.budget.in_time()
            if self.forms.in_text(view.text):
                return True
            for pattern, altchars in ((_BASE64, None), (_BASE64_URL, b"-_")):
                for match in pattern.finditer(view.text):
                    block = match.group()
                    if block not in seen:
                        seen.add(block)
                        if self._base64(block, altchars, depth):
                            return True
        return False

    def _uuencoded(self, text: str, depth: int) -> bool:
        for file in uuencoded(text):
            self.budget.spend(len(file.data))
            if self.inspect_text(file.name, depth) or (
                    file.data and self.inspect_bytes(file.data, depth + 1)):
                return True
        return False

    def _base64(self, block: str, altchars: bytes | None, depth: int) -> bool:
        letters = "".join(block.split()).rstrip("=")
        if len(letters) % 4 == 1:
            letters = letters[:-1]  # a stray letter: the rest still decodes
        letters += "=" * (-len(letters) % 4)
        if not letters or (altchars is not None and not set("-_") & set(letters)):
            return False
        try:
            data = base64.b64decode(letters.encode("ascii"), altchars=altchars)
        except (binascii.Error, ValueError, UnicodeError):
            return False
        if len(data) < max(self.forms.shortest // 4, 4):
            return False
        self.budget.spend(len(data))
        if self.forms.in_bytes(data):
            return True
        if container_kind(data) or data[:1] == b"\x78" or decode_text(data) is not None or \
                textual(data.decode("latin-1")):
            return self.inspect_bytes(data, depth + 1)
        return False

    # ------------------------------------------------------------------ bytes

    def _as_utf8(self, data: bytes, text: str, depth: int) -> bool:
        """Whether `data`, read in its declared charset as `text`, names an address once
        read as the UTF-8 it also is."""
        as_utf8 = _utf8_or_none(data)
        return as_utf8 is not None and as_utf8 != text and self.inspect_text(as_utf8, depth)

    def inspect_bytes(self, data: bytes, depth: int = 0, charset: str = "", *,
                      pdf: bool = False) -> bool:
        """Whether `data` names one of the addresses, read every way it could be."""
        if depth > MAX_DEPTH or len(data) > MAX_INPUT_BYTES:
            raise Uninspectable("nested too deep or too large")
        self.budget.in_time()
        if self.forms.in_bytes(data):
            return True
        kind = container_kind(data)
        if not kind and _folded(data) and self.forms.in_bytes(_unfold(data)):
            return True
        if kind and self._container(kind, data, depth):
            return True
        pdf = pdf or kind == "pdf"
        text, sure = _decoded(data, charset)
        if text is not None and self.inspect_text(text, depth):
            return True
        if text is not None and not sure and self._as_utf8(data, text, depth):
            return True  # a charset declared wrongly (EBCDIC reads any bytes) hides nothing
        loose = _loose(data, charset) if text is None else None
        if loose is not None and self.inspect_text(loose, depth):
            return True
        if not sure:
            # Not surely text: ASCII-level escapes in its runs of printable characters (an
            # address, however written, is one), NUL bytes kept so UTF-16 without a byte
            # order mark shows.
            runs = _PRINTABLE.findall(data)
            if runs and self.inspect_text(b"\x01".join(runs).decode("latin-1"), depth,
                                          unicode=False):
                return True
        if pdf and self._pdf_strings(data):
            return True
        if text is None and kind in ("", "zip-appended", "tnef"):
            return self._zlib_anywhere(data, depth, pdf=pdf)
        return False


def _utf8_or_none(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _loose(data: bytes, charset: str) -> str | None:
    """Text read leniently (a bad byte or two in a declared charset), when it is text."""
    codec = bom_charset(data) or _codec(charset) or wide_charset(data)
    if not codec:
        return None
    try:
        text = data.decode(codec, "replace")
    except (LookupError, UnicodeError):  # a codec that is not a charset (rot13, base64)
        return None
    return text if textual(text) else None


def mentions(data: bytes | str, found: Forms, *, charset: str = "",
             budget: Budget | None = None, unreadable: bool = True) -> bool:
    """Whether `data` names one of the addresses in any spelling; `unreadable` (True unless
    asked otherwise) when it cannot be fully inspected within the bounds."""
    inspector = Inspector(found, budget)
    try:
        if isinstance(data, str):
            return inspector.inspect_text(data)
        return inspector.inspect_bytes(data, charset=charset)
    except (Uninspectable, RecursionError):
        return unreadable
