"""`trademail serve --workers N`: one supervisor, several server processes on one PostgreSQL.

The supervisor brings the schema and the keys up to date once, binds the HTTP and SMTP
sockets, and starts N copies of `trademail serve` that inherit both sockets (the kernel
hands each new connection to one of them). Everything they share lives in PostgreSQL:
sessions, throttles, idempotency keys, the outbox (claimed with SKIP LOCKED), and the live
updates (LISTEN/NOTIFY). A worker that dies is started again; SIGTERM or SIGINT stops them
all. /metrics adds up every worker's figures through a private PROMETHEUS_MULTIPROC_DIR.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

import structlog

from trademail.config import Config
from trademail.errors import TradeMailError

log = structlog.get_logger("trademail")

INHERITED = "TRADEMAIL_INHERITED_SOCKETS"  # "<http fd>,<smtp fd>", set for the workers only
STOP_GRACE_SECONDS = 30.0
RESTART_WINDOW_SECONDS = 10.0  # a worker dying this soon after its start counts as a crash
MAX_QUICK_CRASHES = 5


def inherited_sockets() -> tuple[socket.socket, socket.socket] | None:
    """In a worker: the (HTTP, SMTP) listening sockets the supervisor bound."""
    given = os.environ.get(INHERITED, "")
    if not given:
        return None
    http_fd, smtp_fd = (int(fd) for fd in given.split(","))
    return socket.socket(fileno=http_fd), socket.socket(fileno=smtp_fd)


def _listen(host: str, port: int, what: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise TradeMailError(f"cannot listen for {what} on {host}:{port}: "
                             f"{exc.strerror or exc}") from None
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


async def _prepare(config: Config) -> None:
    """Migrations and the master key, once, before any worker races to do them."""
    from trademail.core import open_store_and_keys

    stores, _ = await open_store_and_keys(config)
    await stores.close()


class Supervisor:
    def __init__(self, config: Config, workers: int, argv: Sequence[str]) -> None:
        self._config = config
        self._count = workers
        self._argv = list(argv)
        self._procs: dict[int, tuple[subprocess.Popen[bytes], float]] = {}
        self._stopping = False
        self._metrics_dir = ""

    def run(self) -> int:
        if not self._config.store_url.startswith("postgres"):
            raise TradeMailError("--workers needs PostgreSQL ([store] url): SQLite is one "
                                 "process's database")
        asyncio.run(_prepare(self._config))
        http = _listen(self._config.http.host, self._config.http.port, "HTTP")
        smtp = _listen(self._config.smtp.host, self._config.smtp.port, "SMTP")
        self._metrics_dir = tempfile.mkdtemp(prefix="trademail-metrics-")  # mode 0700
        env = os.environ | {INHERITED: f"{http.fileno()},{smtp.fileno()}",
                            "PROMETHEUS_MULTIPROC_DIR": self._metrics_dir}
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        log.info("TradeMail supervisor is starting workers", workers=self._count,
                 http=http.getsockname()[1], smtp=smtp.getsockname()[1])
        try:
            for slot in range(self._count):
                self._start(slot, env, (http.fileno(), smtp.fileno()))
            return self._watch(env, (http.fileno(), smtp.fileno()))
        finally:
            self._stop_all()
            http.close()
            smtp.close()
            shutil.rmtree(self._metrics_dir, ignore_errors=True)

    def _start(self, slot: int, env: dict[str, str], fds: tuple[int, int]) -> None:
        proc = subprocess.Popen([sys.executable, "-m", "trademail", *self._argv],  # noqa: S603
                                env=env | {"TRADEMAIL_WORKER": str(slot)}, pass_fds=fds)
        self._procs[slot] = (proc, time.monotonic())

    def _watch(self, env: dict[str, str], fds: tuple[int, int]) -> int:
        quick_crashes = 0
        while not self._stopping:
            time.sleep(0.2)
            for slot, (proc, started) in list(self._procs.items()):
                code = proc.poll()
                if code is None or self._stopping:
                    continue
                self._mark_dead(proc.pid)
                quick = time.monotonic() - started < RESTART_WINDOW_SECONDS
                quick_crashes = quick_crashes + 1 if quick else 0
                log.error("a worker stopped; starting it again", worker=slot, exit_code=code)
                if quick_crashes >= MAX_QUICK_CRASHES:
                    log.error("workers keep failing at start; giving up")
                    return 1
                self._start(slot, env, fds)
        return 0

    def _stop(self, signum: int, frame: object) -> None:
        self._stopping = True

    def _stop_all(self) -> None:
        for proc, _ in self._procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for proc, _ in self._procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.info("TradeMail workers stopped")

    def _mark_dead(self, pid: int) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, self._metrics_dir)
