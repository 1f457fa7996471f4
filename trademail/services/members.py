"""Members: registration, profiles, public identities and password sign-in."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Sequence
from functools import cache, partial

from trademail import metrics
from trademail.clock import Clock
from trademail.config import AuthConfig
from trademail.crypto import Keyring, PasswordHasher, random_word_suffix
from trademail.errors import (
    AuthenticationFailed,
    Conflict,
    FieldProblem,
    InvalidInput,
    NotFound,
    Throttled,
)
from trademail.ids import new_id
from trademail.services import validation
from trademail.services.audit import SIGNIN_FAILED, SOMEONE, Audit
from trademail.services.backoff import signin_wait, subject_wait
from trademail.services.contacts import find_contacts, region_code
from trademail.services.contactsection import KIND_LABELS
from trademail.services.devices import DeviceCookies
from trademail.services.identities import Alias, Party, Profile, SignedIn, retired_name
from trademail.services.reserved import claims_staff
from trademail.services.standing import BANNED, FREE, STAFF
from trademail.store import (
    AccountStore,
    AccountTokenRow,
    CorrespondentRow,
    CorrespondentStore,
    Duplicate,
    MemberRow,
    MemberStore,
    NewOutboxRow,
    ThrottleStore,
)

MAX_ALIASES = 10
# A mail names a handful of sender addresses (envelope, From, Sender, Reply-To).
MAX_OWNER_LOOKUPS = 8
_DIGIT_RUN = re.compile(r"\d{7}")
DAY = 86400.0
RESERVED_MESSAGE = ("is reserved: it could be taken for the marketplace or its staff. "
                    "Choose a name of your own")

# The first half of every public alias: plain trade words, easy to read aloud.
ALIAS_WORDS = (
    "anchor", "bale", "barge", "berth", "cargo", "cask", "crate", "depot", "dock", "freight",
    "galley", "harbor", "haven", "hull", "keel", "ledger", "manifest", "market", "mast",
    "pallet", "parcel", "pier", "port", "quay", "route", "sail", "tide", "trade", "wharf",
)


def public_name_problems(field: str, value: str, country: str) -> list[FieldProblem]:
    """A username, company name or country is shown with every message and in the
    directory: one carrying contact details is refused outright."""
    kinds = ", ".join(dict.fromkeys(KIND_LABELS.get(f.kind, f.kind)
                                    for f in find_contacts(value, country=country)))
    if not kinds and _DIGIT_RUN.search(re.sub(r"[\s._-]", "", value)):
        kinds = KIND_LABELS["phone"]  # "call0712345678": digits enough for a phone number
    if not kinds:
        return []
    return [FieldProblem(field, f"may not carry contact details ({kinds}): it is shown "
                         "with every message you send. Give them in your contact section")]


@cache
def alias_words(relay_domain: str) -> tuple[str, ...]:
    """The alias words fit for this relay domain: none may pass for the staff."""
    return tuple(w for w in ALIAS_WORDS if not claims_staff(w, relay_domain=relay_domain))


class Members:
    def __init__(self, member_store: MemberStore, throttle_store: ThrottleStore,
                 account_store: AccountStore, correspondent_store: CorrespondentStore,
                 keyring: Keyring, hasher: PasswordHasher, clock: Clock, auth: AuthConfig,
                 relay_domain: str, audit: Audit) -> None:
        self._audit = audit
        self._members_store = member_store
        self._throttles_store = throttle_store
        self._accounts_store = account_store
        self._correspondents_store = correspondent_store
        self._keyring = keyring
        self._hasher = hasher
        self._clock = clock
        self._auth = auth
        self._relay_domain = relay_domain
        self._retired = partial(retired_name, keyring)  # an erased member's names stay theirs
        self._devices = DeviceCookies(keyring, clock, auth)

    async def prepare(self, *, username: object, password: object, email: object,
                      company: object, country: object,
                      staff: bool = False) -> tuple[MemberRow, str]:
        """A new member's row, checked and with the password hashed, and their address;
        nothing is stored yet (see `create`). A member's address starts unconfirmed; a
        staff account (made on the command line) may use the staff's reserved names and
        has its address vouched for by whoever makes it."""
        problems: list[FieldProblem] = []
        values: dict[str, str] = {}
        checks = {
            "username": lambda: validation.username(username),
            "email": lambda: validation.email(email),
            "company": lambda: validation.line(company, "company", max_length=200),
            "country": lambda: validation.line(country, "country", max_length=64, min_length=2),
        }
        for name, check in checks.items():
            try:
                values[name] = check()
            except InvalidInput as exc:
                problems += exc.problems
        for name in ("username", "company", "country"):
            if name in values and not staff and claims_staff(values[name],
                                                             relay_domain=self._relay_domain):
                problems.append(FieldProblem(name, RESERVED_MESSAGE))
        for name in ("username", "company", "country"):
            if name in values:
                problems += public_name_problems(name, values[name], values.get("country", ""))
        try:
            context = (values.get("username", ""), values.get("email", "").partition("@")[0])
            values["password"] = validation.password(
                password, min_length=self._auth.min_password_length, context=context)
        except InvalidInput as exc:
            problems += exc.problems
        if problems:
            raise InvalidInput(*problems)
        now = self._clock.now()
        member_id = new_id(now)
        _, wrapped_key = self._keyring.new_member_key(member_id)
        member = MemberRow(
            id=member_id, username=values["username"],
            email_ct=self._keyring.seal_field(member_id, "email", values["email"]),
            email_index=self.email_index(values["email"]),
            company=values["company"], country=values["country"],
            password_hash=await self._hasher.hash(values["password"]),
            member_key=wrapped_key, notify="summary", created_at=now,
            email_confirmed=staff, address_since=now, tier=STAFF if staff else FREE,
            country_code=region_code(values["country"]) or "-")
        return member, values["email"]

    async def create(self, member: MemberRow, *, token: AccountTokenRow | None,
                     outbox: Sequence[NewOutboxRow]) -> Profile:
        """Store a prepared member with a public alias, and the mail their sign-up causes."""
        for _ in range(5):
            try:
                await self._members_store.create_member(
                    member, self._new_alias(), token=token, outbox=outbox,
                    words=sorted(validation.words(member.company)), retired=self._retired)
                break
            except Conflict as exc:
                if exc.field != "alias":
                    raise
        return await self.profile(member.id)

    async def addresses(self, member_id: str) -> list[str]:
        """Every address the member has given: the one in use first, then earlier ones and
        one waiting for confirmation. A reply by mail is scrubbed of all of them."""
        member = await self._members_store.member_by_id(member_id)
        if member is None:
            return []
        found = [self._keyring.open_field(member_id, "email", member.email_ct)]
        found += [self._keyring.open_field(member_id, "email", ct)
                  for ct in await self._accounts_store.past_addresses(member_id)]
        pending = await self._accounts_store.pending_email_change(member_id)
        if pending is not None:
            found.append(self._keyring.open_field(member_id, "pending email", pending.email_ct))
        return list(dict.fromkeys(found))

    async def owners_of(self, addresses: Sequence[str]) -> list[str]:
        """The members who proved one of these addresses theirs, now or before."""
        return await self._members_store.owners_of_addresses(
            [self.email_index(a) for a in addresses[:MAX_OWNER_LOOKUPS]])

    def _new_alias(self) -> str:
        words = alias_words(self._relay_domain)
        return f"{secrets.choice(words)}-{random_word_suffix()}@{self._relay_domain}"

    def email_index(self, address: str) -> bytes:
        """The blind index an address is looked up by."""
        return self._keyring.blind_index("email", validation.email_lookup_form(address))

    def throttle_subject(self, subject: str) -> str:
        """What a throttle is counted under: keyed, never as typed (people type passwords and
        addresses into the username box, and client addresses are personal data)."""
        return self._keyring.blind_index("throttle", subject[:1024]).hex()

    async def profile(self, member_id: str) -> Profile:
        member = await self._members_store.member_by_id(member_id)
        if member is None:
            raise AuthenticationFailed("this account no longer exists")
        aliases = await self._members_store.aliases_of([member_id])
        email = self._keyring.open_field(member.id, "email", member.email_ct)
        return Profile(
            id=member.id, username=member.username, company=member.company,
            country=member.country, email_masked=validation.mask_email(email),
            email_confirmed=member.email_confirmed, notify=member.notify,
            aliases=tuple(Alias(a.address, a.enabled) for a in aliases),
            created_at=member.created_at, tier=member.tier, status=member.status,
            status_reason=member.status_reason)

    async def parties(self, member_ids: Sequence[str], *,
                      reader: str | None = None) -> dict[str, Party]:
        """Public identities of some members, keyed by id; the alias is their first enabled
        one. Outsiders who wrote to `reader` (the member reading their own mailbox) come
        with the address they wrote from, when it is no member's."""
        ids = sorted(set(member_ids))
        members = await self._members_store.members_by_ids(ids)
        first_alias: dict[str, str] = {}
        for alias in await self._members_store.aliases_of(ids):
            if alias.enabled:
                first_alias.setdefault(alias.member_id, alias.address)
        found = {m.id: Party(m.id, m.username, m.company, m.country, first_alias.get(m.id, ""),
                             staff=m.tier == STAFF, status=m.status)
                 for m in members.values()}
        outsiders = await self._correspondents_store.correspondents_by_ids(
            [i for i in ids if i not in found])
        addresses = await self._outsider_addresses(
            [o for o in outsiders.values() if reader is not None and o.member_id == reader])
        for outsider in outsiders.values():
            # Shown by the name they gave; the address only to the member they wrote to.
            name = self._keyring.open_field(outsider.id, "name", outsider.name_ct)
            found[outsider.id] = Party(outsider.id, "", name or "Outside sender", "", "",
                                       external=True, address=addresses.get(outsider.id, ""))
        return found

    async def _outsider_addresses(self, outsiders: Sequence[CorrespondentRow]) -> dict[str, str]:
        """The addresses these outsiders wrote from, by correspondent id, but for those that
        are, or were, a member's: a forged From must not show anyone a member's address."""
        opened = {o.id: self._keyring.open_field(o.id, "address", o.address_ct)
                  for o in outsiders}
        indexes = {cid: self.email_index(address) for cid, address in opened.items()}
        members = await self._members_store.member_addresses_among(list(indexes.values()))
        return {cid: address for cid, address in opened.items()
                if indexes[cid] not in members}

    async def set_alias_enabled(self, member_id: str, address: object, enabled: bool) -> None:
        """Disable (or enable again) one of the member's aliases; mail to a disabled alias
        is refused at RCPT, and nobody can send to it. The last enabled alias stays enabled:
        without one, nobody could reach the member."""
        if not isinstance(address, str):
            raise NotFound()
        done = await self._members_store.set_alias_enabled(member_id, address.strip().lower(),
                                                           enabled)
        if done is None:
            raise NotFound()
        if not done:
            raise Conflict("you need at least one enabled alias, so others can reach you",
                           "aliases")

    async def add_alias(self, member_id: str) -> str:
        """Another public alias, e.g. one per marketplace listing, to disable on its own."""
        for _ in range(5):
            address = self._new_alias()
            try:
                added = await self._members_store.add_alias(member_id, address, self._clock.now(),
                                                    MAX_ALIASES, retired=self._retired)
            except Duplicate:
                continue  # a random suffix already taken: draw another
            if not added:
                raise Conflict(f"you have {MAX_ALIASES} aliases already; disable one you no "
                               "longer share instead", "aliases")
            return address
        raise Conflict("no free alias could be drawn; try again", "aliases")

    async def sign_in(self, username: object, password: object, client: str, *,
                      door: str = "password check", device: object = None) -> SignedIn:
        """Check a password, throttled per account and per client address, or, from a
        browser holding the member's device cookie, per that cookie alone; a wrong one for
        a member is in their audit log, with the `door` it was tried at.

        Unknown usernames cost the same Argon2 work and get the same answer as wrong
        passwords, so neither the answer nor its timing tells whether an account exists.
        """
        username = validation.plain_text(username, "username")
        password = validation.plain_text(password, "password")
        name = username.strip().lower()[:64]
        member = await self._members_store.member_by_username(name)
        subjects = self._signin_subjects(name, client, self._devices.nonce(device, member))
        now = self._clock.now()
        # The attempt counts as a failure before the password is checked, in one atomic
        # step with the decision to let it through, so parallel guesses cannot slip past.
        wait = await self._throttles_store.reserve_signin_attempt(
            subjects, now, lambda state: signin_wait(state, subjects, now, self._auth))
        if wait > 0:
            metrics.SIGNIN_FAILURES.labels("throttled").inc()
            raise Throttled(wait)
        normalized = unicodedata.normalize("NFKC", password)[
            :validation.MAX_PASSWORD_LENGTH]
        ok, rehashed = await self._hasher.verify(member.password_hash if member else None,
                                                 normalized)
        if not ok or member is None:
            metrics.SIGNIN_FAILURES.labels("password").inc()
            if member is None:  # the same round trips as an entry: the timing names no one
                await self._audit.record_nothing()
            else:
                await self._audit.record(SOMEONE, SIGNIN_FAILED, member.id, door)
            raise AuthenticationFailed()
        if member.status == BANNED:  # told only to whoever knows the password
            raise AuthenticationFailed("this account has been closed by TradeStaff")
        await self._throttles_store.signin_succeeded(subjects[0], subjects[-1])
        if rehashed:
            await self._members_store.set_password_hash(member.id, rehashed)
        return SignedIn(member.id, member.username, member.company, member.tier == STAFF)

    def _signin_subjects(self, name: str, client: str, device: str | None) -> list[str]:
        """[account, client] for a try from anywhere; [the cookie] from a browser the
        member signed in on before: its tries neither count against the account (which
        a guesser may hold locked) nor are held back by it."""
        if device is not None:
            return [self.throttle_subject(f"device:{device}")]
        return [self.throttle_subject(f"account:{name}"),
                self.throttle_subject(f"client:{client}")]

    async def device_cookie(self, member_id: str) -> str:
        """A device cookie for a browser that has just completed a sign-in."""
        member = await self._members_store.member_by_id(member_id)
        if member is None:
            raise AuthenticationFailed("this account no longer exists")
        return self._devices.issue(member)

    async def check_password(self, member_id: str, password: object, field: str,
                             client: str, *, device: object = None) -> tuple[str, str]:
        """The member's username and real address, once `password` (sent as form field
        `field`) proves it is them; counted like a sign-in (against the browser's
        `device` cookie when it is the member's)."""
        member = await self._members_store.member_by_id(member_id)
        if member is None:
            raise NotFound()
        if not isinstance(password, str) or not password:
            raise InvalidInput.one(field, "enter your current password")
        try:
            await self.sign_in(member.username, password, client, device=device)
        except AuthenticationFailed:
            raise InvalidInput.one(field, "is not your current password") from None
        return member.username, self._keyring.open_field(member.id, "email", member.email_ct)

    async def forget_failures(self, username: str, client: str) -> None:
        """The member proved who they are another way (a reset link): failed sign-ins on the
        account no longer hold it back."""
        await self._throttles_store.signin_succeeded(self.throttle_subject(f"account:{username}"),
                                           self.throttle_subject(f"client:{client}"))

    async def limit(self, subject: str, *, free: int, most: int | None = None) -> None:
        """Count one costly or revealing action against `subject`: `free` a day, then each
        waits twice as long as the last (Throttled); past `most`, none for lockout_seconds."""
        now = self._clock.now()
        subject = self.throttle_subject(subject)
        wait = await self._throttles_store.reserve_signin_attempt(
            [subject], now, lambda state: subject_wait(state[subject], subject, now,
                                                       self._auth, free=free, most=most))
        if wait > 0:
            raise Throttled(wait)

    async def limit_passed(self, subject: str) -> None:
        """The action counted by `limit` succeeded: the subject's count starts again."""
        subject = self.throttle_subject(subject)
        await self._throttles_store.signin_succeeded(subject, subject)

    async def per_minute(self, subject: str, limit: int) -> bool:
        """Count one event against `subject` unless `limit` were counted this minute; in
        every server process at once."""
        now = self._clock.now()
        return await self._throttles_store.count_in_window(
            self.throttle_subject(subject), now - now % 60, limit)

    async def quota(self, subject: str, *, per_day: int) -> bool:
        """Count one mail sent on behalf of `subject` if fewer than `per_day` went out since
        the subject was last quiet for a day; False (nothing counted) once that many did.
        For mail a stranger can cause (a sign-up with someone's address), so it can never
        become a flood."""
        now = self._clock.now()
        subject = self.throttle_subject(subject)

        def decide(state: dict[str, tuple[int, float]]) -> tuple[float, set[str]]:
            count, last = state[subject]
            if count and now > last + DAY:
                return 0.0, {subject}
            return (last + DAY - now if count >= per_day else 0.0), set()

        return await self._throttles_store.reserve_signin_attempt([subject], now, decide) <= 0
