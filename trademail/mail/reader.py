"""Incoming mail is parsed and scrubbed in a small pool of worker processes, never on the
event loop.

CPython's email parser is quadratic on some headers and mail can be large, so however
`parse` bounds its input, reading one mail may take a while; so may looking for a member's
address in every part of it (`scrub`). In a worker it holds up no one else. Work that
takes longer than `timeout` is refused and the pool restarted (a running worker cannot be
stopped alone), so a hostile mail costs at most that.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any, TypeVar

import structlog

from trademail.errors import MailDeferred, MailRefused
from trademail.mail.parse import read_mail
from trademail.mail.scrub import scrub_mail
from trademail.services.incoming import Extracted, ReadMail, Scrubbed

_T = TypeVar("_T")

log = structlog.get_logger(__name__)


class MailReader:
    """`read_mail` and `scrub_mail` in at most `workers` processes at once: the inbound
    service's MailWorker. `trusted_authserv_id` names the upstream whose word on DMARC
    counts (see `parse.dmarc_pass`); `our_domain` is the relay domain."""

    def __init__(self, *, max_text_chars: int, trusted_authserv_id: str = "",
                 our_domain: str = "", workers: int = 2, timeout: float = 60.0) -> None:
        self._max_text_chars = max_text_chars
        self._trusted_authserv_id = trusted_authserv_id
        self._our_domain = our_domain
        self._workers = workers
        self._timeout = timeout
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: workers are not forks of this process and its threads and sockets.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["trademail.mail.parse", "trademail.mail.scrub"])
            self._pool = ProcessPoolExecutor(max_workers=self._workers, mp_context=context)
        return self._pool

    async def read(self, raw: bytes, *, bounce: bool = False) -> ReadMail:
        """The mail read, or the TooLarge / InvalidInput / MailRefused `read_mail` raised."""
        return await self._run(len(raw), partial(
            read_mail, max_text_chars=self._max_text_chars, bounce=bounce,
            trusted_authserv_id=self._trusted_authserv_id, our_domain=self._our_domain), raw)

    async def scrub(self, text: Extracted, addresses: Sequence[str], replacement: str, *,
                    cautious: bool = True) -> Scrubbed:
        """`text` with every spelling of `addresses` replaced by `replacement`, and the parts
        that still name one removed (see `scrub`)."""
        size = sum(len(a.data) for a in text.attachments) + len(text.body)
        return await self._run(size, partial(scrub_mail, cautious=cautious), text,
                               list(addresses), replacement)

    async def _run(self, size: int, work: Callable[..., _T], *args: Any) -> _T:
        """`work(*args)` in a worker: MailRefused when it takes too long, MailDeferred when
        the pool broke under it (a worker killed: try the mail again later)."""
        future = asyncio.get_running_loop().run_in_executor(self._executor(), work, *args)
        try:
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            log.warning("smtp: a mail took too long to read; refused", size=size)
            self._restart()
            raise MailRefused("too_complex") from None
        except BrokenProcessPool:
            self._restart()
            raise MailDeferred("busy") from None

    def _restart(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for process in list(pool._processes.values()):  # no public way to stop a busy worker
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

