"""Changing a member's real address: a link mailed to the new one, which changes nothing
until it is followed; the old address is told once it has."""

from __future__ import annotations

from trademail.clock import Clock
from trademail.crypto import Keyring, new_token, token_digest
from trademail.errors import FieldProblem, InvalidInput, NotFound
from trademail.services import validation
from trademail.services.accountmail import AccountMail
from trademail.services.audit import ADDRESS_CHANGE_ASKED, ADDRESS_CHANGED, Audit
from trademail.services.delivery import Outbox
from trademail.services.factors import Proof, SecondFactors
from trademail.services.members import Members
from trademail.services.sessions import Visit
from trademail.services.signup import SIGNUP_MAILS_PER_ADDRESS
from trademail.store import AccountStore, EmailChangeRow, MemberStore

EMAIL_CHANGE_SECONDS = 24 * 3600
EMAIL_CHANGES_PER_DAY = 5  # each one mails an address the member names: no mail-bombing


class AddressChanges:
    def __init__(self, member_store: MemberStore, account_store: AccountStore,
                 keyring: Keyring, members: Members, factors: SecondFactors, mail: AccountMail,
                 outbox: Outbox, clock: Clock, audit: Audit) -> None:
        self._audit = audit
        self._members_store = member_store
        self._accounts_store = account_store
        self._keyring = keyring
        self._members = members
        self._factors = factors
        self._mail = mail
        self._outbox = outbox
        self._clock = clock

    async def request(self, visit: Visit, *, proof: Proof, email: object) -> str:
        """Mail a confirmation link to the new address; returns that address masked.

        The address changes only when the link is followed, so a typo or a stolen session
        cannot move the account's mail elsewhere; and only the password and the second
        factor (when the member has one) ask for it.
        """
        problems: list[FieldProblem] = []
        try:
            address = validation.email(email)
        except InvalidInput as exc:
            problems.extend(exc.problems)
            address = ""

        def check(_: str, old: str) -> None:  # after the password, before a code is spent
            if not problems and (validation.email_lookup_form(address)
                                 == validation.email_lookup_form(old)):
                problems.append(FieldProblem("email", "is already your address"))
            if problems:
                raise InvalidInput(*problems)

        try:
            await self._factors.reauthenticate(visit.member_id, proof, check=check)
        except InvalidInput as exc:  # the password's problem with the address's, once each
            raise InvalidInput(*dict.fromkeys([*problems, *exc.problems])) from None
        await self._members.limit(f"email-change:{visit.member_id}", free=EMAIL_CHANGES_PER_DAY)
        index = self._keyring.blind_index("email", validation.email_lookup_form(address))
        now = self._clock.now()
        token = new_token()
        change = EmailChangeRow(visit.member_id,
                                self._keyring.seal_field(visit.member_id, "pending email",
                                                         address),
                                index, now, now + EMAIL_CHANGE_SECONDS)
        # An address another member holds gets its owner a warning instead of the link: the
        # answer is the same, so this form cannot tell who is a member.
        owner = await self._members_store.confirmed_member_by_email(index)
        if not await self._members.quota(f"signup-mail:{index.hex()}",
                                         per_day=SIGNUP_MAILS_PER_ADDRESS):
            mail = []
        elif owner is not None:
            owned = self._keyring.open_field(owner.id, "email", owner.email_ct)
            mail = [self._mail.address_claimed(owner.id, owner.username, owned)]
        else:
            mail = [self._mail.confirm_new_address(visit.member_id, visit.username, address,
                                                   token, EMAIL_CHANGE_SECONDS)]
        await self._accounts_store.start_email_change(change, token_digest(token), mail)
        await self._audit.by_member(visit.member_id, ADDRESS_CHANGE_ASKED)
        await self._outbox.wake()
        return validation.mask_email(address)

    async def confirm(self, visit: Visit, token: object) -> str:
        """Make the pending address the member's real one; returns it masked."""
        if not isinstance(token, str) or not 20 <= len(token) <= 100:
            raise InvalidInput.one("token", "this confirmation link is not valid")
        change = await self._accounts_store.email_change_by_digest(visit.member_id,
                                                                   token_digest(token))
        if change is None or self._clock.now() >= change.expires_at:
            raise InvalidInput.one("token", "this confirmation link is not valid or has "
                                            "expired; ask for a new one in settings")
        address = self._open_pending(change)
        member = await self._members_store.member_by_id(visit.member_id)
        if member is None:
            raise NotFound()
        old = self._keyring.open_field(member.id, "email", member.email_ct)
        # The old address is told, unless it was never proven to be the member's.
        notice = [self._mail.address_changed(member.id, member.username, old)] \
            if member.email_confirmed else []
        await self._accounts_store.finish_email_change(
            visit.member_id, self._keyring.seal_field(visit.member_id, "email", address),
            change.email_index, self._clock.now(), notice)
        await self._audit.by_member(visit.member_id, ADDRESS_CHANGED,
                                    "the old address was told" if notice else "")
        await self._outbox.wake()
        return validation.mask_email(address)

    async def cancel(self, visit: Visit) -> None:
        await self._accounts_store.cancel_email_change(visit.member_id)

    async def _live_change(self, member_id: str) -> EmailChangeRow | None:
        change = await self._accounts_store.pending_email_change(member_id)
        return change if change and self._clock.now() < change.expires_at else None

    def _open_pending(self, change: EmailChangeRow) -> str:
        return self._keyring.open_field(change.member_id, "pending email", change.email_ct)

    async def pending_masked(self, member_id: str) -> str | None:
        """The address waiting for its link to be followed, masked; None when there is none
        (or its link has expired)."""
        pending = await self._live_change(member_id)
        return validation.mask_email(self._open_pending(pending)) if pending else None
