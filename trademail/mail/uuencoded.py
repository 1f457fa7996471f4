"""Files uuencoded inline in text ("begin 644 card.txt" … "end"), as old mail clients,
gateways and mailing list digests still send them: found and decoded line by line with
`binascii.a2b_uu`.

Linear in its input: each line of a text is decoded at most once.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass

_BEGIN = re.compile("^begin [0-7]{3,4} ([^\\r\\n]{1,256})\\r?$", re.M)
_LINE_END = re.compile("\\r?\\n")


@dataclass(frozen=True)
class Uuencoded:
    """One uuencoded file: where it is in the text, from "begin" to "end" (or to its last
    line that decodes), its name, and its content."""

    start: int
    end: int
    name: str
    data: bytes


def _decode(text: str, start: int) -> tuple[int, bytes]:
    """The lines of a file from `start` on: where they end, and what they hold."""
    chunks: list[bytes] = []
    position = end = start
    while position < len(text):
        found = _LINE_END.search(text, position)
        line_end, after = (found.start(), found.end()) if found else (len(text), len(text))
        line = text[position:line_end]
        if line.rstrip() == "end":
            return after, b"".join(chunks)
        if line.strip():
            try:
                chunks.append(binascii.a2b_uu(line))
            except (binascii.Error, ValueError):  # not uuencoded: the file ended before
                break
        position = end = after
    return end, b"".join(chunks)


def uuencoded(text: str) -> Iterator[Uuencoded]:
    """Every uuencoded file in `text`, in order."""
    if "begin " not in text:  # the common case, found far faster than by the pattern
        return
    position = 0
    while (begin := _BEGIN.search(text, position)) is not None:
        end, data = _decode(text, begin.end())
        yield Uuencoded(begin.start(), end, begin.group(1).strip(), data)
        position = max(end, begin.end())
