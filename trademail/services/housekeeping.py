"""Periodic clean-up: forget what is only kept for a while."""

from __future__ import annotations

from trademail.clock import Clock
from trademail.services.contacts import region_code
from trademail.services.listings import directory_words
from trademail.services.sessions import Sessions
from trademail.store import Stores

IDEMPOTENCY_KEEP_SECONDS = 24 * 3600
OUTBOX_KEEP_SECONDS = 30 * 24 * 3600
INBOUND_DIGEST_KEEP_SECONDS = 14 * 24 * 3600  # longer than any MTA keeps retrying
SEND_LOG_KEEP_SECONDS = 24 * 3600  # the longest sending-limit window
CONTACT_VIEWS_KEEP_SECONDS = 30 * 24 * 3600  # what staff look back on
UNSENT_UPLOAD_KEEP_SECONDS = 3600  # a file streamed in for a send that never finished


class Housekeeping:
    def __init__(self, stores: Stores, clock: Clock, *, signin_keep_seconds: float,
                 sessions: Sessions | None = None) -> None:
        self._sessions = sessions
        self._mailbox_store = stores.mailbox
        self._throttles_store = stores.throttles
        self._outbox_store = stores.outbox
        self._accounts_store = stores.accounts
        self._conduct_store = stores.conduct
        self._directory_store = stores.directory
        self._upload_store = stores.uploads
        self._erasure_store = stores.erasure
        self._clock = clock
        self._signin_keep_seconds = signin_keep_seconds

    async def run_once(self) -> None:
        now = self._clock.now()
        await self._mailbox_store.forget_idempotency_keys(now - IDEMPOTENCY_KEEP_SECONDS)
        await self._throttles_store.forget_signin_failures(now - self._signin_keep_seconds)
        await self._outbox_store.forget_delivered(now - OUTBOX_KEEP_SECONDS)
        await self._mailbox_store.forget_inbound_mail(now - INBOUND_DIGEST_KEEP_SECONDS)
        await self._accounts_store.forget_account_tokens(now)
        await self._accounts_store.forget_email_changes(now)
        await self._conduct_store.forget_sends(now - SEND_LOG_KEEP_SECONDS)
        await self._directory_store.forget_views(now - CONTACT_VIEWS_KEEP_SECONDS)
        await self._upload_store.forget_unsent(now - UNSENT_UPLOAD_KEEP_SECONDS)
        await self._erasure_store.sweep_late()  # a delivery that raced an erasure
        await self._directory_store.index_unindexed(directory_words, now=now)
        await self._directory_store.code_countries(region_code)
        if self._sessions is not None:
            await self._sessions.forget_ended()
