"""What a member keeps for writing: a signature put below what they write, and drafts
saved on the server (so a message begun on one device is finished on another).

A free member's signature obeys the marketplace's rule like their listings: contact
details belong in the contact section only, so a signature carrying them is refused. A
draft is sealed like a message, under a content key of its own wrapped under the member's
key; it holds the text of a message and what it answers or forwards, never files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from trademail.clock import Clock
from trademail.crypto import ContentKey, Keyring, MemberKey
from trademail.errors import InvalidInput, NotFound
from trademail.ids import is_id, new_id
from trademail.services import validation
from trademail.services.contacts import find_contacts
from trademail.services.contactsection import KIND_LABELS
from trademail.services.standing import may_show_contacts_in_listings
from trademail.store import DraftRow, MemberStore, WritingStore

MAX_SIGNATURE_CHARS = 600
MAX_DRAFTS = 200
SIGNATURE_SEPARATOR = "\n\n-- \n"  # the signature delimiter mail clients know (RFC 3676)


@dataclass(frozen=True)
class SavedDraft:
    """A message being written: its text, and what it answers or forwards."""

    id: str
    to: str
    subject: str
    body: str
    in_reply_to: str | None
    forward_of: str | None
    updated_at: float


class Writing:
    def __init__(self, writing_store: WritingStore, member_store: MemberStore,
                 keyring: Keyring, clock: Clock, *, max_body_bytes: int) -> None:
        self._store = writing_store
        self._members_store = member_store
        self._keyring = keyring
        self._clock = clock
        self._max_body_bytes = max_body_bytes

    # ------------------------------------------------------------------ signature

    async def signature(self, member_id: str) -> str:
        sealed = await self._store.signature(member_id)
        return "" if sealed is None else self._keyring.open_field(member_id, "signature",
                                                                  sealed)

    async def set_signature(self, member_id: str, text: object) -> str:
        """Keep the member's signature ("" forgets it); what is kept."""
        member = await self._members_store.member_by_id(member_id)
        if member is None:
            raise NotFound()
        clean = validation.paragraph(text if text is not None else "", "signature",
                                     max_length=MAX_SIGNATURE_CHARS)
        if clean and not may_show_contacts_in_listings(member):
            found = find_contacts(clean, country=member.country)
            if found:
                kinds = ", ".join(dict.fromkeys(KIND_LABELS.get(f.kind, f.kind)
                                                for f in found))
                raise InvalidInput.one("signature", f"may not carry contact details "
                                       f"({kinds}): free members give them only in their "
                                       "contact section, which members in good standing see")
        sealed = self._keyring.seal_field(member_id, "signature", clean) if clean else None
        await self._store.set_signature(member_id, sealed, self._clock.now())
        return clean

    # ------------------------------------------------------------------ drafts

    async def save_draft(self, member_id: str, draft_id: str | None, *, to: object,
                         subject: object, body: object, in_reply_to: object = None,
                         forward_of: object = None) -> SavedDraft:
        """Keep a message being written (a new draft, or `draft_id` replaced)."""
        now = self._clock.now()
        new = draft_id is None
        if draft_id is None:
            draft_id = new_id(now)
        elif not is_id(draft_id) or await self._store.draft(member_id, draft_id) is None:
            raise NotFound()
        saved = SavedDraft(
            draft_id, validation.line(_given(to), "to", max_length=2000, min_length=0),
            validation.line(_given(subject), "subject", max_length=255, min_length=0),
            validation.body(_given(body), "body", max_bytes=self._max_body_bytes),
            _message_id(in_reply_to, "in_reply_to"), _message_id(forward_of, "forward_of"),
            now)
        key = await self._member_key(member_id)
        ck = ContentKey.generate()
        payload = json.dumps({"to": saved.to, "subject": saved.subject, "body": saved.body,
                              "in_reply_to": saved.in_reply_to,
                              "forward_of": saved.forward_of}).encode()
        row = DraftRow(member_id, draft_id, key.wrap_content_key(ck, f"draft {draft_id}"),
                       ck.seal(f"draft {draft_id}", "draft", payload), now)
        if not new:
            await self._store.save_draft(row)
        elif not await self._store.add_draft(row, MAX_DRAFTS):
            raise InvalidInput.one("draft", f"you can keep at most {MAX_DRAFTS} drafts; "
                                   "send or delete some")
        return saved

    async def drafts(self, member_id: str) -> list[SavedDraft]:
        key = await self._member_key(member_id)
        return [_open(key, row) for row in await self._store.drafts(member_id, MAX_DRAFTS)]

    async def draft(self, member_id: str, draft_id: str) -> SavedDraft:
        row = await self._store.draft(member_id, draft_id) if is_id(draft_id) else None
        if row is None:
            raise NotFound()
        return _open(await self._member_key(member_id), row)

    async def delete_draft(self, member_id: str, draft_id: str) -> None:
        if not is_id(draft_id) or not await self._store.delete_draft(member_id, draft_id):
            raise NotFound()

    async def _member_key(self, member_id: str) -> MemberKey:
        member = await self._members_store.member_by_id(member_id)
        if member is None:
            raise NotFound()
        return self._keyring.member_key(member_id, member.member_key,
                                        member.previous_member_key)


def _given(value: object) -> object:
    """A draft's field as given: absent (None) is empty; anything else is checked as text,
    so 0 or false is refused, not taken for empty."""
    return "" if value is None else value


def _message_id(value: object, field: str) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not is_id(value):
        raise InvalidInput.one(field, "must be a message id")
    return value


def _open(key: MemberKey, row: DraftRow) -> SavedDraft:
    ck = key.unwrap_content_key(row.content_key, f"draft {row.id}")
    data = json.loads(ck.open(f"draft {row.id}", "draft", row.draft_ct))
    return SavedDraft(row.id, data["to"], data["subject"], data["body"], data["in_reply_to"],
                      data["forward_of"], row.updated_at)
