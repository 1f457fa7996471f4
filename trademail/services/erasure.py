"""Account erasure: a member deletes their account, proven by their password and second
factor. Their member key goes with their row (crypto-shredding: what it wrapped opens no
more), and with it everything of theirs; the other parties keep their copies of past
conversations, where the member shows as a former member."""

from __future__ import annotations

from functools import partial

import structlog

from trademail.clock import Clock
from trademail.crypto import Keyring
from trademail.errors import InvalidInput, NotFound, StoreError
from trademail.services.audit import ACCOUNT_DELETED, Actor, audit_entry
from trademail.services.delivery import Job, Outbox
from trademail.services.factors import SecondFactors
from trademail.services.identities import retired_name
from trademail.services.members import Members
from trademail.store import ErasureStore

log = structlog.get_logger(__name__)
# The audit entry names no one (`Actor`'s name is "former member", never the username).
ERASED_BY = "former member"
ERASED_DETAIL = "the member deleted their account; their key and data were destroyed"
SCRUB_JOB = "scrub_after_erasure"  # done by a relay worker: it may take a while


class Erasure:
    def __init__(self, store: ErasureStore, members: Members, factors: SecondFactors,
                 keyring: Keyring, outbox: Outbox, clock: Clock) -> None:
        self._store = store
        self._outbox = outbox
        self._members = members
        self._factors = factors
        self._keyring = keyring
        self._clock = clock

    async def erase(self, member_id: str, *, password: object, second_factor: object = None,
                    passkey: object = None, confirm: object = None, client: str,
                    confirm_required: bool = False, device: object = None) -> None:
        """Delete the member's account for good, once their password (counted like a
        sign-in), their second factor (when they have one) and, where the door asks for it
        (`confirm_required`), their username typed out (`confirm`) say it is them and they
        mean it (the password's tries counted against the browser's `device` cookie). Then
        the database's files are scrubbed of what was deleted, by a relay worker (a VACUUM
        of a large database is not a request's work)."""
        username, _ = await self._members.check_password(member_id, password, "password",
                                                         client, device=device)
        typed = confirm.strip().lower() if isinstance(confirm, str) else ""
        if confirm_required and typed != username:
            raise InvalidInput.one("confirm", "type your username to confirm")
        await self._factors.confirm(member_id, code=second_factor, passkey=passkey,
                                    field="second_factor")
        now = self._clock.now()
        audit = audit_entry(Actor(member_id, ERASED_BY), ACCOUNT_DELETED, member_id,
                            ERASED_DETAIL, now)
        erased = await self._store.erase(member_id, now, audit=audit,
                                         name_index=partial(retired_name, self._keyring))
        if erased is None:
            raise NotFound()
        log.info("account erased", shared_messages_deleted=erased.messages)
        try:  # the account is gone whatever happens here; housekeeping sweeps again
            await self._outbox.enqueue(Job(SCRUB_JOB, {}), None)
        except StoreError as exc:
            log.warning("the scrub after an erasure was not queued",
                        error=exc.__class__.__name__)

    async def scrub(self, _: dict[str, str]) -> None:
        """The queued scrub, best effort: the erasure stands whatever happens here."""
        try:
            await self._store.scrub()
        except StoreError as exc:
            log.warning("scrubbing after an erasure failed", error=exc.__class__.__name__)
