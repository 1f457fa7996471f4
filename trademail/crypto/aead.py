"""AES-256-GCM sealing in TradeMail's versioned ciphertext format; the only AEAD call site."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from trademail.errors import MasterKeyError

# version (1) | key id (8) | nonce (12) | ciphertext and 16-byte tag
FORMAT_V1 = 1
KEY_ID_BYTES = 8
NONCE_BYTES = 12
_HEADER = 1 + KEY_ID_BYTES + NONCE_BYTES
KEY_BYTES = 32


class DecryptionFailed(MasterKeyError):
    """A ciphertext did not open: wrong key, wrong row or field, or tampering."""


class Key:
    """A 256-bit symmetric key with a stable id that names it inside every ciphertext."""

    __slots__ = ("_aead", "_secret", "id")

    def __init__(self, secret: bytes) -> None:
        if len(secret) != KEY_BYTES:
            raise ValueError("keys are 32 bytes")
        self._secret = secret
        self._aead = AESGCM(secret)
        self.id = hmac.digest(secret, b"trademail key id", "sha256")[:KEY_ID_BYTES]

    @classmethod
    def generate(cls) -> Key:
        return cls(os.urandom(KEY_BYTES))

    def __repr__(self) -> str:
        return f"Key(id={self.id.hex()})"

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return bytes([FORMAT_V1]) + self.id + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        if len(blob) < _HEADER + 16 or blob[0] != FORMAT_V1 or blob[1:1 + KEY_ID_BYTES] != self.id:
            raise DecryptionFailed("ciphertext is not sealed under this key")
        try:
            return self._aead.decrypt(blob[1 + KEY_ID_BYTES:_HEADER], blob[_HEADER:], aad)
        except InvalidTag:
            raise DecryptionFailed("ciphertext failed authentication") from None

    def wrap(self, key: Key, aad: bytes) -> bytes:
        return self.seal(key._secret, aad)

    def unwrap(self, blob: bytes, aad: bytes) -> Key:
        return Key(self.open(blob, aad))

    def mac(self, data: bytes) -> bytes:
        return hmac.digest(self._secret, data, "sha256")

    def derive(self, label: bytes) -> Key:
        """A sub-key for another purpose, so one secret never serves two algorithms."""
        return Key(hmac.digest(self._secret, b"trademail derive " + label, "sha256"))

    def export_base64(self) -> str:
        return base64.b64encode(self._secret).decode("ascii")


def key_id_of(blob: bytes) -> bytes:
    """The id of the key a ciphertext claims to be sealed under."""
    return blob[1:1 + KEY_ID_BYTES]


def digest(data: bytes) -> bytes:
    """SHA-256, for high-entropy secrets (tokens) that need a look-up hash, not a slow one."""
    return hashlib.sha256(data).digest()
