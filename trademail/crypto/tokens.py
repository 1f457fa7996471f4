"""Bearer and session tokens: random, shown once, stored only as a digest."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from trademail.crypto.aead import digest

TOKEN_BYTES = 32  # 256 bits


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> bytes:
    """Look-up digest of a token; the token's own 256 bits of entropy make a slow hash moot."""
    return digest(token.encode("utf-8", "surrogatepass"))


def random_word_suffix(length: int = 6) -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_mail_token() -> str:
    """A 130-bit random token for a mail local part: lower-case base32, as mail keeps it."""
    return base64.b32encode(secrets.token_bytes(17)).decode("ascii").rstrip("=").lower()[:26]


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over "timestamp.body" under a webhook's secret, as `v1=<hex>`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()
