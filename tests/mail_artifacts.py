"""Real artefacts that name an address, made per test: an S/MIME signature, OpenPGP keys, a
winmail.dat, Office documents, PDFs and archives, as mail clients and office programs write
them."""

from __future__ import annotations

import base64
import binascii
import datetime
import gzip
import io
import struct
import zipfile
import zlib
from xml.sax.saxutils import escape

import compressed_rtf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

CREATED = datetime.datetime(2025, 1, 6, 9, 0, tzinfo=datetime.UTC)


def base64_lines(data: bytes, width: int = 76) -> str:
    text = base64.b64encode(data).decode("ascii")
    return "\n".join(text[i:i + width] for i in range(0, len(text), width))


def uuencoded(name: str, data: bytes, line_end: str = "\n") -> str:
    """A file uuencoded in text, as old clients and gateways put it inline in a body."""
    lines = [binascii.b2a_uu(data[i:i + 45]).decode("ascii").rstrip("\n")
             for i in range(0, len(data), 45)]
    return line_end.join([f"begin 644 {name}", *lines, "`", "end"]) + line_end


# ---------------------------------------------------------------------- S/MIME

def smime_signature(address: str, name: str = "Bakari Mwangi",
                    content: bytes = b"Signed reply.\r\n") -> bytes:
    """A detached PKCS #7 signature (smime.p7s, DER) by a self-signed certificate that names
    `address` in its subject (emailAddress) and as its rfc822Name."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.EMAIL_ADDRESS, address)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(CREATED).not_valid_after(CREATED + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address)]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return (pkcs7.PKCS7SignatureBuilder().set_data(content)
            .add_signer(cert, key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature]))


# ---------------------------------------------------------------------- OpenPGP (RFC 4880)

def _packet(tag: int, body: bytes) -> bytes:
    """A new-format packet header and body."""
    size = len(body)
    if size < 192:
        length = bytes([size])
    elif size < 8384:
        size -= 192
        length = bytes([(size >> 8) + 192, size & 0xFF])
    else:
        length = b"\xff" + struct.pack(">I", size)
    return bytes([0xC0 | tag]) + length + body


def _mpi(value: int) -> bytes:
    return struct.pack(">H", value.bit_length()) + value.to_bytes((value.bit_length() + 7) // 8,
                                                                  "big")


def pgp_public_key(address: str, name: str = "Bakari Mwangi") -> bytes:
    """A transferable public key, binary (.gpg): a version 4 RSA public-key packet and a
    User ID packet "Name <address>"."""
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key() \
        .public_numbers()
    key = bytes([4]) + struct.pack(">I", int(CREATED.timestamp())) + bytes([1]) + \
        _mpi(numbers.n) + _mpi(numbers.e)
    return _packet(6, key) + _packet(13, f"{name} <{address}>".encode())


def crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def pgp_armored(packets: bytes, kind: str = "PUBLIC KEY BLOCK") -> str:
    """ASCII armour (RFC 4880 section 6.2) with its CRC-24 checksum line."""
    checksum = base64.b64encode(crc24(packets).to_bytes(3, "big")).decode()
    return (f"-----BEGIN PGP {kind}-----\n\n{base64_lines(packets, 64)}\n={checksum}\n"
            f"-----END PGP {kind}-----\n")


# ---------------------------------------------------------------------- winmail.dat (TNEF)

def _tnef_attribute(level: int, name: int, kind: int, data: bytes) -> bytes:
    return struct.pack("<BHHI", level, name, kind, len(data)) + data + \
        struct.pack("<H", sum(data) & 0xFFFF)


def _mapi_property(kind: int, tag: int, value: bytes) -> bytes:
    """One MAPI property of a variable size (a string or binary), padded to four bytes."""
    return struct.pack("<HHII", kind, tag, 1, len(value)) + value + bytes(-len(value) % 4)


def _mapi_bodies(body: str | None, html: str | None, rtf: str | None, *,
                 compress: bool = True) -> bytes:
    """attMAPIProps of the message: PR_BODY (8-bit, code page 1252), PR_HTML, and
    PR_RTF_COMPRESSED (LZFu, as Outlook stores rich text; MELA, stored as it is, unless
    `compress`)."""
    properties = []
    if body is not None:
        properties.append(_mapi_property(0x001E, 0x1000, body.encode("cp1252") + b"\x00"))
    if html is not None:
        properties.append(_mapi_property(0x0102, 0x1013, html.encode()))
    if rtf is not None:
        properties.append(_mapi_property(0x0102, 0x1009, compressed_rtf.compress(
            rtf.encode("cp1252"), compressed=compress)))
    return struct.pack("<I", len(properties)) + b"".join(properties)


def winmail_dat(files: list[tuple[str, bytes]], *, body: str | None = None,
                html: str | None = None, rtf: str | None = None,
                compress_rtf: bool = True) -> bytes:
    """A TNEF stream, as Outlook writes when it sends rich text, carrying `files`, and with
    the message's bodies as MAPI properties when given: plain `body`, `html`, and `rtf`
    (compressed, as Outlook writes it: the signature is in there)."""
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += _tnef_attribute(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))
    out += _tnef_attribute(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))
    out += _tnef_attribute(1, 0x8008, 0x0007, b"IPM.Microsoft Mail.Note\x00")
    if (body, html, rtf) != (None, None, None):
        out += _tnef_attribute(1, 0x9003, 0x0006, _mapi_bodies(body, html, rtf,
                                                               compress=compress_rtf))
    for name, data in files:
        out += _tnef_attribute(2, 0x9002, 0x0006, bytes(14))
        out += _tnef_attribute(2, 0x8010, 0x0001, name.encode("cp1252") + b"\x00")
        out += _tnef_attribute(2, 0x800F, 0x0006, data)
    return out + _tnef_attribute(1, 0x800D, 0x000D, struct.pack("<H", 2))


# ---------------------------------------------------------------------- documents and archives

def _zip(entries: list[tuple[str, bytes]], *, stored_first: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n, (name, data) in enumerate(entries):
            method = zipfile.ZIP_STORED if stored_first and n == 0 else zipfile.ZIP_DEFLATED
            archive.writestr(zipfile.ZipInfo(name, (2025, 1, 6, 9, 0, 0)), data,
                             compress_type=method)
    return buffer.getvalue()


def zip_archive(name: str, text: str) -> bytes:
    return _zip([(name, text.encode())])


def gzip_file(text: str) -> bytes:
    return gzip.compress(text.encode(), mtime=0)


def _runs(text: str) -> str:
    """Word's runs: it splits text where proofing or formatting changes, here at "@"."""
    head, at, tail = text.partition("@")
    runs = [head, at + tail] if at else [text]
    return "".join(f'<w:r><w:t xml:space="preserve">{escape(r)}</w:t></w:r>' for r in runs)


def docx(text: str) -> bytes:
    document = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w='
                '"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p>'
                f"{_runs(text)}</w:p></w:body></w:document>")
    return _zip([
        ("[Content_Types].xml", b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://'
         b'schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" '
         b'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Override '
         b'PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
         b'officedocument.wordprocessingml.document.main+xml"/></Types>'),
        ("_rels/.rels", b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://'
         b'schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
         b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         b'officeDocument" Target="word/document.xml"/></Relationships>'),
        ("word/document.xml", document.encode())])


def xlsx(text: str) -> bytes:
    strings = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats'
               f'.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>{escape(text)}'
               "</t></si></sst>")
    return _zip([
        ("[Content_Types].xml", b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://'
         b'schemas.openxmlformats.org/package/2006/content-types"/>'),
        ("xl/workbook.xml", b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://'
         b'schemas.openxmlformats.org/spreadsheetml/2006/main"/>'),
        ("xl/sharedStrings.xml", strings.encode())])


def odt(text: str) -> bytes:
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office='
               '"urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names'
               ':tc:opendocument:xmlns:text:1.0"><office:body><office:text><text:p>'
               f"{escape(text)}</text:p></office:text></office:body></office:document-content>")
    return _zip([("mimetype", b"application/vnd.oasis.opendocument.text"),
                 ("META-INF/manifest.xml", b'<?xml version="1.0" encoding="UTF-8"?>'
                  b'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:'
                  b'manifest:1.0"/>'),
                 ("content.xml", content.encode())], stored_first=True)


def _pdf(objects: list[bytes], info: bytes = b"") -> bytes:
    """A PDF file with its cross-reference table: objects numbered from 1."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, info, xref)
    return bytes(out)


def _pdf_string(text: str) -> bytes:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


def pdf_flate(text: str) -> bytes:
    """One page showing `text`, its content stream Flate-compressed (as every PDF writer
    does)."""
    content = zlib.compress(b"BT /F1 12 Tf 72 720 Td (%s) Tj ET" % _pdf_string(text))
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(content),
                                                                        content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"])


def pdf_utf16_author(author: str, text: str = "Pro forma invoice") -> bytes:
    """A PDF whose document information names its author in UTF-16BE with a byte order
    mark, every byte written as an octal escape (as some writers do)."""
    utf16 = b"\xfe\xff" + author.encode("utf-16-be")
    escaped = b"".join(b"\\%03o" % byte for byte in utf16)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [] /Count 0 >>",
               b"<< /Title (%s) /Author (%s) /Producer (TradeDocs 3.1) >>" % (
                   _pdf_string(text), escaped)]
    return _pdf(objects, info=b"/Info 3 0 R ")
