"""Where the master key comes from when it is not in the configuration or a file: a
command that a KMS or a vault answers, its standard output the base64 key."""

from __future__ import annotations

import asyncio
import shlex

from trademail.errors import MasterKeyError

KEY_COMMAND_SECONDS = 30


async def key_from_command(command: str) -> str:
    """The master key a configured command prints ("" when none is configured). What it
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
