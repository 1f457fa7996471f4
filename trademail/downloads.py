"""An attachment or a whole mailbox sent to a browser or an app a piece at a time, as a
download that can never render as a page of ours: the same headers from the web door and
the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

import structlog
from aiohttp import web

from trademail.errors import Damaged
from trademail.services.reading import AttachmentInfo

log = structlog.get_logger(__name__)


async def stream_file(request: web.Request, info: AttachmentInfo,
                      chunks: AsyncIterator[bytes], *,
                      content_type: str = "application/octet-stream") -> web.StreamResponse:
    """Send the file as it is read; a chunk that fails to open (a file cut short or
    tampered with) ends the download short rather than finishing it as whole."""
    first = await anext(chunks, b"")  # a file that is not there fails before any header
    response = web.StreamResponse(headers={
        "Content-Type": content_type,
        "Content-Length": str(info.size),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.filename, safe='')}",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    })
    await response.prepare(request)
    await response.write(first)
    try:
        async for chunk in chunks:
            await response.write(chunk)
    except Damaged:
        # Headers are out: the one honest answer left is to cut the download short, so
        # the client sees fewer bytes than Content-Length says and never a whole file.
        log.warning("an attachment failed to open part-way; download cut short")
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response


async def stream_export(request: web.Request, entries: AsyncIterator[bytes],
                        filename: str, content_type: str) -> web.StreamResponse:
    """A whole mailbox as a download, written a message at a time as it is read."""
    response = web.StreamResponse(headers={
        "Content-Type": content_type,
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "no-store",
    })
    await response.prepare(request)
    async for entry in entries:
        await response.write(entry)
    await response.write_eof()
    return response
