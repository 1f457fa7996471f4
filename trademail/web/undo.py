"""Undo for conversations filed as a whole (one from its page, or several picked in a
list): how their messages were before travels in the address of the page the member comes
back to, and that page's Undo button posts it back. Nothing is kept on the server; an
Undo can only file the member's own messages of those conversations, which they may do
anyway."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from trademail.errors import InvalidInput
from trademail.services.reading import FOLDERS, THREAD_ACTIONS, Filed

DONE = {"archive": "archived", "trash": "moved to Trash", "inbox": "moved to your Inbox",
        "read": "marked read", "unread": "marked unread"}
_ENTRY = re.compile(rf"([0-9a-f]{{32}})\.([0-9a-f]{{32}})\.({'|'.join(FOLDERS)})\.([01])")
MOST = 500  # messages one Undo takes back


@dataclass(frozen=True)
class UndoOffer:
    text: str
    was: str


def encode_filed(filed: Mapping[str, Sequence[Filed]]) -> str:
    """`thread.message.folder.unread,…` for every message filed, by conversation."""
    return ",".join(f"{thread_id}.{f.message_id}.{f.folder}.{int(f.unread)}"
                    for thread_id, entries in filed.items() for f in entries)


def decode_filed(text: str) -> dict[str, list[Filed]]:
    parts = text.split(",") if text else []
    matches = [_ENTRY.fullmatch(p) for p in parts[:MOST + 1]]
    if not parts or len(parts) > MOST or not all(matches):
        raise InvalidInput.one("was", "is not what this page offered to undo")
    by_thread: dict[str, list[Filed]] = {}
    for m in matches:
        if m:
            by_thread.setdefault(m[1], []).append(Filed(m[2], m[3], m[4] == "1"))
    return by_thread


def with_undo(back: str, action: str, filed: Mapping[str, Sequence[Filed]]) -> str:
    """The address to go back to, offering to undo what was filed (an Undo it offered
    before is dropped)."""
    parts = urlsplit(back)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k not in ("undo", "was")]
    filed = {t: entries for t, entries in filed.items() if entries}
    if filed and sum(len(e) for e in filed.values()) <= MOST:
        query += [("undo", action), ("was", encode_filed(filed))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def undo_offer(query: Mapping[str, str]) -> UndoOffer | None:
    """The Undo a page offers after conversations were filed, if its address carries one."""
    action, was = query.get("undo", ""), query.get("was", "")
    if action not in THREAD_ACTIONS:
        return None
    try:
        count = len(decode_filed(was))
    except InvalidInput:
        return None
    what = "Conversation" if count == 1 else f"{count} conversations"
    return UndoOffer(f"{what} {DONE[action]}.", was)
