"""The `trademail` command as an operator meets it: real processes, real ports, real files."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = base64.b64encode(b"b" * 32).decode()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEMAIL_")}
    return env | {"TRADEMAIL_AUTH_ARGON2_MEMORY_KIB": "64", "TRADEMAIL_AUTH_ARGON2_TIME_COST": "1",
                  "TRADEMAIL_AUTH_ARGON2_PARALLELISM": "1", "TRADEMAIL_SMTP_PORT": "0"} | extra


def trademail(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trademail", *args], cwd=cwd, env=_env(**env),
                          capture_output=True, text=True, timeout=60, check=False)


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_serve_with_no_config_answers_on_8080_and_2525(tmp_path: Path) -> None:
    for port in (8080, 2525):
        if not _free(port):
            pytest.fail(f"port {port} is taken; the default-port test needs it free")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEMAIL_")}
    proc = subprocess.Popen([sys.executable, "-m", "trademail", "serve"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:8080/healthz", timeout=2) as resp:
                    assert resp.status == 200
                with socket.create_connection(("127.0.0.1", 2525), timeout=5) as smtp:
                    assert smtp.recv(512).startswith(b"220 ")
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "server did not answer in 30 s"
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    key = tmp_path / "var" / "master.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert "Back it up" in err and (tmp_path / "var" / "trademail.sqlite3").exists()
    assert "Traceback" not in err


def test_a_wrong_master_key_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    first = trademail("migrate", cwd=tmp_path, TRADEMAIL_CRYPTO_MASTER_KEY=KEY_A)
    assert first.returncode == 0, first.stderr
    db = tmp_path / "var" / "trademail.sqlite3"
    before = db.read_bytes()
    for command in ("migrate", "serve"):
        wrong = trademail(command, cwd=tmp_path, TRADEMAIL_CRYPTO_MASTER_KEY=KEY_B,
                          TRADEMAIL_HTTP_PORT="0")
        assert wrong.returncode == 1
        assert "the master key does not match this database" in wrong.stderr
        assert "Traceback" not in wrong.stderr
    assert db.read_bytes() == before
    assert not (tmp_path / "var" / "master.key").exists()


def test_a_missing_key_file_is_not_replaced(tmp_path: Path) -> None:
    assert trademail("migrate", cwd=tmp_path).returncode == 0
    key = tmp_path / "var" / "master.key"
    key.unlink()
    again = trademail("migrate", cwd=tmp_path)
    assert again.returncode == 1 and "is missing" in again.stderr
    assert not key.exists()


@pytest.mark.parametrize(("key", "problem"), [
    ("not base64!", "not valid base64"),
    (base64.b64encode(b"short").decode(), "must hold 32 bytes"),
])
def test_a_malformed_key_is_named(tmp_path: Path, key: str, problem: str) -> None:
    result = trademail("migrate", cwd=tmp_path, TRADEMAIL_CRYPTO_MASTER_KEY=key)
    assert result.returncode == 1 and problem in result.stderr
    assert key not in result.stderr


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = trademail("serve", cwd=tmp_path, TRADEMAIL_HTTP_PORT=str(port),
                           TRADEMAIL_CRYPTO_MASTER_KEY=KEY_A)
    assert result.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_unreachable_postgres_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = trademail("migrate", cwd=tmp_path,
                       TRADEMAIL_STORE_URL=f"postgresql://tm:pw@127.0.0.1:{port}/tm")
    assert result.returncode == 1 and "cannot connect to PostgreSQL" in result.stderr
    assert "pw@" not in result.stderr and "Traceback" not in result.stderr


def test_a_stop_that_hangs_is_cut_short_with_every_threads_stack() -> None:
    """`serve` arms this when told to stop: whatever a stop then waits for, the process ends
    in time, with the stacks that show what it waited for."""
    hanging = ("import time\nfrom trademail.cli import _stop_watchdog\n"
               "_stop_watchdog(0.5)\ntime.sleep(60)  # a stop that waits for ever\n")
    done = subprocess.run([sys.executable, "-c", hanging], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 70
    assert "still stopping" in done.stdout + done.stderr  # the log, wherever it is set to go
    assert 'File "<string>", line 4 in <module>' in done.stderr  # the sleep that hung
