"""Bearer and session tokens: random, shown once, stored only as a digest."""

from __future__ import annotations

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
