"""Second factors: authenticator apps (TOTP), passkeys (WebAuthn) and recovery codes; adding,
listing and removing them; and proving one, at sign-in and again before every sensitive
change. Each code and each passkey answer works once; attempts are throttled per member."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass

from trademail.clock import Clock
from trademail.crypto import DecryptionFailed, Keyring, digest, new_token, token_digest
from trademail.crypto.factors import (
    Ceremony,
    FactorRejected,
    RelyingParty,
    credential_of,
    new_recovery_codes,
    new_totp_secret,
    normalize_recovery_code,
    totp_step,
    totp_uri,
)
from trademail.errors import InvalidInput, NotFound, SessionEnded
from trademail.ids import is_id, new_id
from trademail.services import validation
from trademail.services.audit import (
    FACTOR_ADDED,
    FACTOR_REMOVED,
    SIGNIN_FAILED,
    SOMEONE,
    Audit,
)
from trademail.services.members import Members
from trademail.store import Duplicate
from trademail.store.factors import PASSKEY, TOTP, FactorRow, FactorStore

CHALLENGE_SECONDS = 300
PENDING_SECONDS = 600    # a sign-in waits this long for its second factor
FREE_ATTEMPTS = 10       # wrong codes before each further try waits twice as long
MOST_ATTEMPTS = 100      # then none for [auth] lockout_seconds (NIST 800-63B: at most 100)
MAX_FACTORS = 10
SIGNIN, CONFIRM, REGISTER = "signin", "confirm", "register"
ASK = "enter a 6-digit code from your authenticator app, or one of your recovery codes"


@dataclass(frozen=True)
class FactorInfo:
    id: str
    kind: str   # "totp" or "passkey"
    name: str
    created_at: float
    last_used_at: float | None


@dataclass(frozen=True)
class TotpSetup:
    """A new authenticator-app secret on its way to being confirmed: `sealed` travels in
    the form (only this server can open it, only for this member), `secret` and `uri` are
    shown as text and as a QR code."""

    sealed: str
    secret: str
    uri: str


@dataclass(frozen=True)
class Proof:
    """What a member gives to make a sensitive change: the password, and a second factor
    (an authenticator or recovery code, or a passkey answer) once they have one."""

    password: object
    code: object = None
    passkey: object = None
    client: str = ""
    field: str = "password"  # the form field the password came in
    device: object = None    # the browser's device cookie: its tries are counted apart


class SecondFactors:
    def __init__(self, store: FactorStore, keyring: Keyring, members: Members, clock: Clock,
                 party: RelyingParty | None, audit: Audit) -> None:
        self._store = store
        self._audit = audit
        self._keyring = keyring
        self._members = members
        self._clock = clock
        self._party = party

    @property
    def passkeys_possible(self) -> bool:
        """False when the server is reached by IP address: WebAuthn needs a domain name."""
        return self._party is not None

    # ------------------------------------------------------------------ what the member has

    async def of(self, member_id: str) -> list[FactorInfo]:
        return [FactorInfo(f.id, f.kind, f.name, f.created_at, f.last_used_at)
                for f in await self._store.factors_of(member_id)]

    async def required(self, member_id: str) -> bool:
        return await self._store.has_factors(member_id)

    async def recovery_codes_left(self, member_id: str) -> int:
        return await self._store.recovery_codes_left(member_id)

    # ------------------------------------------------------------------ adding and removing

    def totp_setup(self, member_id: str, username: str) -> TotpSetup:
        secret = new_totp_secret()
        sealed = self._keyring.seal_field(member_id, "totp setup", secret)
        return TotpSetup(base64.urlsafe_b64encode(sealed).decode(),
                         " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                         totp_uri(secret, username, "TradeMail"))

    async def reauthenticate(self, member_id: str, proof: Proof, *,
                             check: Callable[[str, str], object] | None = None,
                             ) -> tuple[str, str]:
        """The member's username and real address, once the password and (when they have
        one) a second factor prove it is them: asked again before every sensitive change.
        `check` (given the username and address) refuses the rest of the change after the
        password and before the second factor, so a refused change spends no code."""
        who = await self._members.check_password(member_id, proof.password, proof.field,
                                                 proof.client, device=proof.device)
        if check is not None:
            check(*who)
        await self.confirm(member_id, code=proof.code, passkey=proof.passkey)
        return who

    async def add_totp(self, member_id: str, proof: Proof, *, setup: object, code: object,
                       name: object) -> list[str]:
        """Keep the authenticator app the member scanned, once it gives a right code. The
        new recovery codes when this is the member's first factor (shown once), else []."""
        label = self._name(name, "Authenticator app")
        await self._room_for_one(member_id)
        secret = self._open_setup(member_id, setup)
        try:  # checked first: a recovery code given to prove it is them is spent only then
            step = totp_step(secret, code if isinstance(code, str) else "",
                             self._clock.now(), after=0)
        except FactorRejected as exc:
            raise InvalidInput.one("code", str(exc)) from None
        await self.reauthenticate(member_id, proof)
        now = self._clock.now()
        row = FactorRow(member_id, new_id(now), TOTP, label,
                        self._keyring.seal_field(member_id, "totp", secret), None, None, step,
                        now)
        return await self._add(row)

    async def passkey_options(self, member_id: str, username: str, purpose: str) -> str:
        """The options for navigator.credentials.create (REGISTER) or .get (SIGNIN,
        CONFIRM), with a fresh challenge kept for five minutes."""
        party = self._need_party()
        passkeys = [f.credential_id for f in await self._store.factors_of(member_id)
                    if f.kind == PASSKEY and f.credential_id]
        if purpose == REGISTER:
            ceremony = party.registration(member_id.encode(), username, passkeys)
        elif passkeys:
            ceremony = party.authentication(passkeys)
        else:
            raise NotFound()
        await self._keep(member_id, purpose, ceremony)
        return ceremony.options_json

    async def add_passkey(self, member_id: str, proof: Proof, *, credential: object,
                          name: object) -> list[str]:
        label = self._name(name, "Passkey")
        party = self._need_party()
        answer = credential if isinstance(credential, str) else ""
        await self._room_for_one(member_id)
        try:  # the new passkey first: a code given to prove it is them is spent only then
            _, challenge = credential_of(answer)
            kept = await self._take(member_id, REGISTER, challenge)
            new = party.verify_registration(answer, kept)
            if await self._store.passkey(new.credential_id) is not None:
                raise FactorRejected("this passkey is registered already")
        except FactorRejected as exc:
            raise InvalidInput.one("credential", str(exc)) from None
        await self.reauthenticate(member_id, proof)
        now = self._clock.now()
        return await self._add(FactorRow(member_id, new_id(now), PASSKEY, label, None,
                                         new.credential_id, new.public_key, new.sign_count, now))

    async def remove(self, member_id: str, proof: Proof, factor_id: str) -> None:
        if not is_id(factor_id) or factor_id not in {
                f.id for f in await self._store.factors_of(member_id)}:
            raise NotFound()
        await self.reauthenticate(member_id, proof)
        if not await self._store.remove_factor(member_id, factor_id):
            raise NotFound()
        await self._audit.by_member(member_id, FACTOR_REMOVED, factor_id)

    async def new_recovery_codes(self, member_id: str, proof: Proof) -> list[str]:
        """Ten new recovery codes, the old ones void; shown once, kept only hashed."""
        if not await self._store.has_factors(member_id):
            raise InvalidInput.one("codes", "add an authenticator app or a passkey first")
        await self.reauthenticate(member_id, proof)
        codes = new_recovery_codes()
        await self._store.replace_recovery_codes(
            member_id, [self._code_digest(member_id, c) for c in codes])
        return codes

    async def _room_for_one(self, member_id: str) -> None:
        if len(await self._store.factors_of(member_id)) >= MAX_FACTORS:
            raise InvalidInput.one("name", f"you have {MAX_FACTORS} second factors already; "
                                           "remove one first")

    async def _add(self, row: FactorRow) -> list[str]:
        await self._room_for_one(row.member_id)  # again: another form may have added one
        existing = await self._store.factors_of(row.member_id)
        codes = [] if existing else new_recovery_codes()
        try:
            await self._store.add_factor(row, [self._code_digest(row.member_id, c)
                                               for c in codes])
        except Duplicate:  # a credential id is public: someone's passkey, registered already
            raise InvalidInput.one("credential", "this passkey is registered already") \
                from None
        await self._audit.by_member(row.member_id, FACTOR_ADDED,  # not the name: theirs
                                    f"{row.kind} {row.id}")
        return codes

    # ------------------------------------------------------------------ proving one

    async def confirm(self, member_id: str, *, code: object = None, passkey: object = None,
                      field: str = "second_factor", purpose: str = CONFIRM) -> None:
        """Nothing when the member has no second factor; otherwise `code` (an authenticator
        app's code or a recovery code) or `passkey` (a WebAuthn answer to a challenge given
        for `purpose`) must prove one, or InvalidInput names `field`."""
        factors = await self._store.factors_of(member_id)
        if not factors:
            return
        answer = passkey if isinstance(passkey, str) and passkey.strip() else None
        typed = code.strip() if isinstance(code, str) else ""
        if answer is None and not typed:
            raise InvalidInput.one(field, ASK + (", or use your passkey"
                                                 if any(f.kind == PASSKEY for f in factors)
                                                 else ""))
        await self._members.limit(f"second factor:{member_id}", free=FREE_ATTEMPTS,
                                  most=MOST_ATTEMPTS)
        try:
            if answer is not None:
                await self._prove_passkey(member_id, answer, purpose)
            else:
                await self._prove_code(member_id, typed, factors)
        except FactorRejected as exc:
            if purpose == SIGNIN:
                await self._audit.record(SOMEONE, SIGNIN_FAILED, member_id,
                                         "a wrong second factor")
            raise InvalidInput.one(field, str(exc)) from None
        await self._members.limit_passed(f"second factor:{member_id}")

    async def _prove_code(self, member_id: str, code: str, factors: list[FactorRow]) -> None:
        now = self._clock.now()
        digits = "".join(ch for ch in code if not ch.isspace())
        if len(digits) == 6 and digits.isdigit():
            for factor in factors:
                if factor.kind != TOTP or factor.secret_ct is None:
                    continue
                secret = self._keyring.open_field(member_id, "totp", factor.secret_ct)
                try:
                    step = totp_step(secret, digits, now, after=factor.counter)
                except FactorRejected:
                    continue
                if await self._store.advance(member_id, factor.id, factor.counter, step, now):
                    return
            raise FactorRejected("that code is not right, or was used already")
        clean = normalize_recovery_code(code)
        if clean is None or not await self._store.use_recovery_code(
                member_id, self._code_digest(member_id, clean), now):
            raise FactorRejected("that is not one of your unused recovery codes")

    async def _prove_passkey(self, member_id: str, answer: str, purpose: str) -> None:
        party = self._need_party()
        credential_id, challenge = credential_of(answer)
        kept = await self._take(member_id, purpose, challenge)
        factor = await self._store.passkey(credential_id)
        if factor is None or factor.member_id != member_id or factor.public_key is None:
            raise FactorRejected("that passkey is not one of yours")
        count = party.verify_authentication(answer, kept, factor.public_key, factor.counter)
        if not await self._store.advance(member_id, factor.id, factor.counter, count,
                                         self._clock.now()):
            raise FactorRejected("that passkey answer was used already")

    # ------------------------------------------------------------------ sign-in, second step

    async def begin_signin(self, member_id: str) -> str:
        """A token for the browser whose password was right, to finish with a second factor."""
        token = new_token()
        await self._store.start_pending(token_digest(token), member_id, self._clock.now())
        return token

    async def pending_member(self, token: str | None) -> str:
        """The member a waiting sign-in is for; SessionEnded once it is over or too old."""
        if not token or not 20 <= len(token) <= 100:
            raise SessionEnded(timed_out=False)
        member_id = await self._store.pending(token_digest(token),
                                              self._clock.now() - PENDING_SECONDS)
        if member_id is None:
            raise SessionEnded(timed_out=True)
        return member_id

    async def finish_signin(self, token: str | None, *, code: object,
                            passkey: object) -> str:
        """The member, once the second factor is proven; the waiting sign-in ends."""
        member_id = await self.pending_member(token)
        await self.confirm(member_id, code=code, passkey=passkey, field="code",
                           purpose=SIGNIN)
        now = self._clock.now()
        if not await self._store.end_pending(token_digest(token or ""), now - PENDING_SECONDS):
            raise SessionEnded(timed_out=False)
        return member_id

    # ------------------------------------------------------------------ helpers

    def _need_party(self) -> RelyingParty:
        if self._party is None:
            raise InvalidInput.one("credential", "passkeys need this server to be reached by "
                                                 "a domain name ([http] public_url)")
        return self._party

    async def _keep(self, member_id: str, purpose: str, ceremony: Ceremony) -> None:
        now = self._clock.now()
        await self._store.keep_challenge(digest(ceremony.challenge), member_id, purpose,
                                         ceremony.challenge, now + CHALLENGE_SECONDS, now)

    async def _take(self, member_id: str, purpose: str, challenge: bytes) -> bytes:
        kept = await self._store.take_challenge(digest(challenge), member_id, purpose,
                                                self._clock.now())
        if kept is None:
            raise FactorRejected("that request has expired or was used; try again")
        return kept

    def _open_setup(self, member_id: str, setup: object) -> str:
        try:
            sealed = base64.urlsafe_b64decode(setup if isinstance(setup, str) else "")
            return self._keyring.open_field(member_id, "totp setup", sealed)
        except (binascii.Error, ValueError, DecryptionFailed):
            raise InvalidInput.one("code", "this form has expired; start again") from None

    def _code_digest(self, member_id: str, code: str) -> bytes:
        clean = normalize_recovery_code(code) or code
        return self._keyring.blind_index("recovery code", f"{member_id}\0{clean}")

    @staticmethod
    def _name(value: object, default: str) -> str:
        text = validation.plain_text(value if value not in (None, "") else default, "name")
        text = " ".join(text.split())[:60]
        return text or default
