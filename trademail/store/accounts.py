"""Account trust: the addresses a member has confirmed, a pending change of address, links
mailed to confirm an address or reset a password, and the password changes they make."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.errors import Conflict
from trademail.store.db import Connection, Database, Duplicate, Row
from trademail.store.outbox import NewOutboxRow, insert_outbox
from trademail.store.sessions import end_sessions
from trademail.store.tokens import revoke_api_tokens

PURPOSE_CONFIRM = "confirm"  # prove the address given at sign-up


PURPOSE_RESET = "reset"  # set a new password


@dataclass(frozen=True)
class AccountTokenRow:
    """A single-use link's token, kept only as its digest."""

    digest: bytes
    member_id: str
    purpose: str
    email_index: bytes  # the address the link was mailed to
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class EmailChangeRow:
    member_id: str
    email_ct: bytes
    email_index: bytes
    created_at: float
    expires_at: float


_TOKEN_COLUMNS = "digest, member_id, purpose, email_index, created_at, expires_at"  # noqa: S105


_EMAIL_CHANGE = "member_id, email_ct, email_index, created_at, expires_at"


def _token(row: Row) -> AccountTokenRow:
    return AccountTokenRow(bytes(row["digest"]), row["member_id"], row["purpose"],
                           bytes(row["email_index"]), row["created_at"], row["expires_at"])


def _email_change(row: Row) -> EmailChangeRow:
    return EmailChangeRow(row["member_id"], bytes(row["email_ct"]), bytes(row["email_index"]),
                          row["created_at"], row["expires_at"])


async def insert_account_token(tx: Connection, token: AccountTokenRow) -> None:
    await tx.execute(f"INSERT INTO account_tokens ({_TOKEN_COLUMNS}) "
                     "VALUES ($1, $2, $3, $4, $5, $6)", token.digest, token.member_id,
                     token.purpose, token.email_index, token.created_at, token.expires_at)


async def remember_address(tx: Connection, member_id: str, now: float) -> None:
    """Keep the member's address, now proven theirs, for as long as the member is: mail
    naming it is scrubbed even after they move to another."""
    await tx.execute(
        "INSERT INTO member_addresses (member_id, email_index, email_ct, created_at) "
        "SELECT id, email_index, email_ct, $2 FROM members WHERE id = $1 AND email_confirmed "
        "ON CONFLICT DO NOTHING", member_id, now)


async def forget_links(tx: Connection, member_id: str, purpose: str = "") -> None:
    """Every link mailed to the member (of one `purpose`, if named) stops working."""
    await tx.execute("DELETE FROM account_tokens WHERE member_id = $1 AND "
                     "($2 = '' OR purpose = $2)", member_id, purpose)


async def set_password(tx: Connection, member_id: str, password_hash: str) -> None:
    await tx.execute("UPDATE members SET password_hash = $2 WHERE id = $1",
                     member_id, password_hash)

class AccountStore:
    """Confirmed addresses, address changes, mailed links and password changes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def past_addresses(self, member_id: str) -> list[bytes]:
        """Every address the member has used (sealed), oldest first."""
        rows = await self.db.fetch(
            "SELECT email_ct FROM member_addresses WHERE member_id = $1 ORDER BY created_at",
            member_id)
        return [bytes(r["email_ct"]) for r in rows]

    async def change_password(self, member_id: str, password_hash: str, keep_session: str) -> None:
        """A new password hash; every other session, every API token and every reset link
        of the member ends with the old one (a token may be what a thief took)."""
        async with self.db.transaction() as tx:
            await set_password(tx, member_id, password_hash)
            await end_sessions(tx, member_id, keep=keep_session)
            await revoke_api_tokens(tx, member_id)
            await forget_links(tx, member_id, PURPOSE_RESET)

    async def reset_password(self, member_id: str, password_hash: str, *,
                             outbox: Sequence[NewOutboxRow] = ()) -> None:
        """A new password after a reset by mail: every session and every API token ends,
        and every link mailed to the member (this one among them)."""
        async with self.db.transaction() as tx:
            await set_password(tx, member_id, password_hash)
            await end_sessions(tx, member_id)
            await revoke_api_tokens(tx, member_id)
            await forget_links(tx, member_id)
            await insert_outbox(tx, outbox)

    async def start_email_change(self, change: EmailChangeRow, digest: bytes,
                                 mail: Sequence[NewOutboxRow]) -> None:
        """Remember the pending address (replacing an earlier one) and queue its check mail."""
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM email_changes WHERE member_id = $1", change.member_id)
            await tx.execute(
                "INSERT INTO email_changes (member_id, digest, email_ct, email_index, "
                "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)", change.member_id,
                digest, change.email_ct, change.email_index, change.created_at, change.expires_at)
            await insert_outbox(tx, mail)

    async def pending_email_change(self, member_id: str) -> EmailChangeRow | None:
        row = await self.db.fetchrow(
            f"SELECT {_EMAIL_CHANGE} FROM email_changes WHERE member_id = $1", member_id)
        return None if row is None else _email_change(row)

    async def email_change_by_digest(self, member_id: str,
                                     digest: bytes) -> EmailChangeRow | None:
        row = await self.db.fetchrow(
            f"SELECT {_EMAIL_CHANGE} FROM email_changes WHERE member_id = $1 AND digest = $2",
            member_id, digest)
        return None if row is None else _email_change(row)

    async def finish_email_change(self, member_id: str, email_ct: bytes, email_index: bytes,
                                  now: float, mail: Sequence[NewOutboxRow]) -> None:
        """The new address, proven by its link, replaces the old one (which is remembered);
        the pending row and every link mailed to the old address go; mail is queued."""
        async with self.db.transaction() as tx:
            try:
                await tx.execute("UPDATE members SET email_ct = $2, email_index = $3, "
                                 "email_confirmed = TRUE, address_since = $4 WHERE id = $1",
                                 member_id, email_ct, email_index, now)
            except Duplicate:
                raise Conflict("this address belongs to another account", "email") from None
            await remember_address(tx, member_id, now)
            await tx.execute("DELETE FROM email_changes WHERE member_id = $1", member_id)
            # Links mailed to the old address (a reset among them) must not outlive it.
            await tx.execute("DELETE FROM account_tokens WHERE member_id = $1", member_id)
            await insert_outbox(tx, mail)

    async def cancel_email_change(self, member_id: str) -> None:
        await self.db.execute("DELETE FROM email_changes WHERE member_id = $1", member_id)

    async def forget_email_changes(self, expired_before: float) -> None:
        """A pending address nobody confirmed in time goes (it is sealed, but not kept)."""
        await self.db.execute("DELETE FROM email_changes WHERE expires_at < $1", expired_before)

    async def issue_account_token(self, token: AccountTokenRow,
                                  outbox: Sequence[NewOutboxRow]) -> None:
        """A new link (earlier ones of its purpose stop working) and the mail carrying it."""
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM account_tokens WHERE member_id = $1 AND purpose = $2",
                             token.member_id, token.purpose)
            await insert_account_token(tx, token)
            await insert_outbox(tx, outbox)

    async def account_token(self, digest: bytes, purpose: str) -> AccountTokenRow | None:
        """A link's token, left in place (a form shown for it may still be refused)."""
        row = await self.db.fetchrow(f"SELECT {_TOKEN_COLUMNS} FROM account_tokens "
                                     "WHERE digest = $1 AND purpose = $2", digest, purpose)
        return None if row is None else _token(row)

    async def take_account_token(self, digest: bytes, purpose: str) -> AccountTokenRow | None:
        """The link's token, gone from the store as it is read: a link works once."""
        async with self.db.transaction() as tx:
            rows = await tx.fetch(f"DELETE FROM account_tokens WHERE digest = $1 AND purpose = $2 "
                                  f"RETURNING {_TOKEN_COLUMNS}", digest, purpose)
        return _token(rows[0]) if rows else None

    async def confirm_address(self, member_id: str, email_index: bytes, now: float) -> bool:
        """Mark the member's address confirmed, if it is still the one the link was mailed
        to. Conflict when another member confirmed it first."""
        async with self.db.transaction() as tx:
            try:
                rows = await tx.fetch(
                    "UPDATE members SET email_confirmed = TRUE, address_since = $3 "
                    "WHERE id = $1 AND email_index = $2 AND NOT email_confirmed RETURNING id",
                    member_id, email_index, now)
            except Duplicate:
                raise Conflict("this address belongs to another account", "email") from None
            await tx.execute("DELETE FROM account_tokens WHERE member_id = $1 AND purpose = $2",
                             member_id, PURPOSE_CONFIRM)
            await remember_address(tx, member_id, now)
        return bool(rows)

    async def forget_account_tokens(self, expired_before: float) -> None:
        await self.db.execute("DELETE FROM account_tokens WHERE expires_at < $1", expired_before)
