"""Envelope encryption: the master keys, the keys they wrap, and every use of them."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable

from trademail.crypto.aead import DecryptionFailed, Key, key_id_of
from trademail.errors import MasterKeyError

SYSTEM_KEYS = ("directory", "index")


def _aad(*parts: str | bytes) -> bytes:
    """Length-prefixed parts, so ("ab", "c") and ("a", "bc") never bind the same."""
    out = bytearray()
    for part in parts:
        raw = part.encode() if isinstance(part, str) else part
        out += len(raw).to_bytes(2, "big") + raw
    return bytes(out)


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
    """One member's key: wraps the content keys of their mailbox and keys their word index.
    While the member's key is being rotated it holds the previous key too: a content key
    opens under whichever key its wrap names, and search asks for either key's tokens."""

    __slots__ = ("_fingerprints", "_key", "_previous", "_previous_words", "_words",
                 "member_id")

    def __init__(self, member_id: str, key: Key, previous: Key | None = None) -> None:
        self.member_id = member_id
        self._key = key
        self._previous = previous
        self._words = key.derive(b"word index")
        self._previous_words = previous.derive(b"word index") if previous else None
        self._fingerprints = key.derive(b"request fingerprint")

    @property
    def key_id(self) -> bytes:
        """The id the member key's wraps carry (not the previous key's)."""
        return self._key.id

    def wrap_content_key(self, ck: ContentKey, message_id: str) -> bytes:
        return self._key.wrap(ck._key, _aad(self.member_id, message_id))

    def unwrap_content_key(self, blob: bytes, message_id: str) -> ContentKey:
        key = self._previous if self._previous is not None \
            and key_id_of(blob) == self._previous.id else self._key
        return ContentKey(key.unwrap(blob, _aad(self.member_id, message_id)))

    def rewrap_content_key(self, blob: bytes, message_id: str) -> bytes | None:
        """A content key wrapped under the previous member key, wrapped under this one
        (None when it already is)."""
        if key_id_of(blob) == self._key.id:
            return None
        return self.wrap_content_key(self.unwrap_content_key(blob, message_id), message_id)

    def word_token(self, word: str) -> bytes:
        return self._words.mac(word.encode())[:16]

    def word_tokens(self, word: str) -> tuple[bytes, ...]:
        """The tokens a search looks a word up by: while rotating, under either key."""
        if self._previous_words is None:
            return (self.word_token(word),)
        return self.word_token(word), self._previous_words.mac(word.encode())[:16]

    def fingerprint(self, data: bytes) -> bytes:
        """Keyed digest of a request, to recognise a retry without storing its content."""
        return self._fingerprints.mac(data)


class Keyring:
    """Master keys plus the system keys they wrap; hands out member and content keys."""

    def __init__(self, masters: list[Key], directory: Key, index: Key, *,
                 on_missing: Callable[[], list[Key] | None] | None = None) -> None:
        self._masters = {k.id: k for k in masters}
        self._active = masters[0]
        self._on_missing = on_missing
        self._directory = directory
        self._index = index
        self._forms = index.derive(b"form tokens")
        self._incoming = index.derive(b"incoming mail")
        self._signatures = index.derive(b"mail signatures")
        self._audit = index.derive(b"audit chain")

    @property
    def active_key_id(self) -> str:
        return self._active.id.hex()

    def replace_masters(self, masters: list[Key]) -> bool:
        """Hold these master keys from now on, the first current (new wraps are made under
        it); whether anything changed. A running server calls it when its key source
        changes, so a rotation needs no restart."""
        if not masters:
            raise MasterKeyError("a keyring needs at least one master key")
        if [k.id for k in masters] == [self._active.id, *(
                i for i in self._masters if i != self._active.id)]:
            return False
        self._masters, self._active = {k.id: k for k in masters}, masters[0]
        return True

    def master_ids(self) -> list[str]:
        """The ids of the master keys this keyring holds, the active one first."""
        return [self._active.id.hex(),
                *(i.hex() for i in self._masters if i != self._active.id)]

    @staticmethod
    def wrapped_by(blob: bytes) -> str:
        """The id of the master key a wrapped member or system key is sealed under."""
        return key_id_of(blob).hex()

    @classmethod
    def open(cls, masters: list[Key], wrapped: dict[str, bytes], *,
             on_missing: Callable[[], list[Key] | None] | None = None) -> Keyring:
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
        return cls(masters, keys["directory"], keys["index"], on_missing=on_missing)

    @classmethod
    def create(cls, masters: list[Key], *,
               on_missing: Callable[[], list[Key] | None] | None = None,
               ) -> tuple[Keyring, dict[str, bytes]]:
        """New system keys for a new database, and their wrapped form to store."""
        keyring = cls(masters, directory=Key.generate(), index=Key.generate(),
                      on_missing=on_missing)
        return keyring, keyring.wrapped_system_keys()

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

    def rewrap_system_keys(self, wrapped: dict[str, bytes]) -> dict[str, bytes]:
        """The stored system keys that are not under the active master, re-wrapped."""
        for name, blob in wrapped.items():
            self._master_for(blob).unwrap(blob, _aad("system", name))  # still opens
        fresh = self.wrapped_system_keys()
        return {name: fresh[name] for name, blob in wrapped.items()
                if key_id_of(blob) != self._active.id}

    def _master_for(self, blob: bytes) -> Key:
        key_id = key_id_of(blob)
        if key_id not in self._masters and self._on_missing is not None:
            # A rotation may have put a new key in the key file a moment ago: look once.
            found = self._on_missing()
            if found:
                self.replace_masters(found)
        try:
            return self._masters[key_id]
        except KeyError:
            raise MasterKeyError(f"no master key with id {key_id.hex()} is loaded") from None

    def new_member_key(self, member_id: str) -> tuple[MemberKey, bytes]:
        key = Key.generate()
        wrapped = self._active.wrap(key, _aad(self._active.id, member_id))
        return MemberKey(member_id, key), wrapped

    def member_key(self, member_id: str, wrapped: bytes,
                   previous: bytes | None = None) -> MemberKey:
        """A member's key; with `previous` (their key before a rotation still running),
        one that opens what either key wrapped."""
        return MemberKey(member_id, self._unwrap_member(member_id, wrapped),
                         None if previous is None else self._unwrap_member(member_id, previous))

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

    def audit_mac(self, previous: bytes, entry: bytes) -> bytes:
        """The MAC that chains an audit entry (`entry`, its canonical bytes) to the one
        before it (`previous`, that entry's MAC): only this server can extend the chain."""
        return self._audit.mac(_aad("audit", previous, entry))

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
