"""The Rspamd client: scores mail through the normal worker's HTTP /checkv2 and trains
the controller's /learnham and /learnspam, with aiohttp (the `SpamFilter` the inbound
service and the members' Spam buttons use).

Rspamd that cannot be reached, or answers nonsense, defers the mail (451): it is never
lost, and never taken unscored. Nothing here logs an address or the mail.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import structlog

from trademail.config import SpamConfig
from trademail.errors import MailDeferred
from trademail.services.spam import SpamEnvelope, SpamVerdict

log = structlog.get_logger(__name__)


def _header(value: str) -> str:
    """A value safe as an HTTP header: one line, printable ASCII (an envelope may carry
    anything)."""
    return "".join(c for c in value if " " <= c <= "~")[:500]


def _verdict(answer: Any) -> SpamVerdict:
    """Rspamd's JSON as a verdict; ValueError when it is not one."""
    if not isinstance(answer, dict) or isinstance(answer.get("score"), bool) or \
            not isinstance(answer.get("score"), int | float):
        raise ValueError("no score")
    symbols = answer.get("symbols")
    rules = tuple((str(name), float(s["score"])) for name, s in (
        symbols.items() if isinstance(symbols, dict) else ())
        if isinstance(s, dict) and isinstance(s.get("score"), int | float))
    return SpamVerdict(float(answer["score"]), str(answer.get("action", "")), rules)


class RspamdClient:
    """One aiohttp session to Rspamd, opened with the app and closed with it."""

    def __init__(self, config: SpamConfig) -> None:
        self._config = config
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._config.timeout_seconds))
        return self._session

    async def score(self, raw: bytes, envelope: SpamEnvelope) -> SpamVerdict:
        headers = {"Helo": _header(envelope.helo), "From": _header(envelope.mail_from),
                   "Content-Type": "message/rfc822"}
        if envelope.ip and envelope.ip != "unknown":
            headers["IP"] = _header(envelope.ip)
        # Several Rcpt headers: one per recipient, as Rspamd reads them.
        rcpts = [("Rcpt", _header(r)) for r in envelope.recipients]
        url = self._config.rspamd_url.rstrip("/") + "/checkv2"
        try:
            async with self._client().post(url, data=raw,
                                           headers=[*headers.items(), *rcpts]) as response:
                if response.status != 200:
                    raise ValueError(f"status {response.status}")
                return _verdict(json.loads(await response.read()))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("spam: Rspamd did not score the mail; it is deferred",
                        error=exc.__class__.__name__)
            raise MailDeferred("spam_unchecked") from None

    async def learn(self, raw: bytes, *, spam: bool) -> bool:
        """Train Rspamd's statistics with a mail a member marked; whether it learned it
        (False when no controller is configured, or it could not be reached)."""
        if not self._config.controller_url:
            return False
        url = self._config.controller_url.rstrip("/") + ("/learnspam" if spam else "/learnham")
        headers = {"Password": self._config.controller_password.reveal()} \
            if self._config.controller_password else {}
        try:
            async with self._client().post(url, data=raw, headers=headers) as response:
                await response.read()
                ok = response.status in (200, 208)  # 208: learned before
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        if not ok:
            log.warning("spam: Rspamd did not learn a member's correction")
        return ok

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
