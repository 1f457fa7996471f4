"""Undo for a conversation filed as a whole: how its messages were before travels in the
address of the page the member comes back to, and that page's Undo button posts it back.
Nothing is kept on the server; an Undo can only file the member's own messages of that
conversation, which they may do anyway."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from trademail.errors import InvalidInput
from trademail.services.reading import FOLDERS, Filed

UNDO_TEXT = {
    "archive": "Conversation archived.",
    "trash": "Conversation moved to Trash.",
    "inbox": "Conversation moved to your Inbox.",
    "read": "Conversation marked read.",
    "unread": "Conversation marked unread.",
}
_ENTRY = re.compile(rf"([0-9a-f]{{32}})\.({'|'.join(FOLDERS)})\.([01])")
_MOST = 500  # entries one Undo takes back


@dataclass(frozen=True)
class UndoOffer:
    thread_id: str
    text: str
    was: str


def encode_filed(filed: Sequence[Filed]) -> str:
    return ",".join(f"{f.message_id}.{f.folder}.{int(f.unread)}" for f in filed)


def decode_filed(text: str) -> list[Filed]:
    parts = text.split(",") if text else []
    matches = [_ENTRY.fullmatch(p) for p in parts[:_MOST + 1]]
    if not parts or len(parts) > _MOST or not all(matches):
        raise InvalidInput.one("was", "is not what this page offered to undo")
    return [Filed(m[1], m[2], m[3] == "1") for m in matches if m]


def undo_offer(query: Mapping[str, str]) -> UndoOffer | None:
    """The Undo a page offers after a conversation was filed, if its address carries one."""
    thread_id, _, action = query.get("undo", "").partition(".")
    was = query.get("was", "")
    if not re.fullmatch(r"[0-9a-f]{32}", thread_id) or action not in UNDO_TEXT:
        return None
    try:
        decode_filed(was)
    except InvalidInput:
        return None
    return UndoOffer(thread_id, UNDO_TEXT[action], was)
