"""winmail.dat (TNEF), read with tnefparse: the files it carries and its bodies (plain text,
HTML, and the compressed rich text Outlook writes its signature into, decompressed with
compressed_rtf), all within bounds.

Pure functions of their input; nothing here raises on hostile input.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from compressed_rtf import decompress
from tnefparse import TNEF

TNEF_MAGIC = b"\x78\x9f\x3e\x22"
# Attributes in a winmail.dat read; one with more is not read (so inspected as bytes).
MAX_TNEF_ATTRIBUTES = 4096
# Files in a winmail.dat read, as many as parts in a mail.
MAX_TNEF_FILES = 200
# tnefparse copies the rest of the data for each attribute: what that may copy in all
# (under a second; a real winmail.dat copies a few hundred megabytes at most).
MAX_TNEF_COPYING = 2 * 1024 * 1024 * 1024
# Compressed rich text decompressed; longer is not read. It expands up to eight times, in
# pure Python: a mebibyte takes seconds.
MAX_RTF_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Winmail:
    """What a winmail.dat holds: its files (name as written, and content) and its bodies.
    `rtf_unread`: it has a rich text body that could not be decompressed."""

    files: tuple[tuple[str, bytes], ...]
    bodies: tuple[bytes | str, ...]
    rtf_unread: bool = False


def _affordable(data: bytes) -> bool:
    """Whether tnefparse may read `data`: few enough attributes, counted on their headers,
    and not too much copying for them."""
    position, count, copied = 6, 0, 0
    while position + 11 <= len(data):
        count += 1
        copied += len(data) - position
        if count > MAX_TNEF_ATTRIBUTES or copied > MAX_TNEF_COPYING:
            return False
        position += 11 + int.from_bytes(data[position + 5:position + 9], "little")
    return True


def _rtf(tnef: TNEF) -> tuple[bytes | None, bool]:
    """The rich text body decompressed (None when there is none), and whether there is one
    that could not be."""
    # tnefparse keeps it compressed here; its `rtfbody` decompresses without a bound.
    compressed = getattr(tnef, "_rtfbody", None)
    if not compressed:
        return None, False
    if not isinstance(compressed, bytes) or len(compressed) > MAX_RTF_BYTES:
        return None, True
    try:
        # tnefparse strips trailing NUL bytes from binary properties; one is put back.
        return bytes(decompress(compressed + b"\x00")), False
    except Exception:  # compressed_rtf raises plain Exception (CRC) and struct errors
        return None, True


def _bodies(tnef: TNEF) -> tuple[tuple[bytes | str, ...], bool]:
    rtf, unread = _rtf(tnef)
    bodies = tuple(b for b in (tnef.body, tnef.htmlbody, rtf) if isinstance(b, bytes | str) and b)
    return bodies, unread


@lru_cache(maxsize=4)
def read_winmail(data: bytes) -> Winmail | None:
    """The files and bodies of a winmail.dat, or None when it cannot be read within the
    bounds (then it is inspected as bytes). Kept for the next few calls: one scrub reads the
    same winmail.dat more than once (unpacking it, looking into it, checking the result)."""
    if not data.startswith(TNEF_MAGIC) or not _affordable(data):
        return None
    try:
        tnef = TNEF(data, do_checksum=False)
        if len(tnef.attachments) > MAX_TNEF_FILES:
            return None
        files = []
        for attachment in tnef.attachments:
            name = attachment.long_filename()
            if isinstance(name, bytes):
                name = name.decode("utf-8", "replace")
            files.append((str(name).replace("\x00", ""), bytes(attachment.data)))
        bodies, rtf_unread = _bodies(tnef)
    except Exception:  # tnefparse raises anything on a damaged file
        return None
    return Winmail(tuple(files), bodies, rtf_unread)
