"""Members and their aliases: who they are, how others reach them, their preference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.errors import Conflict
from trademail.store.accounts import AccountTokenRow, insert_account_token
from trademail.store.db import Connection, Database, Duplicate, Row, in_list
from trademail.store.directory import index_words
from trademail.store.erasure import NameIndex
from trademail.store.outbox import NewOutboxRow, insert_outbox


@dataclass(frozen=True)
class MemberRow:
    id: str
    username: str
    email_ct: bytes
    email_index: bytes
    company: str
    country: str
    password_hash: str
    member_key: bytes
    notify: str
    created_at: float
    email_confirmed: bool = False
    address_since: float = 0.0  # when the address in use became the member's
    tier: str = "free"          # free, premium or staff
    status: str = "active"      # active, not_listed, restricted or banned
    status_reason: str = ""
    status_at: float = 0.0
    country_code: str = ""      # ISO code of `country` ("-" when it names none known)
    previous_member_key: bytes | None = None  # while the member's key is being rotated


@dataclass(frozen=True)
class AliasRow:
    address: str
    member_id: str
    enabled: bool
    created_at: float


MEMBER_COLUMNS = ("id, username, email_ct, email_index, company, country, password_hash, "
                   "member_key, notify, created_at, email_confirmed, address_since, tier, status, "
                   "status_reason, status_at, country_code")


# What reads of a member whose key is used select; staff reads may leave the previous key.
KEYED_COLUMNS = MEMBER_COLUMNS + ", previous_member_key"


async def _retired(tx: Connection, name_index: bytes) -> bool:
    """Whether a name (by its keyed digest) was an erased member's: never handed out again."""
    return bool(await tx.fetchval("SELECT 1 FROM retired_names WHERE name_index = $1",
                                  name_index))


def member_row(row: Row | None) -> MemberRow | None:
    if row is None:
        return None
    values = {k: row[k] for k in MemberRow.__dataclass_fields__ if k in row.keys()}
    return MemberRow(**values | {"email_confirmed": bool(values["email_confirmed"])})


class MemberStore:
    """Member rows (the address sealed, looked up by its blind index) and aliases."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_member(self, member: MemberRow, alias: str, *,
                            token: AccountTokenRow | None = None,
                            outbox: Sequence[NewOutboxRow] = (),
                            words: Sequence[str] = (),
                            retired: NameIndex | None = None) -> None:
        """A new member with their first alias, the words of their company name for the
        directory's search, and the mail their sign-up causes (with its link's token), in
        one transaction. Only the username and the alias must be free: an address is
        unique among confirmed members only."""
        async with self.db.transaction() as tx:
            if await tx.fetchval("SELECT 1 FROM members WHERE username = $1", member.username):
                raise Conflict("this username is taken", "username")
            if await tx.fetchval("SELECT 1 FROM aliases WHERE address = $1", alias):
                raise Conflict("alias taken", "alias")
            if retired and await _retired(tx, retired("username", member.username)):
                raise Conflict("this username is taken", "username")
            if retired and await _retired(tx, retired("alias", alias)):
                raise Conflict("alias taken", "alias")
            try:
                await tx.execute(
                    f"INSERT INTO members ({MEMBER_COLUMNS}) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
                    "$16, $17)",
                    member.id, member.username, member.email_ct, member.email_index,
                    member.company, member.country, member.password_hash, member.member_key,
                    member.notify, member.created_at, member.email_confirmed,
                    member.address_since, member.tier, member.status, member.status_reason,
                    member.status_at, member.country_code)
                await tx.execute(
                    "INSERT INTO aliases (address, member_id, enabled, created_at) "
                    "VALUES ($1, $2, TRUE, $3)", alias, member.id, member.created_at)
            except Duplicate:
                raise Conflict("this username is taken", "username") from None
            await index_words(tx, member.id, words)  # found in the directory at once
            if token is not None:
                await insert_account_token(tx, token)
            await insert_outbox(tx, outbox)

    async def member_by_id(self, member_id: str) -> MemberRow | None:
        return member_row(await self.db.fetchrow(
            f"SELECT {KEYED_COLUMNS} FROM members WHERE id = $1", member_id))

    async def member_by_username(self, username: str) -> MemberRow | None:
        return member_row(await self.db.fetchrow(
            f"SELECT {KEYED_COLUMNS} FROM members WHERE username = $1", username))

    async def confirmed_member_by_email(self, email_index: bytes) -> MemberRow | None:
        """The member whose confirmed address has this blind index, if any."""
        return member_row(await self.db.fetchrow(
            f"SELECT {KEYED_COLUMNS} FROM members WHERE email_index = $1 "
            "AND email_confirmed", email_index))

    async def member_addresses_among(self, email_indexes: Sequence[bytes]) -> set[bytes]:
        """Which of these addresses (by blind index) are any member's, now or before,
        proven or not."""
        if not email_indexes:
            return set()
        marks = in_list(1, len(email_indexes))
        rows = await self.db.fetch(
            f"SELECT email_index FROM members WHERE email_index IN ({marks}) UNION "
            f"SELECT email_index FROM member_addresses WHERE email_index IN ({marks})",
            *email_indexes)
        return {bytes(r["email_index"]) for r in rows}

    async def owners_of_addresses(self, email_indexes: Sequence[bytes]) -> list[str]:
        """The members whose proven address, now or before, is one of these (by blind
        index)."""
        if not email_indexes:
            return []
        marks = in_list(1, len(email_indexes))
        rows = await self.db.fetch(
            f"SELECT id AS member_id FROM members WHERE email_index IN ({marks}) "
            f"AND email_confirmed UNION "
            f"SELECT member_id FROM member_addresses WHERE email_index IN ({marks})",
            *email_indexes)
        return sorted({r["member_id"] for r in rows})

    async def members_by_ids(self, ids: Sequence[str]) -> dict[str, MemberRow]:
        if not ids:
            return {}
        rows = await self.db.fetch(
            f"SELECT {KEYED_COLUMNS} FROM members WHERE id IN ({in_list(1, len(ids))})", *ids)
        return {r["id"]: m for r in rows if (m := member_row(r))}

    async def set_password_hash(self, member_id: str, password_hash: str) -> None:
        await self.db.execute("UPDATE members SET password_hash = $2 WHERE id = $1",
                              member_id, password_hash)

    async def set_notify(self, member_id: str, notify: str) -> None:
        await self.db.execute("UPDATE members SET notify = $2 WHERE id = $1", member_id, notify)

    async def notifications_off(self, member_id: str) -> bool:
        async with self.db.transaction() as tx:
            rows = await tx.fetch("UPDATE members SET notify = 'off' WHERE id = $1 RETURNING id",
                                  member_id)
        return bool(rows)

    async def aliases_of(self, member_ids: Sequence[str]) -> list[AliasRow]:
        if not member_ids:
            return []
        rows = await self.db.fetch(
            "SELECT address, member_id, enabled, created_at FROM aliases "
            f"WHERE member_id IN ({in_list(1, len(member_ids))}) ORDER BY created_at, address",
            *member_ids)
        return [AliasRow(r["address"], r["member_id"], bool(r["enabled"]), r["created_at"])
                for r in rows]

    async def resolve_recipients(self, names: Sequence[str]) -> dict[str, str]:
        """Map each username or enabled alias in `names` to a member id; unknowns are left out."""
        if not names:
            return {}
        marks = in_list(1, len(names))
        rows = await self.db.fetch(
            f"SELECT username AS name, id FROM members WHERE username IN ({marks}) "
            f"UNION ALL SELECT address AS name, member_id AS id FROM aliases "
            f"WHERE enabled AND address IN ({marks})", *names)
        return {r["name"]: r["id"] for r in rows}

    async def alias_owner(self, address: str) -> tuple[str, bool] | None:
        """(member id, whether it takes mail) of an alias address, or None. An alias takes
        mail while it is enabled and its member is not banned."""
        row = await self.db.fetchrow(
            "SELECT a.member_id, a.enabled, m.status FROM aliases a JOIN members m "
            "ON m.id = a.member_id WHERE a.address = $1", address)
        if row is None:
            return None
        return row["member_id"], bool(row["enabled"]) and row["status"] != "banned"

    async def set_alias_enabled(self, member_id: str, address: str,
                                enabled: bool) -> bool | None:
        """True when done; False when it would leave the member no enabled alias; None when
        the alias is not the member's. One change per member at a time (row lock)."""
        lock = " FOR UPDATE" if self.db.dialect == "postgres" else ""
        async with self.db.transaction() as tx:
            await tx.fetch(f"SELECT id FROM members WHERE id = $1{lock}", member_id)
            rows = await tx.fetch("SELECT address, enabled FROM aliases WHERE member_id = $1",
                                  member_id)
            if address not in {r["address"] for r in rows}:
                return None
            if not enabled and not any(r["enabled"] and r["address"] != address for r in rows):
                return False
            await tx.execute("UPDATE aliases SET enabled = $3 WHERE member_id = $1 "
                             "AND address = $2", member_id, address, enabled)
        return True

    async def add_alias(self, member_id: str, address: str, now: float, limit: int, *,
                        retired: NameIndex | None = None) -> bool:
        """Give the member another alias unless they hold `limit` already (Duplicate when
        the address is taken, or was an erased member's)."""
        lock = " FOR UPDATE" if self.db.dialect == "postgres" else ""
        async with self.db.transaction() as tx:
            if retired and await _retired(tx, retired("alias", address)):
                raise Duplicate("this alias was an erased member's")
            await tx.fetch(f"SELECT id FROM members WHERE id = $1{lock}", member_id)
            if await tx.fetchval("SELECT count(*) FROM aliases WHERE member_id = $1",
                                 member_id) >= limit:
                return False
            await tx.execute("INSERT INTO aliases (address, member_id, enabled, created_at) "
                             "VALUES ($1, $2, TRUE, $3)", address, member_id, now)
        return True
