"""Envelope encryption: the master keys, the keys they wrap, and every use of them."""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Iterable
from pathlib import Path

import structlog

from trademail.crypto.aead import DecryptionFailed, Key, key_id_of
from trademail.errors import MasterKeyError

log = structlog.get_logger(__name__)

SYSTEM_KEYS = ("directory", "index")


def _aad(*parts: str | bytes) -> bytes:
    """Length-prefixed parts, so ("ab", "c") and ("a", "bc") never bind the same."""
    out = bytearray()
    for part in parts:
        raw = part.encode() if isinstance(part, str) else part
        out += len(raw).to_bytes(2, "big") + raw
    return bytes(out)


def _decode_master(text: str, where: str) -> Key:
    try:
        secret = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"{where}: not valid base64") from None
    if len(secret) != 32:
        raise MasterKeyError(f"{where}: must hold 32 bytes (256 bits), holds {len(secret)}")
    return Key(secret)


def _read_key_file(path: Path) -> Key:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise MasterKeyError(f"master key file {path}: cannot be read "
                             f"({exc.__class__.__name__})") from None
    if os.name == "posix" and path.stat().st_mode & 0o077:
        log.warning("master key file is readable by other users; chmod 600 it", path=str(path))
    return _decode_master(text, f"master key file {path}")


def create_key_file(path: Path) -> Key:
    """Write a new random master key with mode 0600; never replaces an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Key.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.export_base64() + "\n")
    log.warning(
        "GENERATED A NEW MASTER KEY. Back it up now and keep it apart from the database: "
        "without it no message and no address can ever be read again.",
        path=str(path), key_id=key.id.hex())
    return key


def key_file(path: Path) -> Key:
    """The key in `path`, made (mode 0600, with a warning to back it up) when missing."""
    try:
        return create_key_file(path)
    except FileExistsError:
        return _read_key_file(path)


def load_master_keys(given: str, path: Path, retired: Iterable[str], *,
                     allow_create: bool) -> list[Key]:
    """The active master key first, then retired ones still needed to unwrap."""
    if given:
        active = _decode_master(given, "[crypto] master_key")
    elif path.exists():
        active = _read_key_file(path)
    elif allow_create:  # key_file reads it if another process starting now just made it
        active = key_file(path)
    else:
        raise MasterKeyError(f"master key file {path} is missing, and this database holds "
                             "data sealed under a master key; restore the key from backup")
    return [active] + [_read_key_file(Path(p)) for p in retired]


class ContentKey:
    """The key of one message: seals its subject, body and attachments."""

    __slots__ = ("_key",)

    def __init__(self, key: Key) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> ContentKey:
        return cls(Key.generate())

    def seal(self, message_id: str, field: str, data: bytes) -> bytes:
        return self._key.seal(data, _aad(message_id, field))

    def open(self, message_id: str, field: str, blob: bytes) -> bytes:
        return self._key.open(blob, _aad(message_id, field))

    def wrap_key(self, message_id: str, field: str, key: ContentKey) -> bytes:
        """Seal another key (a streamed file's) as one field of this message."""
        return self._key.wrap(key._key, _aad(message_id, field))

    def unwrap_key(self, message_id: str, field: str, blob: bytes) -> ContentKey:
        return ContentKey(self._key.unwrap(blob, _aad(message_id, field)))


class MemberKey:
    """One member's key: wraps the content keys of their mailbox and keys their word index."""

    __slots__ = ("_fingerprints", "_key", "_words", "member_id")

    def __init__(self, member_id: str, key: Key) -> None:
        self.member_id = member_id
        self._key = key
        self._words = key.derive(b"word index")
        self._fingerprints = key.derive(b"request fingerprint")

    def wrap_content_key(self, ck: ContentKey, message_id: str) -> bytes:
        return self._key.wrap(ck._key, _aad(self.member_id, message_id))

    def unwrap_content_key(self, blob: bytes, message_id: str) -> ContentKey:
        return ContentKey(self._key.unwrap(blob, _aad(self.member_id, message_id)))

    def word_token(self, word: str) -> bytes:
        return self._words.mac(word.encode())[:16]

    def fingerprint(self, data: bytes) -> bytes:
        """Keyed digest of a request, to recognise a retry without storing its content."""
        return self._fingerprints.mac(data)


class Keyring:
    """Master keys plus the system keys they wrap; hands out member and content keys."""

    def __init__(self, masters: list[Key], directory: Key, index: Key) -> None:
        self._masters = {k.id: k for k in masters}
        self._active = masters[0]
        self._directory = directory
        self._index = index
        self._forms = index.derive(b"form tokens")
        self._incoming = index.derive(b"incoming mail")
        self._signatures = index.derive(b"mail signatures")

    @property
    def active_key_id(self) -> str:
        return self._active.id.hex()

    def master_ids(self) -> list[str]:
        """The ids of the master keys this keyring holds, the active one first."""
        return [self._active.id.hex(),
                *(i.hex() for i in self._masters if i != self._active.id)]

    @staticmethod
    def wrapped_by(blob: bytes) -> str:
        """The id of the master key a wrapped member or system key is sealed under."""
        return key_id_of(blob).hex()

    @classmethod
    def open(cls, masters: list[Key], wrapped: dict[str, bytes]) -> Keyring:
        """Unwrap the system keys stored in the database, or fail loudly on a wrong master."""
        keys = {}
        for name in SYSTEM_KEYS:
            blob = wrapped[name]
            master = next((k for k in masters if k.id == key_id_of(blob)), None)
            if master is None:
                raise MasterKeyError(
                    f"the master key does not match this database: its data is sealed under "
                    f"key id {key_id_of(blob).hex()}, the key given has id {masters[0].id.hex()}")
            try:
                keys[name] = master.unwrap(blob, _aad("system", name))
            except DecryptionFailed:
                raise MasterKeyError(f"the master key {master.id.hex()} failed to open the "
                                     f"{name} key: wrong key or damaged database") from None
        return cls(masters, keys["directory"], keys["index"])

    @classmethod
    def create(cls, masters: list[Key]) -> tuple[Keyring, dict[str, bytes]]:
        """New system keys for a new database, and their wrapped form to store."""
        keyring = cls(masters, directory=Key.generate(), index=Key.generate())
        return keyring, keyring.wrapped_system_keys()

    def rotating_to(self, new: Key) -> Keyring:
        """This keyring with `new` as the active master, the others kept to unwrap."""
        masters = [new, *(k for k in self._masters.values() if k.id != new.id)]
        return Keyring(masters, self._directory, self._index)

    def wrapped_system_keys(self) -> dict[str, bytes]:
        """The system keys wrapped under the active master (after a rotation, the new one)."""
        keys = {"directory": self._directory, "index": self._index}
        return {name: self._active.wrap(keys[name], _aad("system", name))
                for name in SYSTEM_KEYS}

    def rewrap_member_key(self, member_id: str, wrapped: bytes) -> bytes | None:
        """`wrapped` under the active master, or None when it already is."""
        if key_id_of(wrapped) == self._active.id:
            return None
        key = self._unwrap_member(member_id, wrapped)
        return self._active.wrap(key, _aad(self._active.id, member_id))

    def _master_for(self, blob: bytes) -> Key:
        try:
            return self._masters[key_id_of(blob)]
        except KeyError:
            raise MasterKeyError(f"no master key with id {key_id_of(blob).hex()} is loaded") \
                from None

    def new_member_key(self, member_id: str) -> tuple[MemberKey, bytes]:
        key = Key.generate()
        wrapped = self._active.wrap(key, _aad(self._active.id, member_id))
        return MemberKey(member_id, key), wrapped

    def member_key(self, member_id: str, wrapped: bytes) -> MemberKey:
        return MemberKey(member_id, self._unwrap_member(member_id, wrapped))

    def _unwrap_member(self, member_id: str, wrapped: bytes) -> Key:
        master = self._master_for(wrapped)
        return master.unwrap(wrapped, _aad(master.id, member_id))

    def seal_field(self, member_id: str, field: str, text: str) -> bytes:
        """Seal a directory field (an email address, a contact section) of a member."""
        return self._directory.seal(text.encode(), _aad(member_id, field))

    def open_field(self, member_id: str, field: str, blob: bytes) -> str:
        return self._directory.open(blob, _aad(member_id, field)).decode()

    def seal_outbound(self, outbox_id: str, payload: bytes) -> bytes:
        """Seal a queued delivery (it names real addresses) to its outbox row."""
        return self._directory.seal(payload, _aad("outbox", outbox_id))

    def open_outbound(self, outbox_id: str, blob: bytes) -> bytes:
        return self._directory.open(blob, _aad("outbox", outbox_id))

    def form_token(self, binding: bytes) -> str:
        """A token that ties a form to one browser's secret (CSRF); only this server makes it."""
        return base64.urlsafe_b64encode(self._forms.mac(_aad("form", binding))).decode() \
            .rstrip("=")

    def check_form_token(self, binding: bytes, token: str) -> bool:
        return hmac.compare_digest(self.form_token(binding).encode(),
                                   token.encode("utf-8", "surrogatepass"))

    def blind_index(self, kind: str, normalized: str) -> bytes:
        """Keyed look-up value: equal inputs match, nothing else about them is revealed."""
        return self._index.mac(_aad(kind, normalized))

    def incoming_mail_digest(self, member_id: str, scope: str, identity: bytes) -> bytes:
        """Keyed digest of an incoming mail's identity (its Message-ID) for one member and
        conversation: a retry is recognised, the Message-ID is not kept."""
        return self._incoming.mac(_aad(member_id, scope, identity))

    def sign(self, purpose: str, data: str) -> str:
        """A short keyed signature (80 bits, lower-case base32) for tokens that travel in mail:
        VERP bounce addresses, unsubscribe links. Bound to its purpose."""
        mac = self._signatures.mac(_aad(purpose, data))
        return base64.b32encode(mac[:10]).decode("ascii").lower()

    def verify(self, purpose: str, data: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(purpose, data), signature.lower())
