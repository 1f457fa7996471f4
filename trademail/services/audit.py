"""The audit log's vocabulary: who acted (a member, staff, the system or the command line)
and the entries written for every change of status, report read and export."""

from __future__ import annotations

from dataclasses import dataclass

from trademail.ids import new_id
from trademail.store import AuditRow


@dataclass(frozen=True)
class Actor:
    """Who did something: a member or staff member (id and username), or the system."""

    id: str | None
    name: str


SYSTEM = Actor(None, "system")
COMMAND_LINE = Actor(None, "command line")


@dataclass(frozen=True)
class AuditEntry:
    id: str
    actor: str
    action: str
    member_id: str | None
    detail: str
    created_at: float


def audit_entry(actor: Actor, action: str, member_id: str | None, detail: str,
                now: float) -> AuditRow:
    return AuditRow(new_id(now), actor.id, actor.name, action, member_id, detail[:1000], now)


def entry_of(row: AuditRow) -> AuditEntry:
    return AuditEntry(row.id, row.actor, row.action, row.member_id, row.detail, row.created_at)
