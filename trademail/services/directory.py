"""The marketplace directory: listed members' company, country and listings for anyone;
their alias ("Send TradeMail") for signed-in members; their contact section for members in
good standing, each opening counted and capped per day so nobody can harvest it. Pages are
capped too, and there is no bulk export."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from trademail.clock import Clock
from trademail.config import DirectoryConfig
from trademail.crypto import Keyring
from trademail.errors import Forbidden, InvalidInput, LimitReached, NotFound
from trademail.services import validation
from trademail.services.contacts import region_code
from trademail.services.contactsection import Contact, contact_of
from trademail.services.listings import CATEGORIES, Lead, Product, lead_of, product_of
from trademail.services.standing import in_good_standing
from trademail.store import DirectoryQuery, DirectoryStore, ListingStore, MemberStore

DAY = 86400.0
MAX_QUERY_WORDS = 8


@dataclass(frozen=True)
class Entry:
    """One listed member as the directory shows them."""

    username: str
    company: str
    country: str
    business_type: str
    about: str
    products: tuple[Product, ...]
    leads: tuple[Lead, ...]
    alias: str = ""  # only for signed-in members


@dataclass(frozen=True)
class DirectoryPage:
    entries: tuple[Entry, ...]
    page: int
    has_more: bool
    max_pages: int


@dataclass(frozen=True)
class ContactCard:
    entry: Entry
    contact: Contact


def listing_subject(listing: Product | Lead) -> str:
    """The subject a TradeMail about a listing starts with: it says which one."""
    if isinstance(listing, Product):
        return f"About your product: {listing.name}"[:255]
    offer = "buying" if listing.kind == "buy" else "selling"
    return f"About your trade lead ({offer}): {listing.title}"[:255]


def compose_url(alias: str, subject: str) -> str:
    """The web inbox's compose page, addressed and with its subject filled in."""
    return "/compose?" + urlencode({"to": alias, "subject": subject}) if alias else ""


class Directory:
    def __init__(self, directory_store: DirectoryStore, listing_store: ListingStore,
                 member_store: MemberStore, keyring: Keyring, clock: Clock,
                 config: DirectoryConfig) -> None:
        self._store = directory_store
        self._listings_store = listing_store
        self._members_store = member_store
        self._keyring = keyring
        self._clock = clock
        self._config = config

    def query(self, *, q: object = "", country: object = "", category: object = "",
              page: object = 1) -> tuple[DirectoryQuery, int]:
        """A search as the directory runs it, or InvalidInput naming the field."""
        words = sorted(validation.words(validation.line(q or "", "q", max_length=200,
                                                        min_length=0)))
        if len(words) > MAX_QUERY_WORDS:
            raise InvalidInput.one("q", f"at most {MAX_QUERY_WORDS} words")
        where = validation.line(country or "", "country", max_length=64, min_length=0)
        kind = validation.line(category or "", "category", max_length=40, min_length=0).lower()
        if kind and kind not in CATEGORIES:
            raise InvalidInput.one("category", f"must be one of {', '.join(CATEGORIES)}")
        number = int(page) if isinstance(page, str) and page.isascii() and page.isdigit() \
            and len(page) <= 6 else page
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise InvalidInput.one("page", "must be a page number from 1")
        if number > self._config.max_pages:
            raise InvalidInput.one("page", f"the directory shows {self._config.max_pages} "
                                   "pages of results; narrow your search to see others")
        return DirectoryQuery(tuple(words), where, region_code(where) if where else "",
                              kind), number

    async def search(self, *, q: object = "", country: object = "", category: object = "",
                     page: object = 1, viewer_id: str | None = None) -> DirectoryPage:
        query, number = self.query(q=q, country=country, category=category, page=page)
        size = self._config.page_size
        ids = await self._store.search(query, now=self._clock.now(), offset=(number - 1) * size,
                                       limit=size + 1)
        entries = await self._entries(ids[:size], signed_in=viewer_id is not None)
        return DirectoryPage(tuple(entries), number,
                             len(ids) > size and number < self._config.max_pages,
                             self._config.max_pages)

    async def entry(self, username: str, *, viewer_id: str | None = None) -> Entry:
        if not username.isprintable():  # no username has a NUL (PostgreSQL cannot ask)
            raise NotFound()
        member = await self._members_store.member_by_username(username.lower()[:64])
        ids = await self._store.search(DirectoryQuery(member_id=member.id), now=self._clock.now(),
                                       offset=0, limit=1) if member else []
        if not ids:
            raise NotFound()
        (entry,) = await self._entries(ids, signed_in=viewer_id is not None)
        return entry

    async def contact(self, viewer_id: str, username: str) -> ContactCard:
        """A listed member's contact section, for a member in good standing; counted, and
        refused once the viewer has opened the day's number of other members' sections."""
        entry = await self.entry(username, viewer_id=viewer_id)  # NotFound when unlisted
        viewer = await self._members_store.member_by_id(viewer_id)
        if viewer is None or not in_good_standing(viewer):
            raise Forbidden("contact sections are shown to members in good standing with a "
                            "confirmed address")
        member = await self._members_store.member_by_username(entry.username)
        assert member is not None
        now = self._clock.now()
        cap = self._config.contact_views_per_day
        if member.id != viewer_id:
            wait = await self._store.record_view(viewer_id, member.id, now, window=DAY, cap=cap)
            if wait is not None:
                raise LimitReached(f"you can open {cap} members' contact sections a day; "
                                   "try again later", wait)
        return ContactCard(entry, contact_of(self._keyring, member.id,
                                             await self._listings_store.profile(member.id)))

    async def _entries(self, ids: Sequence[str], *, signed_in: bool) -> list[Entry]:
        members = await self._members_store.members_by_ids(ids)
        profiles = await self._store.profiles(ids)
        products: dict[str, list[Product]] = {}
        for product in await self._listings_store.products(ids):
            products.setdefault(product.member_id, []).append(product_of(product))
        leads: dict[str, list[Lead]] = {}
        for lead in await self._listings_store.leads(ids, open_at=self._clock.now()):
            leads.setdefault(lead.member_id, []).append(lead_of(lead))
        aliases: dict[str, str] = {}
        if signed_in:
            for alias in await self._members_store.aliases_of(list(ids)):
                if alias.enabled:
                    aliases.setdefault(alias.member_id, alias.address)
        entries = []
        for member_id in ids:
            member, profile = members[member_id], profiles.get(member_id)
            entries.append(Entry(
                member.username, member.company, member.country,
                profile.business_type if profile else "", profile.about if profile else "",
                tuple(products.get(member_id, ())), tuple(leads.get(member_id, ())),
                aliases.get(member_id, "")))
        return entries
