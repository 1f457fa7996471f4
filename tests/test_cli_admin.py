"""The operator's commands for issue 9, as real processes on a real database: making staff
accounts, and the audited exports for a fraud referral and for a lawful request."""

from __future__ import annotations

import json
import mailbox
import stat
from pathlib import Path

from tests.helpers import MASTER_KEY, PASSWORD
from tests.test_cli import trademail
from trademail.app import open_core
from trademail.config import Config
from trademail.configfile import load_config
from trademail.services.messages import Draft

ENV = {"TRADEMAIL_CRYPTO_MASTER_KEY": MASTER_KEY}


def _config(tmp_path: Path) -> Config:
    return load_config(None, {"TRADEMAIL_DATA_DIR": str(tmp_path / "var"),
                              "TRADEMAIL_AUTH_ARGON2_MEMORY_KIB": "64",
                              "TRADEMAIL_AUTH_ARGON2_TIME_COST": "1",
                              "TRADEMAIL_AUTH_ARGON2_PARALLELISM": "1", **ENV})


async def _members(tmp_path: Path) -> None:
    """Two members with listings and a conversation, made through the services."""
    core = await open_core(_config(tmp_path))
    try:
        for name, email in (("ivy", "ivy.owner@real-ivy.example"),
                            ("kai", "kai.owner@real-kai.example")):
            member, _ = await core.members.prepare(
                username=name, password=PASSWORD, email=email,
                company=f"{name.title()} Trading Ltd", country="KE")
            await core.members.create(member, token=None, outbox=())
            await core.market.listings.save_profile(
                member.id, about="Cashew exporters", business_type="manufacturer",
                contact={"phone": "+254 20 1234567", "address": "12 Moi Avenue, Nairobi"})
        ivy = await core.stores.members.member_by_username("ivy")
        await core.sending.send(ivy.id, Draft(("kai",), "Deposit", "Pay the deposit first."))
    finally:
        await core.close()


async def _ban(tmp_path: Path, username: str) -> None:
    core = await open_core(_config(tmp_path))
    try:
        staff = await core.stores.members.member_by_username("tradestaff-anna")
        member = await core.stores.members.member_by_username(username)
        actor = await core.market.moderation.staff(staff.id)
        await core.market.moderation.set_status(actor, member.id, "banned", "fraud")
    finally:
        await core.close()


async def _audit(tmp_path: Path) -> list[tuple[str, str, str]]:
    core = await open_core(_config(tmp_path))
    try:
        return [(e.actor, e.action, e.detail)
                for e in await core.stores.moderation.audit_log()]
    finally:
        await core.close()


async def test_staff_create_and_the_audited_exports(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    made = trademail("staff", "create", "tradestaff-anna", "--email", "anna@staff.example",
                     "--password-file", "pw", cwd=tmp_path, **ENV)
    assert made.returncode == 0, made.stderr
    assert "staff account tradestaff-anna is ready" in made.stdout
    weak = trademail("staff", "create", "bob-staff", "--email", "bob@staff.example",
                     cwd=tmp_path, **ENV)  # an empty password from standard input
    assert weak.returncode == 1 and "password" in weak.stderr and "Traceback" not in weak.stderr

    await _members(tmp_path)
    refused = trademail("export", "banned", "ivy", cwd=tmp_path, **ENV)
    assert refused.returncode == 1 and "ivy is not banned" in refused.stderr
    unknown = trademail("export", "banned", "nobody", cwd=tmp_path, **ENV)
    assert unknown.returncode == 1 and "no member" in unknown.stderr

    await _ban(tmp_path, "ivy")
    done = trademail("export", "banned", "ivy", "--output", "ivy.json", cwd=tmp_path, **ENV)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "ivy.json").read_text())
    assert record["member"]["email"] == "ivy.owner@real-ivy.example"  # for the authorities
    assert record["member"]["status"] == "banned"
    assert record["contact"]["address"] == "12 Moi Avenue, Nairobi"
    assert record["status_history"][-1]["by"] == "tradestaff-anna"
    assert stat.S_IMODE((tmp_path / "ivy.json").stat().st_mode) == 0o600
    again = trademail("export", "banned", "ivy", "--output", "ivy.json", cwd=tmp_path, **ENV)
    assert again.returncode == 1 and "exists already" in again.stderr

    lawful = trademail("export", "lawful-request", "kai", "--reference", "LR-2026-17",
                       "--messages", "--mbox", "kai.mbox", cwd=tmp_path, **ENV)
    assert lawful.returncode == 0, lawful.stderr
    record = json.loads(lawful.stdout)
    assert record["reference"] == "LR-2026-17" and record["member"]["status"] == "active"
    mails = list(mailbox.mbox(str(tmp_path / "kai.mbox")))
    assert [m["Subject"] for m in mails] == ["Deposit"]
    assert "Pay the deposit first." in mails[0].get_payload()
    raw = (tmp_path / "kai.mbox").read_text()
    assert "ivy.owner@real-ivy.example" not in raw  # the other party only by alias

    audit = await _audit(tmp_path)
    assert ("command line", "export.lawful_request", "reference LR-2026-17 with messages") \
        in audit
    # The second export, refused for its output file, was neither made nor audited.
    assert audit.count(("command line", "export.banned", "fraud referral export")) == 1
    assert ("command line", "staff.created", "staff account tradestaff-anna") in audit
