"""A real SMTP server on a real socket, for tests that need a smarthost to talk to."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Captured:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class Smarthost:
    """Accepts (or refuses, with `reply`) every mail and keeps what it accepted."""

    reply: str = "250 OK"
    mails: list[Captured] = field(default_factory=list)
    server: asyncio.Server | None = None
    port: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.reply.startswith("250"):
            content = envelope.original_content or b""
            self.mails.append(Captured(str(envelope.mail_from), list(envelope.rcpt_tos),
                                       content))
        return self.reply

    async def start(self, port: int = 0) -> Smarthost:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: SMTP(self, hostname="smarthost.test"),
                                               "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def __aenter__(self) -> Smarthost:
        return await self.start(self.port)

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()


async def transaction(port: int, mail_from: str, rcpts: list[str], data: bytes,
                      size: int | None = None, wait: float = 10) -> tuple[int, str]:
    """One SMTP transaction on a real socket; the first reply that is not a success, else
    DATA's (each waited for `wait` seconds: as long as a big mail takes on a busy host)."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False,
                               timeout=wait) as smtp:
        await smtp.ehlo()
        options = f" SIZE={size}" if size is not None else ""
        reply = await smtp.execute_command(b"MAIL", f"FROM:<{mail_from}>{options}".encode())
        if reply.code != 250:
            return reply.code, reply.message
        for rcpt in rcpts:
            reply = await smtp.execute_command(b"RCPT", f"TO:<{rcpt}>".encode())
            if reply.code != 250:
                return reply.code, reply.message
        try:
            reply = await smtp.data(data)
        except aiosmtplib.SMTPDataError as exc:
            return exc.code, exc.message
        return reply.code, reply.message
