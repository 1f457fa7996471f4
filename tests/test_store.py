"""The stores' contract: the same behaviour from SQLite and from PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from trademail.errors import Conflict
from trademail.ids import new_id
from trademail.store import (
    Claim,
    MemberRow,
    NewAttachment,
    NewDelivery,
    NewEntry,
    NewMessage,
    Stores,
    open_stores,
)

NOW = 1_790_000_000.0


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Stores]:
    store = await open_stores(store_url, pool_size=4)
    yield store
    await store.close()


def member(name: str, email_index: bytes | None = None) -> MemberRow:
    return MemberRow(id=new_id(NOW), username=name, email_ct=b"ct", company="Co", country="Peru",
                     email_index=email_index or name.encode(), password_hash="h",
                     member_key=b"mk", notify="summary", created_at=NOW)


def message(sender: str, to: str, at: float, thread: str | None = None) -> NewMessage:
    mid = new_id(at)
    return NewMessage(id=mid, thread_id=thread or mid, in_reply_to=None, sender_id=sender,
                      recipient_ids=(to,), created_at=at, subject_ct=b"s", body_ct=b"b",
                      snippet_ct=b"n", attachments=(NewAttachment(1, 3, b"m", b"d"),))


async def two_members(store: Stores) -> tuple[MemberRow, MemberRow]:
    a, b = member("ann"), member("ben")
    await store.members.create_member(a, "a@relay.test")
    await store.members.create_member(b, "b@relay.test")
    return a, b


async def deliver(store: Stores, msg: NewMessage) -> str:
    entries = [NewEntry(msg.sender_id, "sent", False, b"k1"),
               NewEntry(msg.recipient_ids[0], "inbox", True, b"k2")]
    words = ((msg.recipient_ids[0], b"token-" + msg.id[-4:].encode()),)
    await store.mailbox.deliver(NewDelivery(msg, tuple(entries), words))
    return msg.id


def claim(msg: NewMessage, key: str = "k", fingerprint: bytes = b"fp") -> Claim:
    return Claim(msg.sender_id, key, fingerprint, msg.id, msg.thread_id)


async def test_migrations_apply_once(store: Stores, store_url: str) -> None:
    assert await store.db.migrate() == 0
    again = await open_stores(store_url)
    await again.close()


async def test_usernames_aliases_and_confirmed_addresses_are_unique(store: Stores) -> None:
    await store.members.create_member(member("ann", b"idx"), "a@relay.test")
    with pytest.raises(Conflict) as by_name:
        await store.members.create_member(member("ann", b"other"), "b@relay.test")
    with pytest.raises(Conflict) as by_alias:
        await store.members.create_member(member("abe", b"new"), "a@relay.test")
    assert (by_name.value.field, by_alias.value.field) == ("username", "alias")
    assert await store.members.member_by_username("abe") is None
    # An address is unique among confirmed members only: two may name it, one may hold it.
    amy = member("amy", b"idx")
    await store.members.create_member(amy, "c@relay.test")
    ann = await store.members.member_by_username("ann")
    assert ann is not None and await store.accounts.confirm_address(ann.id, b"idx", NOW)
    with pytest.raises(Conflict) as by_email:
        await store.accounts.confirm_address(amy.id, b"idx", NOW)
    assert by_email.value.field == "email"
    assert (await store.members.confirmed_member_by_email(b"idx")).username == "ann"  # type: ignore[union-attr]


async def test_recipients_resolve_by_username_or_enabled_alias(store: Stores) -> None:
    a, b = await two_members(store)
    assert await store.members.resolve_recipients(["ann", "b@relay.test", "zed"]) == {
        "ann": a.id, "b@relay.test": b.id}


async def test_pages_follow_the_keyset(store: Stores) -> None:
    a, b = await two_members(store)
    ids = [await deliver(store, message(a.id, b.id, NOW + n)) for n in range(5)]
    page = await store.mailbox.list_entries(b.id, folders=["inbox"], unread_only=False,
                                            word_tokens=[], before=None, limit=2)
    assert [e.message_id for e in page] == ids[:-3:-1]
    page = await store.mailbox.list_entries(b.id, folders=["inbox"], unread_only=False,
                                            word_tokens=[], before=page[-1].message_id,
                                            limit=10)
    assert [e.message_id for e in page] == ids[2::-1]
    assert await store.mailbox.list_entries(a.id, folders=["inbox"], unread_only=False,
                                            word_tokens=[], before=None, limit=10) == []
    found = await store.mailbox.list_entries(b.id, folders=["inbox"], unread_only=True,
                                     word_tokens=[b"token-" + ids[1][-4:].encode()],
                                     before=None, limit=10)
    assert [e.message_id for e in found] == [ids[1]]


async def test_an_idempotency_key_is_claimed_once_before_the_message_is_written(
        store: Stores) -> None:
    a, b = await two_members(store)
    first, retry = message(a.id, b.id, NOW), message(a.id, b.id, NOW + 1)
    mailbox = store.mailbox
    assert await mailbox.claim_idempotency(claim(first), NOW, stale_before=NOW - 60) is None
    # A retry while the first is still being written learns it is not written yet.
    pending = await mailbox.claim_idempotency(claim(retry), NOW + 1, stale_before=NOW - 59)
    assert pending is not None and pending.message_id == first.id and not pending.delivered
    await deliver(store, first)
    done = await mailbox.claim_idempotency(claim(retry), NOW + 2, stale_before=NOW - 58)
    assert done is not None and done.message_id == first.id and done.delivered
    assert done.fingerprint == b"fp"
    assert await mailbox.entry(b.id, retry.id) is None


async def test_a_claim_whose_request_died_is_taken_over_or_given_back(store: Stores) -> None:
    a, b = await two_members(store)
    dead, retry, other = (message(a.id, b.id, NOW + n) for n in range(3))
    mailbox = store.mailbox
    assert await mailbox.claim_idempotency(claim(dead), NOW, stale_before=NOW - 60) is None
    # A different request under the key never takes it over, however old the claim.
    assert await mailbox.claim_idempotency(claim(other, fingerprint=b"other"), NOW + 90,
                                           stale_before=NOW + 30) is not None
    # The same request, once the claim is stale, does.
    assert await mailbox.claim_idempotency(claim(retry), NOW + 90,
                                           stale_before=NOW + 30) is None
    # The request that died wakes up after all: its message gives way to the retry's.
    entries = (NewEntry(dead.sender_id, "sent", False, b"k1"),
               NewEntry(dead.recipient_ids[0], "inbox", True, b"k2"))
    with pytest.raises(Conflict):
        await mailbox.deliver(NewDelivery(dead, entries, (), claim=claim(dead)))
    assert await mailbox.entry(a.id, dead.id) is None
    await mailbox.release_idempotency(claim(retry))
    assert await mailbox.claim_idempotency(claim(other, fingerprint=b"other"), NOW + 91,
                                           stale_before=NOW + 31) is None


async def test_the_last_entry_takes_the_message_with_it(store: Stores) -> None:
    a, b = await two_members(store)
    mid = await deliver(store, message(a.id, b.id, NOW))
    assert await store.mailbox.delete_entry(b.id, mid)
    assert len(await store.mailbox.attachments(a.id, mid)) == 1
    assert not await store.mailbox.delete_entry(b.id, mid)
    assert await store.mailbox.delete_entry(a.id, mid)
    assert await store.db.fetchval("SELECT count(*) FROM messages") == 0
    assert await store.db.fetchval("SELECT count(*) FROM attachments") == 0


async def test_filing_touches_one_mailbox(store: Stores) -> None:
    a, b = await two_members(store)
    mid = await deliver(store, message(a.id, b.id, NOW))
    assert await store.mailbox.update_entry(b.id, mid, folder="archive", unread=False)
    assert not await store.mailbox.update_entry(b.id, new_id(NOW), folder="archive")
    mine, theirs = await store.mailbox.entry(b.id, mid), await store.mailbox.entry(a.id, mid)
    assert mine is not None and theirs is not None
    assert (mine.folder, mine.unread, theirs.folder) == ("archive", False, "sent")


async def test_signin_attempts_are_counted_atomically(store: Stores) -> None:
    def let_through(state: dict[str, tuple[int, float]]) -> tuple[float, set[str]]:
        return 0.0, set()

    for n in range(3):
        assert await store.throttles.reserve_signin_attempt(["account:x", "client:1"], NOW + n,
                                                  let_through) == 0.0
    assert await store.throttles.signin_failures(["account:x", "client:1", "none"]) == {
        "account:x": (3, NOW + 2), "client:1": (3, NOW + 2)}
    seen = {}

    def wait(state: dict[str, tuple[int, float]]) -> tuple[float, set[str]]:
        seen.update(state)
        return 9.0, set()

    assert await store.throttles.reserve_signin_attempt(["client:1", "account:x"], NOW + 5,
                                                        wait) == 9.0
    assert seen == {"account:x": (3, NOW + 2), "client:1": (3, NOW + 2)}
    await store.throttles.reserve_signin_attempt(["account:x", "client:1"], NOW + 6,
                                       lambda state: (0.0, {"account:x"}))
    assert await store.throttles.signin_failures(["account:x", "client:1"]) == {
        "account:x": (1, NOW + 6), "client:1": (4, NOW + 6)}
    await store.throttles.signin_succeeded("account:x", "client:1")
    assert await store.throttles.signin_failures(["account:x", "client:1"]) == {
        "client:1": (3, NOW + 6)}

    # Twenty at once, each allowed only while fewer than five are counted: five get in.
    def five(state: dict[str, tuple[int, float]]) -> tuple[float, set[str]]:
        return (0.0 if state["account:y"][0] < 5 else 60.0), set()

    waits = await asyncio.gather(*(store.throttles.reserve_signin_attempt(["account:y"], NOW, five)
                                   for _ in range(20)))
    assert waits.count(0.0) == 5


async def test_concurrent_writers_do_not_trip_over_each_other(store: Stores) -> None:
    a, b = await two_members(store)
    await asyncio.gather(*(deliver(store, message(a.id, b.id, NOW + n)) for n in range(40)))
    assert await store.db.fetchval("SELECT count(*) FROM mailbox") == 80


async def test_inbox_pages_are_read_through_an_index(store: Stores) -> None:
    """A page costs the same with 100 or 1,000,000 messages: no scan, no sort."""
    a, b = await two_members(store)
    await deliver(store, message(a.id, b.id, NOW))
    sql = ("SELECT e.message_id FROM mailbox e JOIN messages m ON m.id = e.message_id "
           "WHERE e.member_id = $1 AND e.folder IN ($2) AND e.message_id < $3 "
           "ORDER BY e.message_id DESC LIMIT 51")
    args = (b.id, "inbox", "f" * 32)
    if store.db.dialect == "sqlite":
        plan = " ".join(str(tuple(r)) for r in await store.db.fetch(
            "EXPLAIN QUERY PLAN " + sql, *args))
        assert "USING COVERING INDEX mailbox_folder" in plan or \
            "USING INDEX mailbox_folder" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    else:
        async with store.db.transaction() as tx:
            await tx.execute("SET LOCAL enable_seqscan = off")
            plan = "\n".join(r[0] for r in await tx.fetch("EXPLAIN " + sql, *args))
        assert "mailbox_folder" in plan and "Sort" not in plan, plan


async def test_housekeeping_forgets_old_keys_and_failures(store: Stores) -> None:
    from trademail.services.housekeeping import Housekeeping
    from trademail.testing import FakeClock

    a, b = await two_members(store)
    old = message(a.id, b.id, NOW)
    await store.mailbox.claim_idempotency(claim(old, "old"), NOW, stale_before=NOW - 60)
    await deliver(store, old)
    await store.throttles.reserve_signin_attempt(["account:x"], NOW, lambda state: (0.0, set()))
    clock = FakeClock(NOW + 86400 + 1)
    await store.throttles.reserve_signin_attempt(["account:y"], clock.now(),
                                                 lambda state: (0.0, set()))
    await Housekeeping(store, clock, signin_keep_seconds=86400).run_once()
    assert await store.db.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    assert list(await store.throttles.signin_failures(["account:x", "account:y"])) == ["account:y"]
    await store.db.execute("INSERT INTO inbound_mail (member_id, digest, created_at) "
                           "VALUES ($1, $2, $3)", a.id, b"old", NOW)
    await Housekeeping(store, FakeClock(NOW + 15 * 86400),
                       signin_keep_seconds=86400).run_once()
    assert await store.db.fetchval("SELECT count(*) FROM inbound_mail") == 0


async def test_housekeeping_forgets_expired_links_and_pending_addresses(store: Stores) -> None:
    from trademail.services.housekeeping import Housekeeping
    from trademail.store import PURPOSE_RESET, AccountTokenRow, EmailChangeRow
    from trademail.testing import FakeClock

    a, b = await two_members(store)
    for member, expires in ((a, NOW + 3600), (b, NOW + 86400)):
        await store.accounts.issue_account_token(AccountTokenRow(
            member.id.encode(), member.id, PURPOSE_RESET, b"idx", NOW, expires), [])
        await store.accounts.start_email_change(EmailChangeRow(
            member.id, b"sealed", member.id.encode(), NOW, expires), member.id.encode(), [])
    await Housekeeping(store, FakeClock(NOW + 7200), signin_keep_seconds=86400).run_once()
    assert [r["member_id"] for r in await store.db.fetch(
        "SELECT member_id FROM account_tokens")] == [b.id]
    assert await store.accounts.pending_email_change(a.id) is None
    assert await store.accounts.pending_email_change(b.id) is not None


async def test_attachment_lists_come_only_from_the_members_own_mailbox(store: Stores) -> None:
    a, b = await two_members(store)
    c = member("cid")
    await store.members.create_member(c, "c@relay.test")
    mid = await deliver(store, message(a.id, b.id, NOW))
    assert [x.n for x in (await store.mailbox.attachment_lists(b.id, [mid]))[mid]] == [1]
    assert await store.mailbox.attachment_lists(c.id, [mid]) == {}
    assert await store.mailbox.attachment_lists(b.id, []) == {}


async def test_sign_in_throttles_lock_in_one_order_under_a_burst(store: Stores) -> None:
    """Attempts and successes on one account from one client, all at once, whichever of
    the two subjects sorts first: none deadlocks another (PostgreSQL would abort one)."""
    throttles = store.throttles

    async def sign_in(account: str, client: str) -> None:
        wait = await throttles.reserve_signin_attempt(
            [account, client], 1000.0, lambda state: (0.0, set()))
        assert wait == 0
        await throttles.signin_succeeded(account, client)

    for account, client in (("b-account", "a-client"), ("a-account", "b-client")):
        for _ in range(3):
            await asyncio.gather(*(sign_in(account, client) for _ in range(100)))
