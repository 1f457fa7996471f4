"""Master-key and member-key rotation through the command line, online: a real server keeps
serving the API while `trademail keys rotate-master` runs, is killed half-way and resumed;
every message stays readable by the same server process, and none is lost."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import os
import pty
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import aiohttp

from tests.helpers import PASSWORD, make_config
from tests.process_helpers import Server, run_cli
from trademail.app import Core, open_core
from trademail.config import Config
from trademail.crypto import Key, read_keyring_file
from trademail.services.messages import Draft
from trademail.testing import FakeClock

OLD_KEY = base64.b64encode(b"o" * 32).decode()


class Watched:
    """`trademail ARGS` with its standard error on a terminal (so it shows its progress),
    read as it comes."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        leader, follower = pty.openpty()
        self.proc = subprocess.Popen([sys.executable, "-m", "trademail", *args], env=env,
                                     stdout=subprocess.PIPE, stderr=follower)
        os.close(follower)
        self.err = ""
        self._reader = threading.Thread(target=self._read, args=(leader,), daemon=True)
        self._reader.start()

    def _read(self, leader: int) -> None:
        try:
            while chunk := os.read(leader, 4096):
                self.err += chunk.decode(errors="replace")
        except OSError:  # the process closed its terminal
            pass
        finally:
            os.close(leader)

    async def until(self, pattern: str, *, within: float = 60) -> re.Match[str]:
        """Wait (on the process's real progress) until its standard error matches."""
        deadline = asyncio.get_running_loop().time() + within
        while not (found := re.search(pattern, self.err)):
            assert self.proc.poll() is None or self._reader.is_alive(), self.err
            assert asyncio.get_running_loop().time() < deadline, self.err
            await asyncio.sleep(0.05)
        return found

    async def end(self) -> tuple[int, str]:
        code = await asyncio.to_thread(self.proc.wait, 60)
        await asyncio.to_thread(self._reader.join, 10)
        return code, self.err


def _env(tmp_path: Path, store_url: str, key: Path) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TRADEMAIL_")} | {
        "TRADEMAIL_DATA_DIR": str(tmp_path / "var"), "TRADEMAIL_STORE_URL": store_url,
        "TRADEMAIL_CRYPTO_MASTER_KEY_FILE": str(key), "TRADEMAIL_CRYPTO_KEY_RELOAD_SECONDS": "1"}


async def _fails(*args: str, env: dict[str, str]) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trademail", *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1, (out + err).decode()
    return err.decode()


async def _seed(tmp_path: Path, store_url: str, key: Path, members: int,
                per_member: int) -> tuple[list[tuple[str, str]], dict[str, set[str]]]:
    """Members (username, API token) who wrote to each other, and each one's mailbox."""
    config = make_config(tmp_path, store_url, TRADEMAIL_CRYPTO_MASTER_KEY="",
                         TRADEMAIL_CRYPTO_MASTER_KEY_FILE=str(key))
    core = await open_core(config, FakeClock())
    try:
        made = []
        for n in range(members):
            profile = await core.signup.register(
                username=f"rot{n:03d}", password=PASSWORD, email=f"rot{n}@real-rot.example",
                company=f"Rot {n}", country="Peru", client="test")
            _, secret = await core.tokens.issue(profile.id, name="t", scopes=None,
                                                expires_in=None)
            made.append((profile.id, f"rot{n:03d}", secret))
        boxes: dict[str, set[str]] = {name: set() for _, name, _ in made}
        for n, (member_id, name, _) in enumerate(made):
            for k in range(per_member):
                to = made[(n + k + 1) % members][1]
                sent = await core.sending.send(member_id, Draft((to,), f"Seeded {k}",
                                                                f"cashew lot {n} {k}"))
                boxes[to].add(sent.id)
                boxes[name].add(sent.id)
    finally:
        await core.close()
    return [(name, secret) for _, name, secret in made], boxes


async def _traffic(server: Server, members: list[tuple[str, str]],
                   boxes: dict[str, set[str]], stop: asyncio.Event) -> int:
    """Sends and reads through the API until told to stop; how many requests it made."""
    requests = 0
    async with aiohttp.ClientSession(server.url) as http:
        while not stop.is_set():
            for n, (name, token) in enumerate(members):
                auth = {"Authorization": f"Bearer {token}"}
                to = members[(n + 7) % len(members)][0]
                async with http.post("/api/v1/messages", headers=auth, json={
                        "to": [to], "subject": "During", "body": "sent while rotating"}) as resp:
                    assert resp.status == 201, await resp.text()
                    sent = (await resp.json())["id"]
                boxes[to].add(sent)
                boxes[name].add(sent)
                some = sorted(boxes[name])[n % len(boxes[name])]
                async with http.get(f"/api/v1/messages/{some}", headers=auth) as resp:
                    assert resp.status == 200, await resp.text()
                requests += 2
                if stop.is_set():
                    break
    return requests


async def _everything_readable(server: Server, members: list[tuple[str, str]],
                               boxes: dict[str, set[str]]) -> None:
    async with aiohttp.ClientSession(server.url) as http:
        for name, token in members:
            auth = {"Authorization": f"Bearer {token}"}
            seen: set[str] = set()
            for folder in ("inbox", "sent"):
                cursor = ""
                while True:
                    async with http.get(f"/api/v1/messages?folder={folder}&limit=200"
                                        f"{'&cursor=' + cursor if cursor else ''}",
                                        headers=auth) as resp:
                        assert resp.status == 200, await resp.text()
                        page = await resp.json()
                    seen |= {m["id"] for m in page["messages"]}
                    if not (cursor := page["next_cursor"]):
                        break
            assert seen == boxes[name], name  # none lost
            for message_id in sorted(seen)[-3:]:
                async with http.get(f"/api/v1/messages/{message_id}", headers=auth) as resp:
                    assert resp.status == 200, await resp.text()
                    assert (await resp.json())["body"]


async def test_rotation_runs_online_is_killed_half_way_and_resumes(
        tmp_path: Path, store_url: str) -> None:
    key = tmp_path / "master.key"
    key.write_text(OLD_KEY + "\n")  # a key file from before keyrings: a keyring of one
    key.chmod(0o600)
    old_id = read_keyring_file(key)[0].id.hex()
    members, boxes = await _seed(tmp_path, store_url, key, members=60, per_member=2)
    env = _env(tmp_path, store_url, key)
    server = Server(tmp_path, store_url, 9, TRADEMAIL_CRYPTO_MASTER_KEY="",
                    TRADEMAIL_CRYPTO_MASTER_KEY_FILE=str(key),
                    TRADEMAIL_CRYPTO_KEY_RELOAD_SECONDS="1", TRADEMAIL_RELAY_SMARTHOST="",
                    TRADEMAIL_LOG_LEVEL="warning")  # its standard error is a pipe nobody reads
    await server.start()
    stop = asyncio.Event()
    traffic = asyncio.create_task(_traffic(server, members, boxes, stop))
    try:
        first = Watched("keys", "rotate-master", "--batch", "5", "--pause", "0.2", env=env)
        await first.until(r"\] (1[5-9]|[2-5]\d)/60")  # some batches done, not all
        first.proc.send_signal(signal.SIGKILL)
        await first.end()
        keyring = read_keyring_file(key)
        assert [k.id.hex() for k in keyring][1:] == [old_id]  # new first, old kept
        assert key.stat().st_mode & 0o777 == 0o600
        new_id = keyring[0].id.hex()
        # Half-way: the old key still protects members, so it cannot go yet.
        refused = await _fails("keys", "retire", old_id, env=env)
        assert re.search(rf"master key {old_id} is still needed by [1-9]\d* member keys",
                         refused), refused
        assert "rotate-master" in refused

        second = Watched("keys", "rotate-master", "--batch", "5", env=env)
        code, err = await second.end()
        assert code == 0, err
        assert "unfinished: going on with it" in err and "] 60/60" in err and "ETA" in err
        stop.set()
        assert await traffic > 0
    finally:
        stop.set()
        if not traffic.done():
            traffic.cancel()
        await asyncio.gather(traffic, return_exceptions=True)
    try:
        await _everything_readable(server, members, boxes)  # the same server, never restarted
        out, _ = await run_cli("keys", "status", env=env, terminal=False)
        lines = out.splitlines()
        assert lines[0].startswith(f"master key {new_id} (current): 60 member keys"), out
        assert lines[0].endswith("system keys: directory, index"), out
        assert f"master key {old_id} (retired): 0 member keys" in lines[1], out
        assert f"`trademail keys retire {old_id}`" in lines[2], out
        out, _ = await run_cli("keys", "retire", old_id, env=env, terminal=False)
        assert f"master key {old_id} is retired" in out
        assert [k.id.hex() for k in read_keyring_file(key)] == [new_id]
        await _everything_readable(server, members[:5], boxes)  # it reloaded; reads go on
    finally:
        server.stop()


async def offers_to_ana(tmp_path: Path, store_url: str,
                        clock: FakeClock) -> tuple[dict[str, str], Config, Core, list[str]]:
    """The CLI's environment and the config for a master key kept in a file, and an open
    core where Ben (ids[1]) has sent Ana (ids[0]) twelve offers about sesame."""
    key = tmp_path / "master.key"
    env = _env(tmp_path, store_url, key)
    config = make_config(tmp_path, store_url, TRADEMAIL_CRYPTO_MASTER_KEY="",
                         TRADEMAIL_CRYPTO_MASTER_KEY_FILE=str(key))
    core = await open_core(config, clock)
    try:
        ids = [(await core.signup.register(
            username=name, password=PASSWORD, email=f"{name}@real-{name}.example",
            company=f"{name.title()} Trading", country="Peru", client="test")).id
            for name in ("ana", "ben")]
        for n in range(12):
            await core.sending.send(ids[1], Draft(("ana",), f"Offer {n}", f"sesame lot{n}"))
    except BaseException:
        await core.close()
        raise
    return env, config, core, ids


async def test_a_members_key_rotates_while_they_read_search_and_get_mail(
        tmp_path: Path, store_url: str, clock: FakeClock) -> None:
    env, config, core, ids = await offers_to_ana(tmp_path, store_url, clock)
    try:
        draft = await core.writing.save_draft(ids[0], None, to="ben", subject="Reply",
                                              body="unfinished", in_reply_to=None)
        before = (await core.members.profile(ids[0])).username
    finally:
        await core.close()
    assert before == "ana"

    stopped = Watched("keys", "rotate-member", "ana", "--batch", "2", "--pause", "0.3",
                      "--settle", "1", env=env)
    await stopped.until(r"\] [4-9]/12")
    stopped.proc.send_signal(signal.SIGINT)  # Ctrl-C: stops after the batch it is in
    code, err = await stopped.end()
    assert code == 130 and "run `trademail keys rotate-member ana` again" in err, err

    core = await open_core(config, clock)
    try:  # half-way: both keys work; new mail, reads, search and drafts all go on
        await core.sending.send(ids[1], Draft(("ana",), "Midway", "sesame during"))
        page = await core.reading.page(ids[0], folder=None, query="sesame")
        assert len(page.items) == 13
        assert (await core.writing.draft(ids[0], draft.id)).body == "unfinished"
        out, _ = await run_cli("keys", "status", env=env, terminal=False)
        assert "previous key of 1 members rotating their own key" in out, out
    finally:
        await core.close()

    out, _ = await run_cli("keys", "rotate-member", "ana", "--batch", "2", "--settle", "1",
                           env=env, terminal=False)
    assert "ana has a new member key" in out and "1 drafts re-wrapped" in out
    core = await open_core(config, clock)
    try:
        row = await core.stores.members.member_by_id(ids[0])
        assert row is not None and row.previous_member_key is None
        page = await core.reading.page(ids[0], folder=None, query="sesame", limit=50)
        assert len(page.items) == 13
        assert len((await core.reading.page(ids[0], folder=None, query="ben")).items) == 13
        assert len((await core.reading.page(ids[0], folder=None, query="lot3")).items) == 1
        for item in page.items:
            assert (await core.reading.read(ids[0], item.id)).body.startswith("sesame")
        assert (await core.writing.draft(ids[0], draft.id)).body == "unfinished"
        # Ben's copies were never under Ana's key: untouched, still readable.
        assert len((await core.reading.page(ids[1], folder="sent", limit=50)).items) == 13
        # Ana's own log says so; the chain still holds.
        log = (await core.audit.member_log(ids[0])).entries
        assert [(e.what, e.by) for e in log if e.action == "key.rotated"] == [
            ("Your key was rotated", "TradeMail staff")], log
        assert (await core.audit.verify()).ok
    finally:
        await core.close()


async def test_keys_from_a_variable_or_a_command(tmp_path: Path, store_url: str,
                                                 clock: FakeClock) -> None:
    """A KMS or vault client prints the keyring; what it prints is never shown, even when
    the command fails. TradeMail cannot write there, so rotation asks for the new key to be
    put first in it, and then re-wraps to it."""
    secret = base64.b64encode(b"k" * 32).decode()
    command = f"{sys.executable} -c \"print('{secret}')\""
    core = await open_core(make_config(tmp_path, store_url, TRADEMAIL_CRYPTO_MASTER_KEY="",
                                       TRADEMAIL_CRYPTO_MASTER_KEY_COMMAND=command,
                                       TRADEMAIL_CRYPTO_MASTER_KEY_FILE=str(
                                           tmp_path / "absent.key")), clock)
    try:
        await core.signup.register(username="kms", password=PASSWORD,
                                   email="kms@real-kms.example", company="Co", country="Peru",
                                   client="test")
    finally:
        await core.close()
    assert not (tmp_path / "absent.key").exists()  # no key file was made
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEMAIL_")} | {
        "TRADEMAIL_DATA_DIR": str(tmp_path / "var"), "TRADEMAIL_STORE_URL": store_url,
        "TRADEMAIL_CRYPTO_MASTER_KEY": secret, "TRADEMAIL_CRYPTO_KEY_COMMAND_RELOAD_SECONDS": "1"}
    refused = await _fails("keys", "rotate-master", env=env)
    assert "Put a new key first in the keyring" in refused and "keys generate" in refused
    new, _ = await run_cli("keys", "generate", env=env, terminal=False)
    env["TRADEMAIL_CRYPTO_MASTER_KEY"] = f"{new.strip()}\n{secret}\n"  # new first, old after
    out, _ = await run_cli("keys", "rotate-master", env=env, terminal=False)
    assert "every member key and system key is under master key" in out
    refused = await _fails("keys", "retire", _id_of(secret), env=env)
    assert "remove it there" in refused
    refused = await _fails("keys", "retire", _id_of(new.strip()), env=env)
    assert "is the current master key" in refused
    env |= {"TRADEMAIL_CRYPTO_MASTER_KEY": "",
            "TRADEMAIL_CRYPTO_MASTER_KEY_COMMAND":
                f"{sys.executable} -c \"import sys; print('{secret}'); sys.exit(3)\""}
    failed = await _fails("keys", "status", env=env)
    assert "master_key_command failed (exit 3)" in failed and secret not in failed


def _id_of(secret: str) -> str:
    return Key(base64.b64decode(secret)).id.hex()


async def test_two_rotations_never_run_at_once(tmp_path: Path, store_url: str,
                                               clock: FakeClock) -> None:
    """Each would write a new key first in the file, and the second file would leave the
    first key out while data is wrapped under it: a second run is refused, the file as it
    was."""
    key = tmp_path / "master.key"
    config = make_config(tmp_path, store_url, TRADEMAIL_CRYPTO_MASTER_KEY="",
                         TRADEMAIL_CRYPTO_MASTER_KEY_FILE=str(key))
    await (await open_core(config, clock)).close()
    before = key.read_bytes()
    with (tmp_path / ".master.key.lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a rotation running now
        for command in (("keys", "rotate-master"), ("keys", "retire", "0" * 16)):
            refused = await _fails(*command, env=_env(tmp_path, store_url, key))
            assert "is running on this key file" in refused and "Traceback" not in refused
    assert key.read_bytes() == before
