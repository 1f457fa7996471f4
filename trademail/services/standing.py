"""A member's tier and status, and what each allows: one place that knows the rules.

Tiers: free members may give contact details only in their contact section; premium
members may show them in their listings too; staff run the marketplace. Statuses: active;
NOT Listed (contact details outside the contact section: hidden from the directory until
fixed); Restricted (hidden, may only answer conversations, a daily cap); BANNED (signed
out, refused sign-in, aliases refuse mail).
"""

from __future__ import annotations

from typing import Protocol

FREE, PREMIUM, STAFF = "free", "premium", "staff"
TIERS = (FREE, PREMIUM, STAFF)
ACTIVE, NOT_LISTED, RESTRICTED, BANNED = "active", "not_listed", "restricted", "banned"
STATUSES = (ACTIVE, NOT_LISTED, RESTRICTED, BANNED)
STATUS_LABELS = {ACTIVE: "Active", NOT_LISTED: "NOT Listed", RESTRICTED: "Restricted",
                 BANNED: "BANNED"}
TIER_LABELS = {FREE: "Free member", PREMIUM: "Premium member", STAFF: "TradeStaff"}
STATUS_MEANINGS = {
    ACTIVE: "Your listings are in the directory and you can write to any member.",
    NOT_LISTED: "Your listings are hidden from the directory until the contact details "
                "outside your contact section are removed. You can still send and receive "
                "TradeMail.",
    RESTRICTED: "Your listings are hidden from the directory, you can only answer "
                "conversations others started, and you can send only a few messages a day.",
    BANNED: "Your account is closed.",
}


class Standing(Protocol):
    @property
    def tier(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def email_confirmed(self) -> bool: ...


def is_listed(member: Standing) -> bool:
    """Whether the member's listings show in the directory."""
    return member.status == ACTIVE and member.tier != STAFF and member.email_confirmed


def in_good_standing(member: Standing) -> bool:
    """Whether the member may open other members' contact sections."""
    return member.status == ACTIVE and member.email_confirmed


def may_show_contacts_in_listings(member: Standing) -> bool:
    return member.tier in (PREMIUM, STAFF)
