"""The webhook sender: one signed POST per outbox row, through aiohttp's client."""

from __future__ import annotations

import aiohttp

from trademail.gateway.transports import PermanentFailure, TemporaryFailure
from trademail.services.outbox import Webhook

RETRYABLE = frozenset({408, 409, 425, 429})


class AiohttpWebhookSender:
    """2xx delivered; 408/429 and 5xx and network errors retried; other 4xx given up."""

    def __init__(self, timeout: float = 15.0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, hook: Webhook) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(hook.url, data=hook.body, headers=dict(hook.headers),
                                          allow_redirects=False) as resp:
                status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TemporaryFailure(f"connection: {exc.__class__.__name__}") from None
        if 200 <= status < 300:
            return
        if status >= 500 or status in RETRYABLE:
            raise TemporaryFailure(f"HTTP {status}")
        raise PermanentFailure(f"HTTP {status}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
