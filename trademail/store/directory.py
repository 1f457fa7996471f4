"""What the directory reads: listed members found by word, country and category; their
public profiles; the word index it searches; and the counted contact-section views."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from trademail.store.db import Connection, Database, in_list

LISTED = "m.status = 'active' AND m.tier <> 'staff' AND m.email_confirmed"
FOREVER = 1e300  # the expiry of a word that is not a trade lead's
_TOP_CHAR = "\U0010ffff"  # sorts after every other character: the end of a prefix range

Words = Callable[[list[str]], Iterable[str]]


@dataclass(frozen=True)
class DirectoryQuery:
    words: tuple[str, ...] = ()
    country: str = ""
    country_code: str = ""  # the ISO code `country` names, when it names one
    category: str = ""
    member_id: str = ""  # one member only


@dataclass(frozen=True)
class PublicProfile:
    member_id: str
    about: str
    business_type: str


async def reindex(tx: Connection, member_id: str, words: Words, now: float) -> None:
    """Index the member's words as the directory finds them: company, profile and products
    for good, each open lead's until it expires; and the empty word, which marks the
    member as indexed."""
    found: dict[str, float] = {"": FOREVER}

    def add(texts: list[str], until: float) -> None:
        for word in words(texts):
            found[word] = max(found.get(word, 0.0), until)

    company = await tx.fetchval("SELECT company FROM members WHERE id = $1", member_id)
    add([company or ""], FOREVER)
    for row in await tx.fetch("SELECT about, business_type FROM profiles "
                              "WHERE member_id = $1", member_id):
        add([row["about"], row["business_type"]], FOREVER)
    for row in await tx.fetch("SELECT name, description, category FROM products "
                              "WHERE member_id = $1", member_id):
        add([row["name"], row["description"], row["category"]], FOREVER)
    for row in await tx.fetch("SELECT title, description, category, expires_at FROM leads "
                              "WHERE member_id = $1 AND expires_at > $2", member_id, now):
        add([row["title"], row["description"], row["category"]], row["expires_at"])
    await tx.execute("DELETE FROM directory_words WHERE member_id = $1", member_id)
    await tx.executemany(
        "INSERT INTO directory_words (word, member_id, expires_at) VALUES ($1, $2, $3)",
        [(w, member_id, until) for w, until in sorted(found.items())])


async def index_words(tx: Connection, member_id: str, words: Iterable[str],
                      until: float = FOREVER) -> None:
    """Add words a member is found by in the directory (the empty word marks them
    indexed)."""
    await tx.executemany(
        "INSERT INTO directory_words (word, member_id, expires_at) VALUES ($1, $2, $3)",
        [(w, member_id, until) for w in sorted({"", *words})])

class DirectoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(self, query: DirectoryQuery, *, now: float, offset: int,
                     limit: int) -> list[str]:
        """Ids of listed members matching every word (as a prefix, a lead's words only while
        it is open), the country and the category, newest first."""
        where = [LISTED]
        args: list[object] = []

        def arg(value: object) -> str:
            args.append(value)
            return f"${len(args)}"

        if query.member_id:
            where.append(f"m.id = {arg(query.member_id)}")
        if query.country:
            same = f"lower(m.country) = {arg(query.country.lower())}"
            where.append(f"(m.country_code = {arg(query.country_code)} OR {same})"
                         if query.country_code else same)
        if query.category:
            cat = arg(query.category)
            where.append(
                f"(EXISTS (SELECT 1 FROM products p WHERE p.member_id = m.id AND p.category = "
                f"{cat}) OR EXISTS (SELECT 1 FROM leads l WHERE l.member_id = m.id AND "
                f"l.category = {cat} AND l.expires_at > {arg(now)}))")
        for word in query.words:
            where.append(
                f"EXISTS (SELECT 1 FROM directory_words w WHERE w.member_id = m.id AND "
                f"w.word >= {arg(word)} AND w.word < {arg(word + _TOP_CHAR)} AND "
                f"w.expires_at > {arg(now)})")
        rows = await self.db.fetch(
            f"SELECT m.id FROM members m WHERE {' AND '.join(where)} ORDER BY m.id DESC "
            f"LIMIT {int(limit)} OFFSET {int(offset)}", *args)
        return [r["id"] for r in rows]

    async def profiles(self, member_ids: Sequence[str]) -> dict[str, PublicProfile]:
        """What anyone may see of the members' profiles: never the contact section."""
        if not member_ids:
            return {}
        rows = await self.db.fetch(
            "SELECT member_id, about, business_type FROM profiles "
            f"WHERE member_id IN ({in_list(1, len(member_ids))})", *member_ids)
        return {r["member_id"]: PublicProfile(r["member_id"], r["about"], r["business_type"])
                for r in rows}

    async def index_unindexed(self, words: Words, *, now: float, limit: int = 500) -> int:
        """Index the members from before the directory (they have no word yet, not even the
        empty one); how many were indexed."""
        rows = await self.db.fetch(
            "SELECT m.id FROM members m WHERE NOT EXISTS (SELECT 1 FROM directory_words w "
            f"WHERE w.member_id = m.id) ORDER BY m.id LIMIT {int(limit)}")
        for row in rows:
            async with self.db.transaction() as tx:
                await reindex(tx, row["id"], words, now)
        return len(rows)

    async def code_countries(self, code_of: Callable[[str], str], *, limit: int = 500) -> int:
        """Give members from before country codes theirs; how many were looked at."""
        rows = await self.db.fetch("SELECT id, country FROM members WHERE country_code = '' "
                                   f"ORDER BY id LIMIT {int(limit)}")
        await self.db.executemany("UPDATE members SET country_code = $2 WHERE id = $1",
                                  [(r["id"], code_of(r["country"]) or "-") for r in rows])
        return len(rows)

    # ------------------------------------------------------------------ contact views

    async def record_view(self, viewer_id: str, viewed_id: str, now: float, *,
                          window: float, cap: int) -> float | None:
        """Count one opened contact section; when the viewer has opened `cap` other
        members' sections within `window` seconds (0: no cap), nothing is counted and the
        answer is the seconds until a place frees. Opening the same member's again does not
        use up the cap."""
        lock = " FOR UPDATE" if self.db.dialect == "postgres" else ""
        async with self.db.transaction() as tx:
            await tx.fetch(f"SELECT id FROM members WHERE id = $1{lock}", viewer_id)
            if cap:
                latest = {r["viewed_id"]: r["at"] for r in await tx.fetch(
                    "SELECT viewed_id, max(created_at) AS at FROM contact_views "
                    "WHERE viewer_id = $1 AND created_at > $2 GROUP BY viewed_id",
                    viewer_id, now - window)}
                if viewed_id not in latest and len(latest) >= cap:
                    return max(1.0, min(latest.values()) + window - now)
            await tx.execute("INSERT INTO contact_views (viewer_id, viewed_id, created_at) "
                             "VALUES ($1, $2, $3)", viewer_id, viewed_id, now)
        return None

    async def top_viewers(self, since: float, limit: int = 20) -> list[tuple[str, int, int]]:
        """(viewer id, views, members viewed) since `since`, the busiest first."""
        rows = await self.db.fetch(
            "SELECT viewer_id, count(*) AS views, count(DISTINCT viewed_id) AS members "
            "FROM contact_views WHERE created_at >= $1 GROUP BY viewer_id "
            f"ORDER BY members DESC, views DESC, viewer_id LIMIT {int(limit)}", since)
        return [(r["viewer_id"], int(r["views"]), int(r["members"])) for r in rows]

    async def forget_views(self, before: float) -> None:
        await self.db.execute("DELETE FROM contact_views WHERE created_at < $1", before)
