"""Looks for a member's address in content of any kind, whatever holds it: charsets (with or
without a byte order mark), base64 (PEM, OpenPGP armour, data: URIs), zlib streams (PDF),
gzip, bzip2, xz, zip archives (Office documents), PDF strings, PNG text chunks.

Work is bounded: containers nest at most MAX_DEPTH deep and everything one part expands to
(decoded and decompressed) counts against one `Budget`. Data that cannot be fully inspected
within those bounds (a zip bomb, an encrypted archive, a format that cannot be read) raises
`Uninspectable`, which `mentions` answers with True: what cannot be read cannot be vouched for.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import codecs
import io
import lzma
import re
import zipfile
import zlib
from collections.abc import Callable

from trademail.mail.forms import Forms, views

# How deep containers may nest (base64 in a zip in a mail in a mail…).
MAX_DEPTH = 8
# What everything inside one part may expand to, decoded and decompressed, in bytes.
MAX_EXPANDED_BYTES = 64 * 1024 * 1024
MAX_ARCHIVE_ENTRIES = 1000
# Bytes looked at in one go; larger input is not inspected at all (so taken to name it).
MAX_INPUT_BYTES = 64 * 1024 * 1024


class Uninspectable(Exception):
    """Data that cannot be fully inspected within the bounds: taken to name the address."""


class Budget:
    """What decoding and decompressing may still produce, in bytes."""

    def __init__(self, left: int = MAX_EXPANDED_BYTES) -> None:
        self.left = left

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise Uninspectable("more content than can be inspected")


# Base64 runs (PEM, OpenPGP armour, MIME, data: URIs), lines joined; no nested repeats.
_BASE64 = re.compile("[A-Za-z0-9+/]{16,}(?:[ \\t\\r\\n]{1,8}[A-Za-z0-9+/]{4,})*={0,2}")
_BASE64_URL = re.compile("[A-Za-z0-9_-]{16,}={0,2}")
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_ZLIB_HEADER = re.compile(b"\\x78[\\x01\\x5e\\x9c\\xda]")
_PDF_STREAM = re.compile(b"stream\\r?\\n")
_PDF_ESCAPE = re.compile(b"\\\\([0-7]{1,3}|[nrtbf()\\\\]|\\r?\\n)")
# A literal string (escapes inside, no nested parentheses) or a hex string.
_PDF_STRING = re.compile(b"\\(((?:[^()\\\\]|\\\\[\\s\\S]){0,4096})\\)|"
                         b"<([0-9A-Fa-f \\t\\r\\n]{2,8192})>")
_PDF_IMAGE = re.compile(b"/Subtype\\s{0,4}/Image|/DCTDecode|/JPXDecode|/CCITTFaxDecode|"
                        b"/JBIG2Decode")
_PDF_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(",
                b")": b")", b"\\": b"\\"}
_UNREADABLE_ARCHIVES = (b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07")
_PNG = b"\x89PNG\r\n\x1a\n"
# Runs of printable ASCII (and NUL, and the soft hyphen) in binary data: an address, however
# it is escaped, is one of at least this length.
_PRINTABLE = re.compile(b"[\x00\t\n\r\x20-\x7e\xad]{8,}")
_DECOMPRESSORS: dict[str, Callable[[], zlib._Decompress | bz2.BZ2Decompressor |
                                   lzma.LZMADecompressor]] = {
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "bzip2": bz2.BZ2Decompressor, "xz": lzma.LZMADecompressor}


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


def _decoded(data: bytes, charset: str = "") -> tuple[str | None, bool]:
    """The text in `data` (see `decode_text`), and whether it surely is that: a byte order
    mark or clean UTF-8 (or ASCII) say so; another declared charset or NUL bytes only
    suggest it."""
    candidates = [(bom_charset(data), True), (_codec(charset), False),
                  (wide_charset(data), False), ("utf-8", True)]
    for candidate, sure in candidates:
        if not candidate:
            continue
        try:
            return data.decode(candidate), sure or candidate in ("utf-8", "ascii")
        except (UnicodeError, LookupError):
            continue
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


class Inspector:
    """Looks for the addresses in data of any kind, within one budget."""

    def __init__(self, found: Forms, budget: Budget | None = None) -> None:
        self.forms = found
        self.budget = budget or Budget()

    # ------------------------------------------------------------------ text

    def inspect_text(self, text: str, depth: int = 0, *, unicode: bool = True) -> bool:
        if len(text) > MAX_INPUT_BYTES:
            raise Uninspectable("too much text")
        if self.forms.in_text(text):
            return True
        seen: set[str] = set()
        for view in views(text, unicode=unicode):
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

    def inspect_bytes(self, data: bytes, depth: int = 0, charset: str = "", *,
                      pdf: bool = False) -> bool:
        """Whether `data` names one of the addresses, read every way it could be."""
        if depth > MAX_DEPTH or len(data) > MAX_INPUT_BYTES:
            raise Uninspectable("nested too deep or too large")
        if self.forms.in_bytes(data):
            return True
        kind = container_kind(data)
        if kind and self._container(kind, data, depth):
            return True
        pdf = pdf or kind == "pdf"
        text, sure = _decoded(data, charset)
        if text is not None and self.inspect_text(text, depth):
            return True
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
        if text is None and kind in ("", "zip-appended"):
            return self._zlib_anywhere(data, depth, pdf=pdf)
        return False

    def _container(self, kind: str, data: bytes, depth: int) -> bool:
        if kind == "unreadable":
            raise Uninspectable("an archive format that cannot be read")
        if kind in ("zip", "zip-appended"):
            return self._zip(data, depth, strict=kind == "zip")
        if kind in ("gzip", "bzip2", "xz"):
            return self.inspect_bytes(self._expand(kind, data), depth + 1)
        if kind == "png":
            return self._png(data, depth)
        if kind == "pdf":
            return self._pdf_streams(data, depth)
        return False

    def _expand(self, kind: str, data: bytes) -> bytes:
        """All of a gzip, bzip2 or xz stream (several members too), within the budget."""
        out: list[bytes] = []
        rest = data
        while rest:
            decompressor = _DECOMPRESSORS[kind]()
            try:
                chunk = decompressor.decompress(rest, max(self.budget.left, 0) + 1)
            except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
                raise Uninspectable("a compressed stream that cannot be read") from None
            self.budget.spend(len(chunk))
            out.append(chunk)
            done, rest = decompressor.eof, decompressor.unused_data
            if not done:
                raise Uninspectable("a compressed stream that ends early")
            rest = rest.lstrip(b"\x00")
            if container_kind(rest) != kind:
                break  # whatever trails the last member is read as it is, with the rest
        return b"".join(out)

    def _zip(self, data: bytes, depth: int, *, strict: bool) -> bool:
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            entries = archive.infolist()
        except Exception:  # zipfile raises a dozen kinds on hostile input
            if not strict:
                return False  # the end marker was a coincidence in other data
            raise Uninspectable("an archive that cannot be read") from None
        if len(entries) > MAX_ARCHIVE_ENTRIES:
            raise Uninspectable("too many entries in an archive")
        if self.inspect_text(archive.comment.decode("latin-1"), depth, unicode=False):
            return True
        for entry in entries:
            if self.inspect_text(entry.filename, depth) or self.forms.in_bytes(entry.extra):
                return True
            if entry.flag_bits & 0x1 or entry.file_size > self.budget.left:
                raise Uninspectable("an encrypted or oversized archive entry")
            try:
                with archive.open(entry) as stream:
                    content = stream.read(max(self.budget.left, 0) + 1)
            except Exception:  # CRC, compression method, truncation: all of them unreadable
                raise Uninspectable("an archive entry that cannot be read") from None
            self.budget.spend(len(content))
            if self.inspect_bytes(content, depth + 1):
                return True
        return False

    def _png(self, data: bytes, depth: int) -> bool:
        """Text chunks of a PNG; the image data itself is pixels, not text."""
        position = len(_PNG)
        while position + 12 <= len(data):
            size = int.from_bytes(data[position:position + 4], "big")
            kind = data[position + 4:position + 8]
            body = data[position + 8:position + 8 + size]
            position += 12 + size
            if kind == b"zTXt":
                compressed = body.partition(b"\x00")[2][1:]
            elif kind == b"iTXt":
                rest = body.partition(b"\x00")[2]
                if rest[:1] != b"\x01":
                    continue
                compressed = rest[2:].split(b"\x00", 2)[-1]
            else:
                continue
            if self._inflate(compressed, depth):
                return True
        return False

    def _inflate(self, data: bytes | memoryview, depth: int, *, pdf: bool = False) -> bool:
        """A zlib stream at the start of `data`: data that is not one is let go (it may just
        look like one); one that expands past the budget is Uninspectable."""
        decompressor = zlib.decompressobj()
        try:
            content = decompressor.decompress(data, max(self.budget.left, 0) + 1)
        except zlib.error:
            return False
        self.budget.spend(len(content))
        return bool(content) and self.inspect_bytes(content, depth + 1, pdf=pdf)

    def _pdf_streams(self, data: bytes, depth: int) -> bool:
        view = memoryview(data)
        for match in _PDF_STREAM.finditer(data):
            start = match.end()
            head_from = data.rfind(b"obj", max(0, match.start() - 4096), match.start())
            head = data[head_from if head_from >= 0 else max(0, match.start() - 1024):
                        match.start()]
            if _PDF_IMAGE.search(head):
                continue  # pixels: nothing in them reads as text
            stream: bytes | memoryview = view[start:]
            if b"/ASCII85Decode" in head or b"/A85" in head:
                end = data.find(b"~>", start)
                try:
                    stream = base64.a85decode(data[start:end + 2 if end >= 0 else None],
                                              adobe=False, ignorechars=b" \t\r\n~>")
                except ValueError:
                    continue
                self.budget.spend(len(stream))
            elif b"/ASCIIHexDecode" in head or b"/AHx" in head:
                end = data.find(b">", start)
                text = data[start:end if end >= 0 else None]
                try:
                    stream = bytes.fromhex(re.sub(b"[^0-9A-Fa-f]", b"", text).decode())
                except ValueError:
                    continue
            if bytes(stream[:1]) == b"\x78" and self._inflate(stream, depth, pdf=True):
                return True
            if isinstance(stream, bytes) and self.inspect_bytes(stream, depth + 1, pdf=True):
                return True
        return False

    def _pdf_strings(self, data: bytes) -> bool:
        """PDF strings: escapes undone (octal "\\100" is "@"; UTF-16BE text), hex strings
        read, and all of them joined in order, for text is shown piece by piece ("[(bak)
        -20 (ari@…)] TJ")."""
        unescaped = _PDF_ESCAPE.sub(_pdf_unescape, data)
        if self.forms.in_bytes(unescaped):
            return True
        pieces = []
        for match in _PDF_STRING.finditer(data):
            literal, digits = match.group(1), match.group(2)
            if literal is not None:
                pieces.append(_PDF_ESCAPE.sub(_pdf_unescape, literal))
            else:
                digits = re.sub(b"[^0-9A-Fa-f]", b"", digits)
                pieces.append(bytes.fromhex((digits + b"0"[:len(digits) % 2]).decode()))
        return self.forms.in_bytes(b"".join(pieces))

    def _zlib_anywhere(self, data: bytes, depth: int, *, pdf: bool) -> bool:
        """zlib streams inside data of an unknown kind."""
        view = memoryview(data)
        for match in _ZLIB_HEADER.finditer(data):
            if (match.group()[0] << 8 | match.group()[1]) % 31 == 0 and \
                    self._inflate(view[match.start():], depth, pdf=pdf):
                return True
        return False


def _pdf_unescape(match: re.Match[bytes]) -> bytes:
    token = match.group(1)
    if token[:1].isdigit():
        return bytes([int(token, 8) & 0xFF])
    return _PDF_ESCAPES.get(token, b"")


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


def container_kind(data: bytes) -> str:
    """What kind of container `data` is, by its magic number; "" when none."""
    head = data[:8]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and data[4:10] == b"1AY&SY":
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(_PNG):
        return "png"
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if head.startswith(_UNREADABLE_ARCHIVES):
        return "unreadable"
    if b"PK\x05\x06" in data[-65_600:]:
        return "zip-appended"  # a zip after other data (self-extracting, polyglot)
    return ""


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
