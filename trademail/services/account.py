"""The settings page of a member's account, and changing the password from it."""

from __future__ import annotations

from dataclasses import dataclass

from trademail.config import AuthConfig
from trademail.crypto import PasswordHasher
from trademail.services import validation
from trademail.services.addresses import AddressChanges
from trademail.services.audit import PASSWORD_CHANGED, Audit
from trademail.services.factors import Proof, SecondFactors
from trademail.services.identities import Profile
from trademail.services.members import Members
from trademail.services.notifications import Notifications, NotificationStatus
from trademail.services.sessions import SessionInfo, Sessions, Visit
from trademail.services.tokens import TokenInfo, Tokens
from trademail.store import AccountStore


@dataclass(frozen=True)
class Overview:
    """Everything the settings page shows; the real address only masked."""

    profile: Profile
    pending_email_masked: str | None
    notifications: NotificationStatus
    sessions: tuple[SessionInfo, ...]
    tokens: tuple[TokenInfo, ...]


class Account:
    def __init__(self, account_store: AccountStore, members: Members,
                 addresses: AddressChanges, sessions: Sessions, tokens: Tokens,
                 notifications: Notifications, factors: SecondFactors, hasher: PasswordHasher,
                 auth: AuthConfig, audit: Audit) -> None:
        self._audit = audit
        self._accounts_store = account_store
        self._members = members
        self._factors = factors
        self._addresses = addresses
        self._sessions = sessions
        self._tokens = tokens
        self._notifications = notifications
        self._hasher = hasher
        self._auth = auth

    async def overview(self, visit: Visit) -> Overview:
        return Overview(
            profile=await self._members.profile(visit.member_id),
            pending_email_masked=await self._addresses.pending_masked(visit.member_id),
            notifications=await self._notifications.notification_status(visit.member_id),
            sessions=tuple(await self._sessions.list(visit)),
            tokens=tuple(await self._tokens.list(visit.member_id)))

    async def change_password(self, visit: Visit, *, proof: Proof, new: object) -> str:
        """Set a new password, once the current one and the second factor (when the member
        has one) prove it is them; every other session and every API token of the member
        ends, and every reset link, and every device cookie. The answer is this browser's
        new device cookie."""
        clean: list[str] = []

        def check(username: str, address: str) -> None:  # before a code is spent on it
            clean.append(validation.password(
                new, min_length=self._auth.min_password_length,
                context=(username, address.partition("@")[0]), field="new_password"))

        await self._factors.reauthenticate(visit.member_id, proof, check=check)
        await self._accounts_store.change_password(visit.member_id,
                                                   await self._hasher.hash(clean[0]),
                                                   visit.session_id)
        await self._audit.by_member(visit.member_id, PASSWORD_CHANGED,
                                    "other sessions ended, API tokens revoked")
        return await self._members.device_cookie(visit.member_id)
