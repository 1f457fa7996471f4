"""Master key rotation through the command line: every key re-wrapped, no message lost."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path

import pytest

from tests.helpers import PASSWORD, make_config
from tests.process_helpers import run_cli
from trademail.app import open_core
from trademail.config import Config
from trademail.errors import MasterKeyError
from trademail.services.messages import Draft
from trademail.testing import FakeClock


def _config(tmp_path: Path, store_url: str, key: Path, **extra: str) -> Config:
    return make_config(tmp_path, store_url, TRADEMAIL_CRYPTO_MASTER_KEY="",
                       TRADEMAIL_CRYPTO_MASTER_KEY_FILE=str(key), **extra)


async def test_rotation_rewraps_every_key_and_the_old_key_can_go(
        tmp_path: Path, store_url: str, clock: FakeClock) -> None:
    old = tmp_path / "old.key"
    old.write_text(base64.b64encode(b"o" * 32).decode())
    old.chmod(0o600)
    core = await open_core(_config(tmp_path, store_url, old), clock)
    try:
        ids = []
        for name in ("rota", "rotb"):
            profile = await core.signup.register(
                username=name, password=PASSWORD, email=f"{name}@real-{name}.example",
                company="Co", country="Peru", client="test")
            ids.append(profile.id)
        sent = await core.sending.send(ids[0], Draft(("rotb",), "Before rotation",
                                                     "sealed under the old key"))
    finally:
        await core.close()

    new = tmp_path / "new.key"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEMAIL_")} | {
        "TRADEMAIL_DATA_DIR": str(tmp_path / "var"), "TRADEMAIL_STORE_URL": store_url,
        "TRADEMAIL_CRYPTO_MASTER_KEY_FILE": str(old)}
    runs = [await run_cli("rotate-master-key", str(new), env=env, terminal=terminal)
            for terminal in (True, False)]  # a second run finds nothing left to do
    outputs, errors = [out for out, _ in runs], [err for _, err in runs]
    assert "and 2 member keys" in outputs[0] and "and 0 member keys" in outputs[1]
    assert "re-wrapping member keys [" in errors[0] and "] 2/2" in errors[0]
    assert "re-wrapping" not in errors[1]  # no bar in a pipe or a log
    assert new.stat().st_mode & 0o777 == 0o600
    # What each key protects now: everything is under the new key; the old one, still
    # configured as retired, can go.
    out, _ = await run_cli("keys", "status", env=env | {
        "TRADEMAIL_CRYPTO_MASTER_KEY_FILE": str(new),
        "TRADEMAIL_CRYPTO_RETIRED_KEY_FILES": str(old)}, terminal=False)
    lines = out.splitlines()
    assert lines[0].endswith("(active): 2 member keys, protecting 2 messages; "
                             "system keys: directory, index"), out
    assert "(retired): 0 member keys, protecting 0 messages; system keys: none" in lines[1]
    assert "it can be removed" in lines[2]

    core = await open_core(_config(tmp_path, store_url, new), clock)
    try:
        message = await core.reading.read(ids[1], sent.id)
        assert message.body == "sealed under the old key"
        assert (await core.members.profile(ids[0])).email_masked == "r•••@real-rota.example"
    finally:
        await core.close()
    with pytest.raises(MasterKeyError):
        await open_core(_config(tmp_path, store_url, old), clock)


async def test_the_master_key_may_come_from_a_command(
        tmp_path: Path, store_url: str, clock: FakeClock) -> None:
    """A KMS or vault client prints the key; what it prints is never shown, even when the
    command fails."""
    secret = base64.b64encode(b"k" * 32).decode()
    command = f"{sys.executable} -c \"print('{secret}')\""
    core = await open_core(_config(tmp_path, store_url, tmp_path / "absent.key",
                                   TRADEMAIL_CRYPTO_MASTER_KEY_COMMAND=command), clock)
    try:
        profile = await core.signup.register(
            username="kms", password=PASSWORD, email="kms@real-kms.example", company="Co",
            country="Peru", client="test")
    finally:
        await core.close()
    assert not (tmp_path / "absent.key").exists()  # no key file was made
    again = await open_core(make_config(tmp_path, store_url, TRADEMAIL_CRYPTO_MASTER_KEY=secret),
                            clock)
    try:  # the same key, given directly, opens what the command's key sealed
        assert (await again.members.profile(profile.id)).username == "kms"
    finally:
        await again.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEMAIL_")} | {
        "TRADEMAIL_DATA_DIR": str(tmp_path / "var"), "TRADEMAIL_STORE_URL": store_url,
        "TRADEMAIL_CRYPTO_MASTER_KEY_COMMAND":
            f"{sys.executable} -c \"import sys; print('{secret}'); sys.exit(3)\""}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trademail", "keys", "status", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode != 0 and b"master_key_command failed (exit 3)" in err
    assert secret.encode() not in out + err
