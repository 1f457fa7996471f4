"""DKIM keys and signatures (dkimpy): new Ed25519 and RSA-2048 pairs, their public records,
a private key sealed at rest under the keyring, and one DKIM-Signature over a mail."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from trademail.crypto.keyring import Keyring

ALGORITHMS = ("ed25519", "rsa")
_SIGNATURE_ALGORITHM = {"ed25519": b"ed25519-sha256", "rsa": b"rsa-sha256"}


class DkimError(Exception):
    """A mail dkimpy cannot sign (a header it cannot parse, a key it cannot read)."""


@dataclass(frozen=True)
class NewDkimKey:
    """A fresh key: its private part in the form dkimpy reads, and the record's p= value."""

    algorithm: str
    private: bytes
    public: str


def generate(algorithm: str) -> NewDkimKey:
    """A new key of `algorithm` ("ed25519", or "rsa" for RSA-2048)."""
    if algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
        seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption())
        raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
        # RFC 8463: p= is the raw 32-byte public key; dkimpy takes the base64 seed.
        return NewDkimKey(algorithm, base64.b64encode(seed), base64.b64encode(raw).decode())
    if algorithm == "rsa":
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = rsa_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
        der = rsa_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return NewDkimKey(algorithm, pem, base64.b64encode(der).decode())
    raise ValueError(f"no DKIM algorithm {algorithm!r}")


def record(algorithm: str, public: str) -> str:
    """The TXT value a selector publishes (RFC 6376 section 3.6.1, RFC 8463)."""
    return f"v=DKIM1; k={algorithm}; p={public}"


def _scope(key_id: str) -> str:
    return f"dkim:{key_id}"


def seal_private(keyring: Keyring, key_id: str, private: bytes) -> bytes:
    """The private key sealed under the keyring's directory key, bound to its key id."""
    return keyring.seal_field(_scope(key_id), "private key", private.decode("ascii"))


def open_private(keyring: Keyring, key_id: str, sealed: bytes) -> bytes:
    return keyring.open_field(_scope(key_id), "private key", sealed).encode("ascii")


def sign(message: bytes, *, selector: str, domain: str, algorithm: str, private: bytes,
         headers: list[str]) -> bytes:
    """One DKIM-Signature header line (relaxed/relaxed) for `message`, signing those of
    `headers` it holds, ending in CRLF."""
    try:
        return bytes(dkim.sign(message, selector.encode(), domain.encode(), private,
                               canonicalize=(b"relaxed", b"relaxed"),
                               signature_algorithm=_SIGNATURE_ALGORITHM[algorithm],
                               include_headers=[h.encode() for h in headers]))
    except (dkim.DKIMException, ValueError) as exc:
        raise DkimError(f"the mail could not be signed: {exc.__class__.__name__}") from None
