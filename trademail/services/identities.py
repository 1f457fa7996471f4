"""How members appear: to each other (a Party, never a real address) and to themselves (a
Profile, with their aliases)."""

from __future__ import annotations

from dataclasses import dataclass


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
