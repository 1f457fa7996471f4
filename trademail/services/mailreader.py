"""Incoming mail is parsed in a small pool of worker processes, never on the event loop.

CPython's email parser is quadratic on some headers and mail can be large, so however
`mailtext` bounds its input, reading one mail may take a while: in a worker it holds up
no one else. A mail that takes longer than `timeout` is refused and the pool restarted
(a running worker cannot be stopped alone), so a hostile mail costs at most that.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import structlog

from trademail.errors import MailDeferred, MailRefused
from trademail.services.mailtext import ReadMail, read_mail

log = structlog.get_logger(__name__)


class MailReader:
    """`read_mail` in at most `workers` processes at once."""

    def __init__(self, *, max_text_chars: int, workers: int = 2, timeout: float = 60.0) -> None:
        self._max_text_chars = max_text_chars
        self._workers = workers
        self._timeout = timeout
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: workers are not forks of this process and its threads and sockets.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["trademail.services.mailtext"])
            self._pool = ProcessPoolExecutor(max_workers=self._workers, mp_context=context)
        return self._pool

    async def read(self, raw: bytes, *, bounce: bool = False) -> ReadMail:
        """The mail read, or the TooLarge / InvalidInput / MailRefused `read_mail` raised."""
        future = asyncio.get_running_loop().run_in_executor(
            self._executor(), _read, raw, self._max_text_chars, bounce)
        try:
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            log.warning("smtp: a mail took too long to read; refused", size=len(raw))
            self._restart()
            raise MailRefused("the message is too complex to read", "5.6.0") from None
        except BrokenProcessPool:
            self._restart()
            raise MailDeferred("the message could not be read now; try again later",
                               "4.3.0") from None

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


def _read(raw: bytes, max_text_chars: int, bounce: bool) -> ReadMail:
    return read_mail(raw, max_text_chars=max_text_chars, bounce=bounce)
