"""The composition root's second half: the doors (web, API, probes) on the services
`core.py` builds, and the whole server as one aiohttp application with its workers."""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web

from trademail.api import create_api, create_probe
from trademail.api.health import healthz, metrics_page, readyz
from trademail.api.wellknown import create_well_known
from trademail.appkeys import (
    ACCOUNT,
    ADDRESSES,
    AUDIT,
    CONDUCT,
    CONFIG,
    DIRECTORY,
    ERASURE,
    EVENTS,
    EXPORT,
    FACTORS,
    HEALTH,
    LISTINGS,
    MEMBERS,
    MODERATION,
    NOTIFICATIONS,
    READING,
    RECOVERY,
    SENDING,
    SESSIONS,
    SIGNUP,
    SMTP_GATEWAY,
    SPAM_MARKS,
    TOKENS,
    UPLOADS,
    WEBHOOKS,
    WRITING,
)
from trademail.clock import Clock, SystemClock
from trademail.config import Config
from trademail.core import Core, open_core, open_keyring, open_store_and_keys
from trademail.gateway.smtp import SmtpGateway
from trademail.gateway.transports import mail_transport
from trademail.gateway.webhooks import AiohttpWebhookSender
from trademail.keysource import MasterKeySource
from trademail.services import dnsrecords
from trademail.services.delivery import MailTransport, Relay, WebhookSender
from trademail.services.erasure import SCRUB_JOB
from trademail.services.housekeeping import Housekeeping
from trademail.services.recovery import RESET_JOB
from trademail.web import (
    create_static,
    observe_middleware,
    page_headers,
    request_id_header,
    setup_web,
    unsubscribe,
    web_middleware,
)

log = structlog.get_logger(__name__)
# What embedders and the command line import from here; built in trademail/core.py.
__all__ = ["CORE", "Core", "build_app", "create_app", "open_core", "open_keyring",
           "open_store_and_keys"]


CORE = web.AppKey("core", Core)


def _api(config: Config, core: Core) -> web.Application:
    """The API door with the services it calls."""
    api = create_api()
    api[CONFIG] = config
    api[MEMBERS] = core.members
    api[TOKENS] = core.tokens
    api[FACTORS] = core.factors
    api[SIGNUP] = core.signup
    api[RECOVERY] = core.recovery
    api[SENDING] = core.sending
    api[READING] = core.reading
    api[SPAM_MARKS] = core.spam_marks
    api[WRITING] = core.writing
    api[UPLOADS] = core.uploads
    api[EXPORT] = core.export
    api[AUDIT] = core.audit
    api[WEBHOOKS] = core.webhooks
    api[NOTIFICATIONS] = core.notifications
    api[LISTINGS] = core.market.listings
    api[DIRECTORY] = core.market.directory
    api[CONDUCT] = core.conduct
    api.add_routes(unsubscribe.routes)  # under /api/v1: the URL mail already carries
    return api


def create_app(config: Config, core: Core) -> web.Application:
    """The web door as the root application, with the API (/api), the probes (/healthz,
    /readyz, /metrics) and the static files (/static) as its sub-applications; each door
    gets the services it calls."""
    limits = config.messages
    app = web.Application(
        client_max_size=limits.max_attachments * limits.max_attachment_bytes
        + 8 * limits.max_body_bytes + 1024 * 1024,
        middlewares=[observe_middleware, web_middleware])
    app.on_response_prepare.append(page_headers)
    app.on_response_prepare.append(request_id_header)
    app[CONFIG] = config
    app[CORE] = core  # for whoever embeds or tests the app; no door reads it
    app[MEMBERS] = core.members
    app[TOKENS] = core.tokens
    app[SENDING] = core.sending
    app[READING] = core.reading
    app[SPAM_MARKS] = core.spam_marks
    app[WRITING] = core.writing
    app[UPLOADS] = core.uploads
    app[EXPORT] = core.export
    app[AUDIT] = core.audit
    app[ADDRESSES] = core.addresses
    app[SESSIONS] = core.sessions
    app[FACTORS] = core.factors
    app[ERASURE] = core.erasure
    app[SIGNUP] = core.signup
    app[RECOVERY] = core.recovery
    app[ACCOUNT] = core.account
    app[EVENTS] = core.events
    app[NOTIFICATIONS] = core.notifications
    app[LISTINGS] = core.market.listings
    app[DIRECTORY] = core.market.directory
    app[MODERATION] = core.market.moderation
    app[CONDUCT] = core.conduct
    setup_web(app)

    app.add_subapp("/api", _api(config, core))
    for prefix, probe in (("/healthz", healthz), ("/readyz", readyz), ("/metrics", metrics_page)):
        sub = create_probe(probe)
        sub[HEALTH] = core.health
        sub[CONFIG] = config
        app.add_subapp(prefix, sub)
    app.add_subapp("/static", create_static())
    app.add_subapp("/.well-known", create_well_known(
        dnsrecords.mta_sts_policy(config.dns, config.smtp.relay_domain)))
    return app


async def _every(seconds: float, job: Callable[[], Awaitable[object]]) -> None:
    """Run a job now and then every `seconds`; a failing run is logged, not fatal."""
    while True:
        try:
            await job()
        except Exception:
            log.exception("periodic job failed", job=getattr(job, "__qualname__", "?"))
        await asyncio.sleep(seconds)


async def build_app(config: Config, clock: Clock | None = None, *,
                    transport: MailTransport | None = None,
                    webhooks: WebhookSender | None = None,
                    smtp_socket: socket.socket | None = None) -> web.Application:
    """The whole server as one aiohttp application; its services and workers run with it.
    `transport` and `webhooks` replace the outgoing mail and webhook clients (tests)."""
    clock = clock or SystemClock()
    # Before anything is opened: an unreadable [webhooks] ca_file stops the start here.
    own_sender = AiohttpWebhookSender(ca_file=config.webhooks.ca_file) \
        if webhooks is None else None
    core = await open_core(config, clock)
    app = create_app(config, core)
    relay = Relay(core.stores.outbox, core.outbox, transport or mail_transport(config), clock,
                  config.relay, webhooks=webhooks or own_sender,
                  jobs={RESET_JOB: core.recovery.fulfil, SCRUB_JOB: core.erasure.scrub},
                  on_permanent_failure=core.notifications.on_permanent_failure,
                  render=core.notifications.render, sign=core.dkim.sign)
    smtp = app[SMTP_GATEWAY] = SmtpGateway(core.inbound, core.reader, config.smtp)
    if not config.spam.rspamd_url:
        log.warning("spam: no Rspamd is configured ([spam] rspamd_url): spam is not filtered")
    # Throttle rows also count mail per address and day, so they are kept a day at least.
    housekeeping = Housekeeping(core.stores, clock, sessions=core.sessions,
                                signin_keep_seconds=max(config.auth.lockout_seconds, 86400))

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        await core.events.start()
        try:
            await smtp.start(smtp_socket)
        except BaseException:
            await core.close()
            raise
        worker = asyncio.create_task(relay.run(core.events), name="relay")
        sweeper = asyncio.create_task(_every(3600, housekeeping.run_once), name="housekeeping")
        dkim = asyncio.create_task(_every(3600, core.dkim.advance), name="dkim selectors")
        keys = asyncio.create_task(_every(config.crypto.key_reload_seconds, functools.partial(
            MasterKeySource(config).reload_into, core.keyring)), name="master keys")
        core.health.serving(True)
        yield
        core.health.serving(False)
        for task in (worker, sweeper, keys, dkim):
            task.cancel()
        await asyncio.gather(worker, sweeper, keys, dkim, return_exceptions=True)
        await smtp.stop()
        if own_sender is not None:
            await own_sender.close()
        await core.close()

    app.cleanup_ctx.append(lifetime)
    return app
