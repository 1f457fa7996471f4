"""Storage: small stores, one per domain, over one Database with two backends (SQLite, the
embedded default, and PostgreSQL) and numbered migrations. Stores are handed `now`; they
never read the clock. They hold ciphertexts and keyed digests only: sealing and opening
happen in the services, through `trademail.crypto`."""

from __future__ import annotations

from dataclasses import dataclass, replace

from trademail.errors import StoreError
from trademail.store.accounts import (
    PURPOSE_CONFIRM,
    PURPOSE_RESET,
    AccountStore,
    AccountTokenRow,
    EmailChangeRow,
)
from trademail.store.audit import AuditChain, AuditRow, AuditStore, ChainedRow, Head, Mac
from trademail.store.conduct import BlockRow, ConductStore, LimitFull, SendCount, Window
from trademail.store.correspondents import CorrespondentRow, CorrespondentStore
from trademail.store.db import Database, Duplicate, Progress, open_database
from trademail.store.directory import DirectoryQuery, DirectoryStore, PublicProfile
from trademail.store.dkim import DkimKeyRow, DkimStore
from trademail.store.erasure import Erased, ErasureStore
from trademail.store.factors import FactorRow, FactorStore
from trademail.store.keys import KeyStore
from trademail.store.listings import (
    Decide,
    FlagRow,
    LeadRow,
    Listing,
    ListingStore,
    ProductRow,
    ProfileRow,
    Standing,
    kind_of,
)
from trademail.store.mailbox import MailboxStore, NewDelivery
from trademail.store.mailrows import (
    AttachmentRow,
    Claim,
    EntryRow,
    Idempotent,
    NewAttachment,
    NewEntry,
    NewMessage,
)
from trademail.store.members import AliasRow, MemberRow, MemberStore
from trademail.store.moderation import ModerationStore, ReportRow
from trademail.store.notifications import (
    NewReplyToken,
    NoticeRow,
    NotificationStore,
    ReplyTokenRow,
)
from trademail.store.outbox import NewOutboxRow, OutboxRow, OutboxStore
from trademail.store.sessions import ActiveSession, SessionRow, SessionStore
from trademail.store.throttles import ThrottleStore
from trademail.store.tokens import TokenRow, TokenStore
from trademail.store.uploads import UploadStore
from trademail.store.webhooks import WebhookRow, WebhookStore
from trademail.store.writing import DraftRow, WritingStore

__all__ = [
    "PURPOSE_CONFIRM",
    "PURPOSE_RESET",
    "AccountStore",
    "AccountTokenRow",
    "ActiveSession",
    "AliasRow",
    "AttachmentRow",
    "AuditChain",
    "AuditRow",
    "AuditStore",
    "BlockRow",
    "ChainedRow",
    "Claim",
    "ConductStore",
    "CorrespondentRow",
    "CorrespondentStore",
    "Database",
    "Decide",
    "DirectoryQuery",
    "DirectoryStore",
    "DkimKeyRow",
    "DkimStore",
    "DraftRow",
    "Duplicate",
    "EmailChangeRow",
    "EntryRow",
    "Erased",
    "ErasureStore",
    "FactorRow",
    "FactorStore",
    "FlagRow",
    "Head",
    "Idempotent",
    "KeyStore",
    "LeadRow",
    "LimitFull",
    "Listing",
    "ListingStore",
    "Mac",
    "MailboxStore",
    "MemberRow",
    "MemberStore",
    "ModerationStore",
    "NewAttachment",
    "NewDelivery",
    "NewEntry",
    "NewMessage",
    "NewOutboxRow",
    "NewReplyToken",
    "NoticeRow",
    "NotificationStore",
    "OutboxRow",
    "OutboxStore",
    "ProductRow",
    "ProfileRow",
    "PublicProfile",
    "ReplyTokenRow",
    "ReportRow",
    "SendCount",
    "SessionRow",
    "SessionStore",
    "Standing",
    "Stores",
    "ThrottleStore",
    "TokenRow",
    "TokenStore",
    "UploadStore",
    "WebhookRow",
    "WebhookStore",
    "Window",
    "WritingStore",
    "kind_of",
    "open_stores",
]


@dataclass(frozen=True)
class Stores:
    """Every store over one database: what the composition root hands out, one or two to
    each service."""

    db: Database
    keys: KeyStore
    members: MemberStore
    throttles: ThrottleStore
    tokens: TokenStore
    sessions: SessionStore
    accounts: AccountStore
    mailbox: MailboxStore
    outbox: OutboxStore
    notifications: NotificationStore
    correspondents: CorrespondentStore
    webhooks: WebhookStore
    listings: ListingStore
    directory: DirectoryStore
    moderation: ModerationStore
    conduct: ConductStore
    writing: WritingStore
    uploads: UploadStore
    factors: FactorStore
    audit: AuditStore
    erasure: ErasureStore
    dkim: DkimStore

    @classmethod
    def over(cls, db: Database, chain: AuditChain | None = None) -> Stores:
        """The stores over `db`; without a keyed `chain` they refuse audit entries."""
        chain = chain or AuditChain()
        return cls(db=db, keys=KeyStore(db), members=MemberStore(db), throttles=ThrottleStore(db),
                   tokens=TokenStore(db), sessions=SessionStore(db), accounts=AccountStore(db),
                   mailbox=MailboxStore(db), outbox=OutboxStore(db),
                   notifications=NotificationStore(db), correspondents=CorrespondentStore(db),
                   webhooks=WebhookStore(db), listings=ListingStore(db, chain),
                   directory=DirectoryStore(db), moderation=ModerationStore(db, chain),
                   conduct=ConductStore(db), writing=WritingStore(db),
                   uploads=UploadStore(db), factors=FactorStore(db),
                   audit=AuditStore(db, chain), erasure=ErasureStore(db, chain),
                   dkim=DkimStore(db))

    def keyed(self, audit_mac: Mac) -> Stores:
        """These stores with the audit chain keyed by the keyring's `audit_mac`: the stores
        that write audit entries are made anew, the others kept."""
        chain = AuditChain(audit_mac)
        return replace(self, listings=ListingStore(self.db, chain),
                       moderation=ModerationStore(self.db, chain),
                       audit=AuditStore(self.db, chain),
                       erasure=ErasureStore(self.db, chain))

    async def ping(self) -> None:
        try:
            await self.db.fetchval("SELECT 1")
        except Exception as exc:
            raise StoreError(f"the database does not answer: {exc.__class__.__name__}") from None

    async def close(self) -> None:
        await self.db.close()


async def open_stores(url: str, *, pool_size: int = 10, wait_seconds: float = 30.0,
                      migrate: bool = True, progress: Progress | None = None) -> Stores:
    """Connect, bring the schema up to date (telling `progress` after each step), and hand
    back every store."""
    db = await open_database(url, pool_size, wait_seconds)
    try:
        if migrate:
            await db.migrate(progress)
    except BaseException:
        await db.close()
        raise
    return Stores.over(db)
