"""Where the master keys come from (a variable, a command that a KMS or a vault answers, or
the key file), and reading them again when they change so a rotation needs no restart."""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Callable

import structlog

from trademail.config import Config
from trademail.crypto import Key, Keyring, load_master_keys, read_keyring_file, write_keyring_file
from trademail.errors import MasterKeyError

log = structlog.get_logger(__name__)

KEY_COMMAND_SECONDS = 30
# A key id the keyring does not hold makes it read the key file again, at most this often.
MISSING_KEY_LOOK_SECONDS = 1.0


async def key_from_command(command: str) -> str:
    """The keyring text a configured command prints ("" when none is configured). What it
    prints is never logged or shown, not even when it fails."""
    if not command.strip():
        return ""
    try:
        process = await asyncio.create_subprocess_exec(
            *shlex.split(command), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    except (OSError, ValueError) as exc:
        raise MasterKeyError(f"[crypto] master_key_command cannot be run "
                             f"({exc.__class__.__name__})") from None
    try:
        out, _ = await asyncio.wait_for(process.communicate(), KEY_COMMAND_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise MasterKeyError("[crypto] master_key_command did not answer within "
                             f"{KEY_COMMAND_SECONDS} s") from None
    if process.returncode != 0:
        raise MasterKeyError(f"[crypto] master_key_command failed (exit {process.returncode})")
    return out.decode("ascii", "replace").strip()


class MasterKeySource:
    """The configured source of the master keys: "variable" ([crypto] master_key), "command"
    ([crypto] master_key_command) or "file" ([crypto] master_key_file). Only the file can
    be written, so only there can `keys rotate-master` and `keys retire` change the keys."""

    def __init__(self, config: Config, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        crypto = config.crypto
        self._given = crypto.master_key.reveal()
        self._command = crypto.master_key_command
        self.path = config.master_key_path
        self.kind = "variable" if self._given else "command" if self._command.strip() \
            else "file"
        self.reload_seconds = float(crypto.key_reload_seconds if self.kind == "file"
                                    else crypto.key_command_reload_seconds)
        self._monotonic = monotonic
        self._seen: tuple[int, int, int] | None = None
        self._last_run = monotonic()
        self._last_look = float("-inf")

    @property
    def writable(self) -> bool:
        return self.kind == "file"

    @property
    def settle_seconds(self) -> float:
        """How long after the keys change every running server holds the new ones: one
        reload interval, and a margin for a server busy when its turn came."""
        return self.reload_seconds + max(1.0, self.reload_seconds / 2)

    async def load(self, *, allow_create: bool = False) -> list[Key]:
        """The keys now, the current one first."""
        given = self._given or await key_from_command(self._command)
        self._seen = self._stat() if self.kind == "file" else None
        return load_master_keys(given, self.path, allow_create=allow_create)

    async def changed(self) -> list[Key] | None:
        """The keys, when they may have changed since last read: the file's size, time or
        inode moved, or the command's interval is up. None otherwise (and for a variable,
        which is read at start only)."""
        if self.kind == "file":
            if self._stat() == self._seen:
                return None
        elif self.kind != "command" or self._monotonic() - self._last_run < self.reload_seconds:
            return None
        self._last_run = self._monotonic()
        return await self.load()

    async def reload_into(self, keyring: Keyring) -> None:
        """Hand the keyring the keys when they changed (a server's periodic look)."""
        found = await self.changed()
        if found and keyring.replace_masters(found):
            log.info("master keys reloaded", current=keyring.active_key_id,
                     held=len(found))

    def look_again(self) -> list[Key] | None:
        """The key file read again now, for a keyring that meets a key id it does not hold
        (a rotation wrote the file a moment ago); at most once a second, and never for a
        variable or a command (whose keys come at their interval)."""
        now = self._monotonic()
        if self.kind != "file" or now - self._last_look < MISSING_KEY_LOOK_SECONDS:
            return None
        self._last_look = now
        try:
            keys = read_keyring_file(self.path)
        except MasterKeyError:
            return None
        self._seen = self._stat()
        return keys

    def save(self, keys: list[Key]) -> None:
        """Write the keyring file (current first) in one step."""
        if not self.writable:
            raise MasterKeyError(f"the master keys come from the {self.kind}; change them "
                                 "there")
        write_keyring_file(self.path, keys)
        self._seen = self._stat()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

