"""The chained audit log of issue 12, through the real doors: security events land in the
member's own log (settings and the API) and in the staff console, never in another
member's; `trademail audit verify` passes on a whole chain and names the entry that broke
it after a row is changed, deleted or moved; concurrent appends keep the chain whole; a
database upgraded from before the chain has its earlier entries chained."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg

from tests.browser_helpers import Browser, csrf_of
from tests.helpers import MASTER_KEY, PASSWORD, make_config, register
from tests.test_cli import trademail
from tests.test_web_staff import staff_member
from trademail.app import CORE, open_core
from trademail.services.audit import SYSTEM
from trademail.store.schema import migrations

NEW_PASSWORD = "lantern harbour spice ledger"


async def _ids(client: Any, *usernames: str) -> list[str]:
    members = client.app[CORE].stores.members
    return [(await members.member_by_username(u)).id for u in usernames]


async def test_security_events_reach_the_members_own_log_and_no_one_elses(
        client: Any, browsers: Any) -> None:
    amina: Browser = browsers()
    await amina.sign_up("amina")  # a sign-up signs in: the first entry
    bakari = await register(client, "bakari")  # an API sign-in and a token
    stranger: Browser = browsers()
    assert (await stranger.sign_in("amina", "not her password")).status == 401
    assert (await stranger.sign_in("nobody-at-all", "not a password")).status == 401
    page = await amina.page("/settings/security")
    resp = await amina.post("/settings/password", {
        "current_password": PASSWORD, "new_password": NEW_PASSWORD}, csrf=csrf_of(page))
    assert resp.status == 303, await resp.text()
    resp = await amina.post("/settings/tokens", {"name": "crm", "scopes": "messages:read",
                                                 "expires": "30"}, form_page="/settings/tokens")
    assert resp.status == 200
    assert (await amina.get("/export/mailbox.mbox")).status == 200

    staff = await staff_member(client, browsers, "tradestaff-sasha")
    amina_id, bakari_id = await _ids(client, "amina", "bakari")
    page = await staff.page(f"/staff/members/{amina_id}")
    resp = await staff.post(f"/staff/members/{amina_id}/tier",
                            {"tier": "premium", "reason": "paid for a year"}, csrf=csrf_of(page))
    assert resp.status == 303

    mine = (await amina.page("/settings/activity")).split("<table", 1)[1]
    for words in ("Signed in", "Failed sign-in attempt", "Password changed",
                  "API token created", "Mailbox exported", "Tier set to Premium member",
                  "TradeMail staff", "web: "):
        assert words in mine, words
    assert "tradestaff-sasha" not in mine and "bakari" not in mine and "@" not in mine
    assert mine.count("Failed sign-in attempt") == 1  # the unknown username named no one

    theirs = await client.get("/api/v1/me/audit", headers=bakari.auth)
    entries = (await theirs.json())["entries"]
    assert ("signin", "You", "API") in {(e["action"], e["by"], e["detail"]) for e in entries}
    assert {e["action"] for e in entries} == {"signin", "token.created"}  # none of amina's

    console = await staff.page(f"/staff/audit?member={amina_id}")
    assert "signin.failed" in console and "password.changed" in console
    assert "export.mailbox" in console and f"/staff/members/{bakari_id}" not in console
    everyone = await staff.page("/staff/audit")
    assert f"/staff/members/{bakari_id}" in everyone and "token.created" in everyone
    report = await client.app[CORE].audit.verify()
    assert report.ok and report.checked >= 10, report


async def test_a_members_log_pages_newest_first(client: Any, browsers: Any) -> None:
    amina: Browser = browsers()
    await amina.sign_up("amina")
    audit = client.app[CORE].audit
    amina_id, = await _ids(client, "amina")
    for n in range(55):
        await audit.record(SYSTEM, "status.active", amina_id, f"check {n}")
    first = await amina.page("/settings/activity")
    assert first.count("Account status set to Active") == 50
    assert "check 54<" in first and "check 5<" in first and "check 4<" not in first
    older = re.search(r'href="(/settings/activity\?before=[0-9a-f]{32})"', first)
    assert older, "no link to the older page"
    second = await amina.page(older.group(1))
    assert "check 4<" in second and "check 0<" in second and "Signed in" in second


# ---------------------------------------------------------------- verify, as a command


def _env(tmp_path: Path, store_url: str) -> dict[str, str]:
    return {"TRADEMAIL_DATA_DIR": str(tmp_path / "var"), "TRADEMAIL_STORE_URL": store_url,
            "TRADEMAIL_CRYPTO_MASTER_KEY": MASTER_KEY}


async def _entries(tmp_path: Path, store_url: str, count: int) -> None:
    core = await open_core(make_config(tmp_path, store_url))
    try:
        for n in range(count):
            await core.audit.record(SYSTEM, "status.active", None, f"entry {n + 1}")
    finally:
        await core.close()


async def _sql(store_url: str, *statements: str) -> None:
    if store_url.startswith("sqlite:///"):
        conn = sqlite3.connect(store_url[len("sqlite:///"):], isolation_level=None)
        try:
            conn.execute("BEGIN")
            for statement in statements:
                conn.execute(statement)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    pg = await asyncpg.connect(store_url)
    try:
        async with pg.transaction():
            for statement in statements:
                await pg.execute(statement)
    finally:
        await pg.close()


def _verify(tmp_path: Path, store_url: str, *args: str) -> Any:
    return trademail("audit", "verify", *args, cwd=tmp_path, **_env(tmp_path, store_url))


async def test_verify_passes_then_names_the_entry_that_broke(tmp_path: Path,
                                                            store_url: str) -> None:
    await _entries(tmp_path, store_url, 6)
    whole = _verify(tmp_path, store_url)
    assert whole.returncode == 0, whole.stderr
    head = re.search(r"audit chain intact: 6 entries checked; head (6:[0-9a-f]{64})$",
                     whole.stdout.strip())
    assert head, whole.stdout
    assert _verify(tmp_path, store_url, "--noted", head.group(1)).returncode == 0

    await _sql(store_url, "UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 3")
    changed = _verify(tmp_path, store_url)
    assert changed.returncode == 1
    assert "BROKEN at entry 3" in changed.stderr and "changed" in changed.stderr
    await _sql(store_url, "UPDATE audit_log SET detail = 'entry 3' WHERE seq = 3")
    assert _verify(tmp_path, store_url).returncode == 0  # put back: whole again

    await _sql(store_url, "UPDATE audit_log SET seq = 100 WHERE seq = 2",
               "UPDATE audit_log SET seq = 2 WHERE seq = 5",
               "UPDATE audit_log SET seq = 5 WHERE seq = 100")
    moved = _verify(tmp_path, store_url)
    assert moved.returncode == 1 and "BROKEN at entry 2" in moved.stderr
    await _sql(store_url, "UPDATE audit_log SET seq = 100 WHERE seq = 2",
               "UPDATE audit_log SET seq = 2 WHERE seq = 5",
               "UPDATE audit_log SET seq = 5 WHERE seq = 100")

    await _sql(store_url, "DELETE FROM audit_log WHERE seq = 4")
    deleted = _verify(tmp_path, store_url)
    assert deleted.returncode == 1
    assert "BROKEN at entry 4" in deleted.stderr and "missing" in deleted.stderr
    assert "Traceback" not in deleted.stderr


async def test_emptying_the_head_or_widening_the_legacy_part_reseals_nothing(
        tmp_path: Path, store_url: str) -> None:
    """Without the key nothing can be re-MACed: a changed entry stays changed whatever is
    done to the head, by hand or by the next entry written."""
    await _entries(tmp_path, store_url, 4)
    emptied_head = ("UPDATE audit_head SET mac = X''" if store_url.startswith("sqlite")
                    else "UPDATE audit_head SET mac = ''::bytea")
    await _sql(store_url, "UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 2",
               emptied_head)
    await _entries(tmp_path, store_url, 1)  # an append after the head was emptied
    emptied = _verify(tmp_path, store_url)
    assert emptied.returncode == 1 and "BROKEN at entry 2" in emptied.stderr
    # Calling the changed entries "from before the chain" breaks the chain's first MAC.
    await _sql(store_url, "UPDATE audit_head SET legacy = 2")
    widened = _verify(tmp_path, store_url)
    assert widened.returncode == 1 and "BROKEN at entry 1" in widened.stderr


async def test_the_whole_log_cannot_be_passed_off_as_from_before_the_chain(
        tmp_path: Path, store_url: str) -> None:
    """Rewritten, MACs dropped and all of it counted as legacy: the noted head catches it,
    and so do MACs left in place."""
    await _entries(tmp_path, store_url, 5)
    noted = re.search(r"head (\S+)", _verify(tmp_path, store_url).stdout)
    assert noted
    emptied_head = ("UPDATE audit_head SET legacy = seq, mac = X''"
                    if store_url.startswith("sqlite")
                    else "UPDATE audit_head SET legacy = seq, mac = ''::bytea")
    await _sql(store_url, "UPDATE audit_log SET detail = 'nothing happened'", emptied_head)
    kept_macs = _verify(tmp_path, store_url)
    assert kept_macs.returncode == 1 and "BROKEN at entry 1" in kept_macs.stderr
    await _sql(store_url, "UPDATE audit_log SET mac = NULL")
    against_noted = _verify(tmp_path, store_url, "--noted", noted.group(1))
    assert against_noted.returncode == 1 and "BROKEN" in against_noted.stderr


async def test_entries_cut_off_the_end_show_against_a_noted_head(tmp_path: Path,
                                                                store_url: str) -> None:
    await _entries(tmp_path, store_url, 5)
    noted = re.search(r"head (\S+)", _verify(tmp_path, store_url).stdout)
    assert noted
    # Cut the last two and set the head back to the third: the chain alone still holds.
    await _sql(store_url, "DELETE FROM audit_log WHERE seq > 3",
               "UPDATE audit_head SET seq = 3, mac = (SELECT mac FROM audit_log "
               "WHERE seq = 3)")
    assert _verify(tmp_path, store_url).returncode == 0
    cut = _verify(tmp_path, store_url, "--noted", noted.group(1))
    assert cut.returncode == 1 and "cut off the end" in cut.stderr
    refused = _verify(tmp_path, store_url, "--noted", "not a head")
    assert refused.returncode == 1 and "SEQ:MAC" in refused.stderr
    # An entry slipped in past the head has no place in the chain.
    await _sql(store_url, FORGED)
    forged = _verify(tmp_path, store_url)
    assert forged.returncode == 1 and "outside the chain" in forged.stderr


FORGED = ("INSERT INTO audit_log (id, actor_id, actor, action, member_id, detail, created_at, "
          "seq, mac) VALUES ('ffffffffffffffffffffffffffffffff', NULL, 'system', "
          "'status.banned', NULL, 'forged', 1790000000.0, 99, NULL)")


async def test_concurrent_appends_keep_the_chain(client: Any) -> None:
    names = [f"trader{n}" for n in range(12)]
    for name in names:
        await register(client, name, confirmed=False)

    async def token(name: str) -> None:
        resp = await client.post("/api/v1/tokens", json={
            "username": name, "password": PASSWORD, "name": "parallel"})
        assert resp.status == 201, await resp.text()

    await asyncio.gather(*(token(name) for name in names + names))
    report = await client.app[CORE].audit.verify()
    assert report.ok, report.problem
    assert report.checked == report.head_seq == await client.app[CORE].stores.audit.count()
    assert report.checked == 2 * 3 * len(names)  # a sign-in and a token, three times each


# Three entries written before there was a chain.
EARLIER = tuple(
    "INSERT INTO audit_log (id, actor_id, actor, action, member_id, detail, created_at) "  # noqa: S608
    f"VALUES ('{'0' * 31}{n}', NULL, 'system', 'status.restricted', NULL, 'earlier', "
    f"1790000000.{n})" for n in range(1, 4))


async def test_an_upgraded_database_chains_its_earlier_entries(tmp_path: Path,
                                                              store_url: str) -> None:
    before = [m for m in migrations(
        "sqlite" if store_url.startswith("sqlite") else "postgres") if m[0] < 12]
    if store_url.startswith("sqlite:///"):
        conn = sqlite3.connect(store_url[len("sqlite:///"):], isolation_level=None)
        try:
            conn.execute("CREATE TABLE schema_migrations "
                         "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL)")
            for version, name, sql in before:
                conn.executescript(sql)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (version, name))
        finally:
            conn.close()
    else:
        pg = await asyncpg.connect(store_url)
        try:
            await pg.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                             "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL "
                             "DEFAULT now())")
            for version, name, sql in before:
                await pg.execute(sql)
                await pg.execute("INSERT INTO schema_migrations (version, name) "
                                 "VALUES ($1, $2)", version, name)
        finally:
            await pg.close()
    await _sql(store_url, *EARLIER)
    upgraded = _verify(tmp_path, store_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "first 3 entries were written before the chain" in upgraded.stderr
    assert "3 entries checked" in upgraded.stdout
    await _entries(tmp_path, store_url, 2)  # new entries follow them in the chain
    after = _verify(tmp_path, store_url)
    assert after.returncode == 0 and "5 entries checked" in after.stdout, after.stderr
