"""Sign-up that proves the address: the account works at once, its address only once a
link mailed to it is followed. The answer never tells whether an address is registered."""

from __future__ import annotations

from trademail.clock import Clock
from trademail.config import AuthConfig
from trademail.crypto import Keyring, new_token, token_digest
from trademail.errors import Conflict, InvalidInput, NotFound
from trademail.services import validation
from trademail.services.accountmail import AccountMail
from trademail.services.delivery import Outbox
from trademail.services.identities import Profile
from trademail.services.members import Members
from trademail.store import (
    PURPOSE_CONFIRM,
    AccountStore,
    AccountTokenRow,
    MemberRow,
    MemberStore,
    NewOutboxRow,
)

# Mail a stranger can cause by typing someone's address: at most this many a day to one
# address, whether they are confirmation links or warnings to its owner.
SIGNUP_MAILS_PER_ADDRESS = 3
RESENDS_PER_DAY = 5
INVALID_LINK = ("this confirmation link is not valid or has expired; sign in and ask for a "
                "new one in Settings")


def token_text(token: object) -> str:
    """A token from a link, or InvalidInput: it is never looked up unless it could be one."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100 or not token.isascii():
        raise InvalidInput.one("token", "this link is not valid")
    return token


class Signup:
    def __init__(self, member_store: MemberStore, account_store: AccountStore,
                 keyring: Keyring, members: Members, mail: AccountMail, outbox: Outbox,
                 clock: Clock, auth: AuthConfig) -> None:
        self._members_store = member_store
        self._accounts_store = account_store
        self._keyring = keyring
        self._members = members
        self._mail = mail
        self._outbox = outbox
        self._clock = clock
        self._auth = auth

    async def register(self, *, username: object, password: object, email: object,
                       company: object, country: object, client: str) -> Profile:
        """A new member, usable at once, with an unconfirmed address.

        Whether or not the address already belongs to a confirmed member, the same work is
        done and the same answer given: the owner of a taken address is told by mail
        (instead of a link being sent), and the new account can never confirm it.
        """
        await self._members.limit(f"signup:{client}", free=self._auth.client_free_signups)
        member, address = await self._members.prepare(
            username=username, password=password, email=email, company=company,
            country=country)
        if await self._members_store.member_by_username(member.username) is not None:
            # Refused now, before it spends the address's daily mail (create checks again).
            raise Conflict("this username is taken", "username")
        token, outbox = await self._proof_mail(member, address)
        profile = await self._members.create(member, token=token, outbox=outbox)
        await self._outbox.wake()
        return profile

    async def _proof_mail(self, member: MemberRow, address: str) -> tuple[
            AccountTokenRow | None, list[NewOutboxRow]]:
        """The link to confirm `address` for `member`, or, when a confirmed member holds
        it already, a warning to that member; nothing past the daily quota per address."""
        owner = await self._members_store.confirmed_member_by_email(member.email_index)
        if not await self._members.quota(f"signup-mail:{member.email_index.hex()}",
                                         per_day=SIGNUP_MAILS_PER_ADDRESS):
            return None, []
        if owner is not None and owner.id != member.id:
            owned = self._keyring.open_field(owner.id, "email", owner.email_ct)
            return None, [self._mail.signup_attempt(owner.id, owner.username, owned)]
        now = self._clock.now()
        secret = new_token()
        lifetime = self._auth.signup_confirm_seconds
        token = AccountTokenRow(token_digest(secret), member.id, PURPOSE_CONFIRM,
                                member.email_index, now, now + lifetime)
        return token, [self._mail.confirm_signup(member.id, address, secret, lifetime)]

    async def resend(self, member_id: str) -> str:
        """Mail the confirmation link again (an earlier one stops working); returns the
        address masked. Answers the same whether or not the address is someone else's."""
        member = await self._members_store.member_by_id(member_id)
        if member is None:
            raise NotFound()
        if member.email_confirmed:
            raise InvalidInput.one("email", "is confirmed already")
        await self._members.limit(f"confirm-resend:{member_id}", free=RESENDS_PER_DAY)
        address = self._keyring.open_field(member.id, "email", member.email_ct)
        token, outbox = await self._proof_mail(member, address)
        if token is not None:
            await self._accounts_store.issue_account_token(token, outbox)
        elif outbox:
            await self._outbox.enqueue_rows(outbox)
        await self._outbox.wake()
        return validation.mask_email(address)

    async def confirm(self, token: object) -> None:
        """Follow a confirmation link (no sign-in needed: the link is the proof). A link
        works once, within its lifetime, and only for the address it was mailed to."""
        secret = token_text(token)
        row = await self._accounts_store.take_account_token(token_digest(secret), PURPOSE_CONFIRM)
        if row is None or self._clock.now() >= row.expires_at:
            raise InvalidInput.one("token", INVALID_LINK)
        if not await self._accounts_store.confirm_address(row.member_id, row.email_index,
                                                 self._clock.now()):
            raise InvalidInput.one("token", INVALID_LINK)
