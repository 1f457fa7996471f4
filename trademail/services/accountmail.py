"""Mail to a member about their own account: what each says, built by the composer and
sealed for the outbox, to be written in the transaction of the change that causes it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from trademail.clock import Clock
from trademail.services.delivery import OutboundMail, Outbox
from trademail.store import NewOutboxRow

_NEVER_ASK = "TradeMail staff will never ask you for your password.\n"


@dataclass(frozen=True)
class AccountMessage:
    """A plain-text mail to a member about their own account."""

    to: str
    subject: str
    text: str


class AccountComposer(Protocol):
    def account(self, mail: AccountMessage, now: float) -> bytes: ...


def _hours(seconds: int) -> str:
    hours = max(1, round(seconds / 3600))
    return "1 hour" if hours == 1 else f"{hours} hours"


class AccountMail:
    def __init__(self, composer: AccountComposer, outbox: Outbox, clock: Clock, *,
                 relay_domain: str, public_url: str) -> None:
        self._composer = composer
        self._outbox = outbox
        self._clock = clock
        self._sender = f"noreply@{relay_domain}"
        self._public_url = public_url.rstrip("/")

    def link(self, path: str, token: str) -> str:
        return f"{self._public_url}{path}?token={quote(token, safe='')}"

    def _row(self, member_id: str, to: str, subject: str, text: str) -> NewOutboxRow:
        data = self._composer.account(AccountMessage(to, subject, text), self._clock.now())
        return self._outbox.seal(OutboundMail(self._sender, (to,), data), member_id)

    def confirm_signup(self, member_id: str, to: str, token: str,
                       lifetime: int) -> NewOutboxRow:
        # To an address nobody has proven yet: nothing in it is chosen by whoever signed up
        # (a username such as "www.bank.example" would show as a link).
        return self._row(member_id, to, "Confirm your TradeMail address", (
            "Hello,\n\n"
            "An account on TradeMail was made with this address. If that was you, confirm\n"
            f"the address within {_hours(lifetime)} by opening this link and pressing the "
            f"button:\n\n{self.link('/signup/confirm', token)}\n\n"
            "Until you do, TradeMail sends nothing else to this address.\n"
            "If it was not you, ignore this mail: the address stays unconfirmed, and nothing\n"
            "more is sent to it.\n\n" + _NEVER_ASK))

    def signup_attempt(self, member_id: str, username: str, to: str) -> NewOutboxRow:
        return self._row(member_id, to, "Someone tried to sign up to TradeMail with your address", (
            f"Hello {username},\n\n"
            "Someone just tried to make a new TradeMail account with this address, which\n"
            "already belongs to your account. The new account cannot use your address, and\n"
            "nothing in your account has changed.\n\n"
            "If it was you and you have forgotten your password, set a new one here:\n\n"
            f"{self._public_url}/password/forgot\n\n"
            "If it was not you, there is nothing to do.\n\n" + _NEVER_ASK))

    def reset_password(self, member_id: str, username: str, to: str, token: str,
                       lifetime: int, *, confirms: bool) -> NewOutboxRow:
        also = ("Following the link also confirms this address for your account.\n"
                if confirms else "")
        greeting = "Hello," if confirms else f"Hello {username},"  # see confirm_signup
        return self._row(member_id, to, "Reset your TradeMail password", (
            f"{greeting}\n\n"
            "Someone asked to reset the password of your TradeMail account. If that was you,\n"
            f"open this link within {_hours(lifetime)} and choose a new password:\n\n"
            f"{self.link('/password/reset', token)}\n\n{also}"
            "Setting a new password signs out every session and revokes every API token.\n"
            "If it was not you, ignore this mail: your password stays as it is.\n\n"
            + _NEVER_ASK))

    def password_was_reset(self, member_id: str, username: str, to: str) -> NewOutboxRow:
        return self._row(member_id, to, "Your TradeMail password was reset", (
            f"Hello {username},\n\n"
            "The password of your TradeMail account was just reset with a link mailed to this\n"
            "address. Every session was signed out and every API token revoked.\n\n"
            "If you did not do this, reset it again at once and contact the marketplace's\n"
            f"support:\n\n{self._public_url}/password/forgot\n\n" + _NEVER_ASK))

    def confirm_new_address(self, member_id: str, username: str, to: str,
                            token: str, lifetime: int) -> NewOutboxRow:
        return self._row(member_id, to, "Confirm your new TradeMail address", (
            f"Hello {username},\n\n"
            "Someone signed in to your TradeMail account asked to use this address for it.\n"
            f"If that was you, confirm it by opening this link within {_hours(lifetime)}:\n\n"
            f"{self.link('/settings/email/confirm', token)}\n\n"
            "If it was not you, ignore this mail: nothing changes unless the link is opened,\n"
            "and consider changing your TradeMail password.\n\n" + _NEVER_ASK))

    def address_claimed(self, member_id: str, username: str, to: str) -> NewOutboxRow:
        return self._row(member_id, to, "Someone tried to use your address on TradeMail", (
            f"Hello {username},\n\n"
            "Someone signed in to another TradeMail account just asked to use this address,\n"
            "which belongs to your account. It stays yours: the other account cannot use it,\n"
            "and nothing in your account has changed. There is nothing to do.\n\n"
            + _NEVER_ASK))

    def address_changed(self, member_id: str, username: str, to: str) -> NewOutboxRow:
        return self._row(member_id, to, "Your TradeMail address was changed", (
            f"Hello {username},\n\n"
            "The address your TradeMail account uses was just changed, and TradeMail will no\n"
            "longer write to this one. If you did not do this, sign in and change your\n"
            "password at once, or contact the marketplace's support.\n"))

    def parts_removed(self, member_id: str, username: str, to: str,
                      filenames: Sequence[str]) -> NewOutboxRow:
        names = "\n".join(f"- {name}" for name in filenames)
        return self._row(member_id, to, "An attachment of your reply was removed", (
            f"Hello {username},\n\n"
            "Your reply by email reached its TradeMail conversation, but TradeMail removed\n"
            "these attachments because they contained your email address:\n\n"
            f"{names}\n\n"
            "The other party sees: \"an attachment was removed because it contained the\n"
            "sender's email address\". TradeMail never shows your address to anyone. To share\n"
            "such a file, take your address out of it (a signature, a key or a certificate\n"
            "often carries one) and attach it in the web inbox.\n"))
