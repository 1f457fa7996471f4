"""Forgotten passwords: a single-use, short-lived link mailed to the member's address; a
new password set with it ends every session and revokes every API token."""

from __future__ import annotations

import contextlib

from trademail.clock import Clock
from trademail.config import AuthConfig
from trademail.crypto import Keyring, PasswordHasher, new_token, token_digest
from trademail.errors import Conflict, InvalidInput
from trademail.services import validation
from trademail.services.accountmail import AccountMail
from trademail.services.audit import PASSWORD_RESET, Audit
from trademail.services.delivery import Job, Outbox
from trademail.services.members import Members
from trademail.services.signup import SIGNUP_MAILS_PER_ADDRESS, token_text
from trademail.store import PURPOSE_RESET, AccountStore, AccountTokenRow, MemberRow, MemberStore

RESET_JOB = "password_reset"
# Reset mail one member may be sent a day: asked for from one client, and from all of them
# (a stranger using the first up does not keep the member from their own link).
RESET_MAILS_PER_CLIENT = 3
RESET_MAILS_PER_DAY = 20
CLIENT_FREE_REQUESTS = 20
INVALID_LINK = "this reset link is not valid or has expired; ask for a new one"


class Recovery:
    def __init__(self, member_store: MemberStore, account_store: AccountStore,
                 keyring: Keyring, members: Members, hasher: PasswordHasher, mail: AccountMail,
                 outbox: Outbox, clock: Clock, auth: AuthConfig, audit: Audit) -> None:
        self._audit = audit
        self._members_store = member_store
        self._accounts_store = account_store
        self._keyring = keyring
        self._members = members
        self._hasher = hasher
        self._mail = mail
        self._outbox = outbox
        self._clock = clock
        self._auth = auth

    async def request(self, account: object, *, client: str) -> None:
        """Ask for a reset link for the account named by username or address. The request
        is only queued (see `fulfil`): the answer is the same, after the same work, whether
        or not there is such an account."""
        text = validation.plain_text(account, "account").strip()
        if not text or len(text) > 320:
            raise InvalidInput.one("account", "enter your username or email address")
        await self._members.limit(f"reset-client:{client}", free=CLIENT_FREE_REQUESTS)
        await self._outbox.enqueue(
            Job(RESET_JOB, {"account": text, "client": client}), None)

    async def fulfil(self, request: dict[str, str]) -> None:
        """A queued request, done by a relay worker: mail a reset link to the account's
        address, if there is an account that may have one and it is within its quotas."""
        member = await self._find(request["account"])
        if member is None or not await self._may_mail(member, request["client"]):
            return
        now = self._clock.now()
        secret = new_token()
        lifetime = self._auth.password_reset_seconds
        token = AccountTokenRow(token_digest(secret), member.id, PURPOSE_RESET,
                                member.email_index, now, now + lifetime)
        address = self._keyring.open_field(member.id, "email", member.email_ct)
        mail = self._mail.reset_password(member.id, member.username, address, secret, lifetime,
                                         confirms=not member.email_confirmed)
        await self._accounts_store.issue_account_token(token, [mail])
        await self._outbox.wake()

    async def _may_mail(self, member: MemberRow, client: str) -> bool:
        """Within the day's quotas: per member and asking client, per member, and for an
        address not yet proven, the quota of mail a stranger may cause to one address."""
        if not member.email_confirmed and not await self._members.quota(
                f"signup-mail:{member.email_index.hex()}", per_day=SIGNUP_MAILS_PER_ADDRESS):
            return False
        return (await self._members.quota(f"reset-mail:{member.id}:{client}",
                                          per_day=RESET_MAILS_PER_CLIENT)
                and await self._members.quota(f"reset-mail:{member.id}",
                                              per_day=RESET_MAILS_PER_DAY))

    async def _find(self, text: str) -> MemberRow | None:
        """The member a reset may go to: by address, its confirmed owner; by username, that
        member, unless their unconfirmed address is confirmed by someone else (the mail
        would go to a stranger)."""
        if "@" in text:
            try:
                address = validation.email(text, "account")
            except InvalidInput:
                return None
            return await self._members_store.confirmed_member_by_email(
                self._members.email_index(address))
        member = await self._members_store.member_by_username(text.lower()[:64])
        if member is None or member.email_confirmed:
            return member
        owner = await self._members_store.confirmed_member_by_email(member.email_index)
        return member if owner is None else None

    async def check(self, token: object) -> None:
        """Whether a reset link still works (to show its form, or say it does not)."""
        row = await self._accounts_store.account_token(token_digest(token_text(token)),
                                                       PURPOSE_RESET)
        if row is None or self._clock.now() >= row.expires_at:
            raise InvalidInput.one("token", INVALID_LINK)

    async def complete(self, token: object, password: object, *, client: str) -> str:
        """Set a new password with a reset link; returns the username. Every session ends,
        every API token and every other link is revoked, and the member is told by mail.
        A link mailed to an address the member has since left no longer works. A refused
        password leaves the link usable."""
        digest = token_digest(token_text(token))
        row = await self._accounts_store.account_token(digest, PURPOSE_RESET)
        member = await self._members_store.member_by_id(row.member_id) if row else None
        if (row is None or member is None or self._clock.now() >= row.expires_at
                or row.email_index != member.email_index):
            raise InvalidInput.one("token", INVALID_LINK)
        address = self._keyring.open_field(member.id, "email", member.email_ct)
        clean = validation.password(password, min_length=self._auth.min_password_length,
                                    context=(member.username, address.partition("@")[0]))
        if await self._accounts_store.take_account_token(digest, PURPOSE_RESET) is None:
            raise InvalidInput.one("token", INVALID_LINK)  # used meanwhile, by another request
        told = [self._mail.password_was_reset(member.id, member.username, address)] \
            if member.email_confirmed else []
        await self._accounts_store.reset_password(member.id, await self._hasher.hash(clean),
                                         outbox=told)
        if not member.email_confirmed:
            # The link reached this address, so it is the member's, unless another member
            # confirmed it meanwhile (then it stays unconfirmed here; the password is set).
            with contextlib.suppress(Conflict):
                await self._accounts_store.confirm_address(member.id, member.email_index,
                                                  self._clock.now())
        await self._members.forget_failures(member.username, client)
        await self._audit.by_member(member.id, PASSWORD_RESET,
                                    "every session ended, API tokens revoked")
        await self._outbox.wake()
        return member.username
