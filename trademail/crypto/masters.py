"""The master keyring as text: one base64 key a line, the current key first, retired keys
after it, `#` comments; read from a file, a variable or a command, and written atomically."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from pathlib import Path

import structlog

from trademail.crypto.aead import Key
from trademail.errors import MasterKeyError

log = structlog.get_logger(__name__)

_HEADER = ("# TradeMail master keys (base64, 256 bits each). The first is current: new keys\n"
           "# are wrapped under it. The others are retired, kept while data still needs\n"
           "# them; `trademail keys retire KEY_ID` removes one nothing needs any more.\n")


def decode_master(text: str, where: str) -> Key:
    try:
        secret = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"{where}: not valid base64") from None
    if len(secret) != 32:
        raise MasterKeyError(f"{where}: must hold 32 bytes (256 bits), holds {len(secret)}")
    return Key(secret)


def parse_keyring(text: str, where: str) -> list[Key]:
    """The keys of a keyring text, current first. A legacy file of one key is a keyring of
    one; in a variable, keys may be parted by commas or spaces too. A key given twice
    counts once."""
    keys: dict[bytes, Key] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith("#"):
            continue
        for word in line.replace(",", " ").split():
            key = decode_master(word, f"{where}, line {number}")
            keys.setdefault(key.id, key)
    if not keys:
        raise MasterKeyError(f"{where}: holds no key")
    return list(keys.values())


def keyring_text(keys: Sequence[Key]) -> str:
    lines = [f"{key.export_base64()}\n" for key in keys]
    return _HEADER + lines[0] + ("# retired:\n" + "".join(lines[1:]) if keys[1:] else "")


def read_keyring_file(path: Path) -> list[Key]:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise MasterKeyError(f"master key file {path}: cannot be read "
                             f"({exc.__class__.__name__})") from None
    if os.name == "posix" and path.stat().st_mode & 0o077:
        log.warning("master key file is readable by other users; chmod 600 it", path=str(path))
    return parse_keyring(text, f"master key file {path}")


def write_keyring_file(path: Path, keys: Sequence[Key]) -> None:
    """Replace the keyring file in one step: a new file (mode 0600) in the same directory,
    flushed to disk, renamed over the old one, and the directory flushed; a reader sees
    the old keyring or the new one, never half of either, and a crash loses neither."""
    if not keys:
        raise MasterKeyError("a keyring needs at least one key")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(keyring_text(keys))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def create_key_file(path: Path) -> Key:
    """Write a new random master key with mode 0600; never replaces an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Key.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(keyring_text([key]))
    log.warning(
        "GENERATED A NEW MASTER KEY. Back it up now and keep it apart from the database: "
        "without it no message and no address can ever be read again.",
        path=str(path), key_id=key.id.hex())
    return key


def key_file(path: Path) -> list[Key]:
    """The keyring in `path`, made (one new key, mode 0600, with a warning to back it up)
    when missing."""
    try:
        return [create_key_file(path)]
    except FileExistsError:
        return read_keyring_file(path)


def load_master_keys(given: str, path: Path, *, allow_create: bool) -> list[Key]:
    """The current master key first, then retired ones still needed to unwrap: from
    `given` (a variable's or a command's keyring text) or else from the key file."""
    if given:
        return parse_keyring(given, "[crypto] master_key")
    if path.exists():
        return read_keyring_file(path)
    if allow_create:  # key_file reads it if another process starting now just made it
        return key_file(path)
    raise MasterKeyError(f"master key file {path} is missing, and this database holds "
                         "data sealed under a master key; restore the key from backup")
