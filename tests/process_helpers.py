"""A real `trademail serve` in a process of its own, for the tests that crash, restart or
run several servers on one database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.helpers import MASTER_KEY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _holds(pid: int, port: int) -> bool:
    """Whether process `pid` holds the socket listening on `port` (always True where there
    is no /proc to tell)."""
    if not os.path.isdir("/proc/net"):
        return True
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    listening.add(f"socket:[{fields[9]}]")
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in listening:
                    return True
    return False


class Server:
    def __init__(self, tmp_path: Path, store_url: str, smarthost_port: int, *,
                 args: tuple[str, ...] = (), **env: str) -> None:
        self.http = free_port()
        self.smtp = free_port()
        self.args = args
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEMAIL_")} | {
            "TRADEMAIL_DATA_DIR": str(tmp_path / "var"), "TRADEMAIL_STORE_URL": store_url,
            "TRADEMAIL_CRYPTO_MASTER_KEY": MASTER_KEY, "TRADEMAIL_HTTP_PORT": str(self.http),
            "TRADEMAIL_SMTP_PORT": str(self.smtp),
            "TRADEMAIL_RELAY_SMARTHOST": f"127.0.0.1:{smarthost_port}",
            "TRADEMAIL_RELAY_TLS": "none", "TRADEMAIL_RELAY_RETRY_BASE_SECONDS": "1",
            "TRADEMAIL_AUTH_ARGON2_MEMORY_KIB": "64", "TRADEMAIL_AUTH_ARGON2_TIME_COST": "1",
            "TRADEMAIL_AUTH_ARGON2_PARALLELISM": "1", "TRADEMAIL_STORE_POOL_SIZE": "3",
            "TRADEMAIL_SMTP_CHECK_SENDERS": "false"} | env  # no network DNS in tests
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http}"

    async def start(self) -> None:
        """Start the server and wait until it answers. Its ports were free when picked, but
        another test's server may take one before it binds: then it starts again on others
        (a server answering on the port is taken for ours only once ours holds it)."""
        for _ in range(5):
            if await self._started():
                return
            self.http, self.smtp = free_port(), free_port()
            self.env |= {"TRADEMAIL_HTTP_PORT": str(self.http),
                         "TRADEMAIL_SMTP_PORT": str(self.smtp)}
        raise AssertionError("the server found no free ports")

    async def _started(self) -> bool:
        self.proc = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "trademail", "serve", *self.args], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = asyncio.get_running_loop().time() + 30
        async with aiohttp.ClientSession() as http:
            while True:
                if self.proc.poll() is not None:
                    err = self.proc.stderr.read() if self.proc.stderr else b""
                    if b"cannot listen" in err:
                        return False  # a port was taken meanwhile
                    raise AssertionError(err.decode(errors="replace"))
                try:
                    async with http.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200 and _holds(self.proc.pid, self.http):
                            return True
                except aiohttp.ClientError:
                    pass
                assert asyncio.get_running_loop().time() < deadline, "server did not start"
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        if self.proc.stderr:
            self.proc.stderr.close()

    def stop(self) -> str:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=40)
        return err.decode()


async def run_cli(*args: str, env: dict[str, str], terminal: bool) -> tuple[str, str]:
    """`trademail ARGS` to the end, its standard error on a terminal (a pty) or in a pipe:
    (standard output, standard error). It must succeed."""
    leader, follower = pty.openpty()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "trademail", *args, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=follower if terminal else asyncio.subprocess.PIPE)
        os.close(follower)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        if terminal:
            err = await asyncio.to_thread(_read_terminal, leader)
    finally:
        os.close(leader)
    assert proc.returncode == 0, err.decode()
    return out.decode(), err.decode()


def _read_terminal(leader: int) -> bytes:
    """What a process wrote to its terminal (the leader side of a pty), once it has
    exited."""
    data = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the other end is closed: all is read
            return data
        if not chunk:
            return data
        data += chunk
