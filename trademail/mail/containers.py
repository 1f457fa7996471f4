"""Reading what containers hold: zip archives, PDF, gzip, bzip2, xz and zlib streams, PNG,
winmail.dat (TNEF)."""

from __future__ import annotations

import base64
import bz2
import io
import lzma
import re
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable

from trademail.mail.bounds import MAX_ARCHIVE_ENTRIES, Budget, Uninspectable
from trademail.mail.forms import Forms
from trademail.mail.tnef import TNEF_MAGIC, read_winmail

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
_DECOMPRESSORS: dict[str, Callable[[], zlib._Decompress | bz2.BZ2Decompressor |
                                   lzma.LZMADecompressor]] = {
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "bzip2": bz2.BZ2Decompressor, "xz": lzma.LZMADecompressor}


def container_kind(data: bytes) -> str:
    """What kind of container `data` is, by its magic number; "" when none."""
    head = data[:8]
    if head.startswith(TNEF_MAGIC):
        return "tnef"  # first: the files in a winmail.dat may be PDF or zip archives
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


class Containers(ABC):
    """What an `Inspector` does with a container: takes out what it holds and inspects that,
    within the inspector's budget."""

    forms: Forms
    budget: Budget

    @abstractmethod
    def inspect_text(self, text: str, depth: int = 0, *, unicode: bool = True) -> bool:
        """Whether `text` names one of the addresses."""

    @abstractmethod
    def inspect_bytes(self, data: bytes, depth: int = 0, charset: str = "", *,
                      pdf: bool = False) -> bool:
        """Whether `data` names one of the addresses."""

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
        if kind == "tnef":
            return self._winmail(data, depth)
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

    def _winmail(self, data: bytes, depth: int) -> bool:
        """The bodies of a winmail.dat (its rich text decompressed) and the files it carries;
        one that cannot be read is let go (it is inspected as bytes)."""
        winmail = read_winmail(data)
        if winmail is None:
            return False
        if winmail.rtf_unread:
            raise Uninspectable("a rich text body that cannot be decompressed")
        for body in winmail.bodies:
            self.budget.spend(len(body))
            if self.inspect_text(body, depth + 1) if isinstance(body, str) else \
                    self.inspect_bytes(body, depth + 1):
                return True
        for name, content in winmail.files:
            self.budget.spend(len(content))
            if self.inspect_text(name, depth) or self.inspect_bytes(content, depth + 1):
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

