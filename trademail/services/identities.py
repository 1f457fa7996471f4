"""How members appear: to each other (a Party, never a real address) and to themselves (a
Profile, with their aliases)."""

from __future__ import annotations

from dataclasses import dataclass

from trademail.crypto import Keyring

# The status of a member who deleted their account: their past messages stay with the other
# parties, shown as FORMER_MEMBER; nobody can write to them.
FORMER = "former"
FORMER_MEMBER = "Former member"


@dataclass(frozen=True)
class Alias:
    address: str
    enabled: bool


@dataclass(frozen=True)
class Party:
    """How one member appears to another: never their real address."""

    id: str
    username: str
    company: str
    country: str
    alias: str
    external: bool = False  # someone outside TradeMail who wrote to an alias
    staff: bool = False     # TradeStaff: badged by TradeMail, never by what they wrote
    status: str = "active"  # a banned member's past messages stay, marked
    # The address an outsider wrote from: shown only to the member they wrote to (it is
    # theirs to show, and the domain is what tells a company from a look-alike), never
    # when it is, or was, a member's address (anyone can forge a From).
    address: str = ""


@dataclass(frozen=True)
class SignedIn:
    """Who a password proved a member to be."""

    id: str
    username: str
    company: str
    staff: bool


@dataclass(frozen=True)
class Profile:
    id: str
    username: str
    company: str
    country: str
    email_masked: str
    email_confirmed: bool
    notify: str
    aliases: tuple[Alias, ...]
    created_at: float
    tier: str = "free"
    status: str = "active"
    status_reason: str = ""


def former_member(member_id: str) -> Party:
    """How a member who deleted their account appears in the conversations others keep:
    nothing of who they were."""
    return Party(member_id, "", FORMER_MEMBER, "", "", status=FORMER)


def retired_name(keyring: Keyring, kind: str, name: str) -> bytes:
    """The keyed digest an erased member's username or alias (`kind`) is kept by, so that
    it is never handed to anyone again while nothing says what it was."""
    return keyring.blind_index(f"retired {kind}", name.strip().lower())
