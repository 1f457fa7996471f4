"""The mail text of SMTP DATA, read in the pieces the socket delivers, and the room there
is for working on mails at once.

aiosmtpd reads DATA a line at a time into a list of line objects: about three times the
mail in memory, and a Python step per line on the event loop (a 25 MB mail held every
other client up for a second). Here the stream is read up to the end-of-data mark
(CRLF "." CRLF, RFC 5321 s. 4.1.1.4) in whatever pieces have arrived, lines are measured
across pieces, and the dots are unstuffed in one pass over the whole (s. 4.5.2). What ends
the data is exactly what ends it for aiosmtpd: a "." line between two CRLFs, never a bare
LF or CR (no SMTP smuggling).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator

MARK = b".\r\n"  # a line of one dot ends the data
TOO_LONG = "500 5.5.2 Line too long (RFC 5321 s. 4.5.3.1.6)"
TOO_MUCH = "552 5.3.4 Message too big for this server"


class _Longest:
    """The longest line, its CRLF counted, in pieces of a stream cut anywhere (even
    between the CR and the LF of a line's end)."""

    def __init__(self) -> None:
        self.longest = 0
        self._run = 0  # the line still open at the end of the last piece
        self._cr = False  # and whether that piece ended with a CR

    def feed(self, piece: bytes) -> None:
        if self._cr and piece[:1] == b"\n":
            self.longest = max(self.longest, self._run + 1)
            self._run, piece = 0, piece[1:]
        lines = piece.split(b"\r\n")
        if len(lines) > 1:
            self.longest = max(self.longest, self._run + len(lines[0]) + 2,
                               max(map(len, lines[1:-1]), default=0) + 2)
            self._run = len(lines[-1])
        else:
            self._run += len(piece)
        self._cr = piece.endswith(b"\r")


async def _piece(reader: asyncio.StreamReader, separator: bytes) -> bytes:
    """What the reader holds up to and with `separator`; when that is more than the
    reader's limit, as much of it as surely comes before the separator."""
    try:
        return await reader.readuntil(separator)
    except asyncio.LimitOverrunError as exc:
        return await reader.read(exc.consumed)


async def read_data(reader: asyncio.StreamReader, size_limit: int | None,
                    line_limit: int) -> tuple[bytes, str | None]:
    """The mail, unstuffed, and None; or b"" and the reply refusing it (a line longer than
    `line_limit` with its CRLF, or more than `size_limit` bytes), once the client has
    sent all of it: nothing of a refused mail is kept meanwhile."""
    pieces: list[bytes] = []
    size, lines, refusal = 0, _Longest(), None
    before = b"\r\n"  # the last two bytes read: the data starts at the start of a line
    while True:
        # Up to the next ".\r\n", which is the mark when its dot starts a line.
        piece = await _piece(reader, MARK)
        text = piece[:-len(MARK)] if piece.endswith(MARK) else None
        last = text is not None and (text[-2:] if len(text) >= 2
                                     else (before + text)[-2:]) == b"\r\n"
        if last:
            assert text is not None
            piece = text  # the "." line goes; the CRLF before it ends the mail's last line
        before = (before + piece[-2:])[-2:]
        size += len(piece)
        lines.feed(piece)
        if refusal is None and lines.longest > line_limit:
            refusal = TOO_LONG
        elif refusal is None and size_limit and size > size_limit:
            refusal = TOO_MUCH
        if refusal is None:
            pieces.append(piece)
        else:
            pieces.clear()
        if last:
            break
    if refusal is not None:
        return b"", refusal
    data = b"".join(pieces)
    pieces.clear()
    if data.startswith(b"."):
        data = data[1:]
    return data.replace(b"\r\n.", b"\r\n"), None


class WorkBudget:
    """How many bytes of mail are read, checked and stored at once. Each costs a few times
    its size while it is worked on (copies to and from the reading workers, sealed parts),
    so many big mails at once would take memory without bound. Mails take room in the
    order they came: one waits until it fits (alone it always does, however big), and
    those after it wait behind it, so a stream of small mails never starves a big one."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._used = 0
        self._queue: collections.deque[object] = collections.deque()
        self._room = asyncio.Condition()

    def _fits(self, ticket: object, size: int) -> bool:
        return self._queue[0] is ticket and (
            self._used == 0 or self._used + size <= self._capacity)

    @contextlib.asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        ticket = object()
        async with self._room:
            self._queue.append(ticket)
            try:
                await self._room.wait_for(lambda: self._fits(ticket, size))
            finally:
                self._queue.remove(ticket)
                self._room.notify_all()  # the next in line may fit now, or be first
            self._used += size
        try:
            yield
        finally:
            async with self._room:
                self._used -= size
                self._room.notify_all()
