"""Second factors: authenticator-app codes (TOTP, RFC 6238, through pyotp), passkeys
(WebAuthn, through py_webauthn) and recovery codes. The only place either library is used."""

from __future__ import annotations

import hmac
import json
import os
import secrets
from dataclasses import dataclass
from typing import Any

import pyotp
import webauthn
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

TOTP_WINDOW = 1       # a code of the step before or after counts too (clocks drift)
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


class FactorRejected(ValueError):
    """A code, passkey response or challenge that does not prove the factor."""


# ---------------------------------------------------------------------------- TOTP

def new_totp_secret() -> str:
    """A new shared secret for an authenticator app (160 bits, base32, as RFC 4226 advises)."""
    return pyotp.random_base32(32)


def totp_uri(secret: str, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def totp_step(secret: str, code: str, now: float, *, after: int) -> int:
    """The time step `code` belongs to (now, or one step either side), when it is later than
    `after` (the last step used: a code works once). Raises FactorRejected otherwise."""
    code = "".join(ch for ch in code if not ch.isspace())
    if len(code) != 6 or not code.isdigit():
        raise FactorRejected("a code from an authenticator app has 6 digits")
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(now)
    for step in range(now_step - TOTP_WINDOW, now_step + TOTP_WINDOW + 1):
        if step > after and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    raise FactorRejected("that code is not right, or was used already")


# ---------------------------------------------------------------------------- recovery codes

def new_recovery_codes() -> list[str]:
    """Ten codes of 60 bits each, as xxxx-xxxx-xxxx: typed by hand when the phone is lost."""
    return ["-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(4))
                     for _ in range(3)) for _ in range(RECOVERY_CODES)]


def normalize_recovery_code(code: str) -> str | None:
    """A recovery code as stored (lower case, no spaces or dashes), or None when `code`
    cannot be one."""
    clean = "".join(ch for ch in code.lower() if ch not in " -\t")
    if len(clean) != 12 or any(ch not in _RECOVERY_ALPHABET for ch in clean):
        return None
    return clean


# ---------------------------------------------------------------------------- passkeys

@dataclass(frozen=True)
class Ceremony:
    """What the browser is given to start a WebAuthn ceremony (JSON for
    navigator.credentials), and the challenge it must sign, to keep until the answer."""

    options_json: str
    challenge: bytes


@dataclass(frozen=True)
class NewPasskey:
    credential_id: bytes
    public_key: bytes
    sign_count: int


@dataclass(frozen=True)
class RelyingParty:
    """This server as WebAuthn knows it: its domain (the RP ID) and its origin."""

    id: str
    name: str
    origin: str

    def registration(self, user_id: bytes, user_name: str,
                     existing: list[bytes]) -> Ceremony:
        options = webauthn.generate_registration_options(
            rp_id=self.id, rp_name=self.name, user_id=user_id, user_name=user_name,
            challenge=os.urandom(32),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in existing],
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED))
        return Ceremony(webauthn.options_to_json(options), options.challenge)

    def verify_registration(self, credential: str, challenge: bytes) -> NewPasskey:
        try:
            verified = webauthn.verify_registration_response(
                credential=credential, expected_challenge=challenge,
                expected_rp_id=self.id, expected_origin=self.origin)
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise FactorRejected(f"the security key's answer was not accepted ({exc})") \
                from None
        return NewPasskey(verified.credential_id, verified.credential_public_key,
                          verified.sign_count)

    def authentication(self, allowed: list[bytes]) -> Ceremony:
        options = webauthn.generate_authentication_options(
            rp_id=self.id, challenge=os.urandom(32),
            allow_credentials=[PublicKeyCredentialDescriptor(id=c) for c in allowed],
            user_verification=UserVerificationRequirement.PREFERRED)
        return Ceremony(webauthn.options_to_json(options), options.challenge)

    def verify_authentication(self, assertion: str, challenge: bytes, public_key: bytes,
                              sign_count: int) -> int:
        """The authenticator's new sign count, once `assertion` is proven; a count that did
        not move on where it counts means a cloned key, and is refused."""
        try:
            verified = webauthn.verify_authentication_response(
                credential=assertion, expected_challenge=challenge, expected_rp_id=self.id,
                expected_origin=self.origin, credential_public_key=public_key,
                credential_current_sign_count=sign_count)
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise FactorRejected(f"the passkey's answer was not accepted ({exc})") from None
        return verified.new_sign_count


def credential_of(response: str) -> tuple[bytes, bytes]:
    """The credential id and the challenge a browser's WebAuthn answer (JSON) names, read
    before it is verified, to find the stored passkey and challenge it must match."""
    try:
        data: Any = json.loads(response)
        client_data = json.loads(base64url_to_bytes(data["response"]["clientDataJSON"]))
        return base64url_to_bytes(data["rawId"]), base64url_to_bytes(client_data["challenge"])
    except (ValueError, KeyError, TypeError) as exc:
        raise FactorRejected(f"not a WebAuthn answer ({exc.__class__.__name__})") from None


def encode_id(raw: bytes) -> str:
    return bytes_to_base64url(raw)
