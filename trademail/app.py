"""The composition root: builds store, keys, clock and services from config, and the app."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog
from aiohttp import web

from trademail.api import create_api, create_probe
from trademail.api.health import healthz, metrics_page, readyz
from trademail.appkeys import (
    ACCOUNT,
    ADDRESSES,
    CONDUCT,
    CONFIG,
    DIRECTORY,
    EVENTS,
    EXPORT,
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
    TOKENS,
    UPLOADS,
    WEBHOOKS,
    WRITING,
)
from trademail.clock import Clock, SystemClock
from trademail.config import AuthConfig, Config
from trademail.crypto import Key, Keyring, PasswordHasher, load_master_keys
from trademail.events import Events, PostgresEvents
from trademail.gateway.compose import ArchiveComposer, Composer
from trademail.gateway.smtp import SmtpGateway
from trademail.gateway.transports import MaildirTransport, SmtpTransport
from trademail.gateway.webhooks import AiohttpWebhookSender
from trademail.keysource import key_from_command
from trademail.mail.parse import TEXT_CAP_FACTOR
from trademail.mail.reader import MailReader
from trademail.services.account import Account
from trademail.services.accountmail import AccountMail
from trademail.services.addresses import AddressChanges
from trademail.services.conduct import Conduct
from trademail.services.delivery import MailTransport, Outbox, Relay
from trademail.services.directory import Directory
from trademail.services.export import MailboxExport
from trademail.services.health import Health
from trademail.services.housekeeping import Housekeeping
from trademail.services.inbound import Inbound
from trademail.services.listings import Listings
from trademail.services.membermail import MemberMail
from trademail.services.members import Members
from trademail.services.moderation import Moderation
from trademail.services.notifications import Notifications
from trademail.services.operator import Operator
from trademail.services.outsidemail import OutsideMail
from trademail.services.reading import Reading
from trademail.services.recovery import RESET_JOB, Recovery
from trademail.services.sending import Sending
from trademail.services.sessions import Sessions
from trademail.services.signup import Signup
from trademail.services.tokens import Tokens
from trademail.services.uploads import Uploads
from trademail.services.webhooks import Webhooks
from trademail.services.writing import Writing
from trademail.store import KeyStore, Stores, open_stores
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


@dataclass(frozen=True)
class Marketplace:
    """The directory and its moderation: listings, search, staff, the operator's exports."""

    listings: Listings
    directory: Directory
    moderation: Moderation
    operator: Operator


def open_marketplace(config: Config, stores: Stores, keyring: Keyring, events: Events,
                     clock: Clock, members: Members, reading: Reading) -> Marketplace:
    listings = Listings(stores.listings, stores.members, keyring, clock, config.directory,
                        config.limits)
    return Marketplace(
        listings=listings,
        directory=Directory(stores.directory, stores.listings, stores.members, keyring, clock,
                            config.directory),
        moderation=Moderation(stores.moderation, stores.members, stores.directory, listings,
                              reading, keyring, events, clock,
                              relay_domain=config.smtp.relay_domain),
        operator=Operator(stores.members, stores.accounts, stores.listings, stores.moderation,
                          members, reading, keyring, clock))


@dataclass
class Core:
    """Everything `serve` runs on; closed together."""

    stores: Stores
    keyring: Keyring
    hasher: PasswordHasher
    events: Events
    outbox: Outbox
    members: Members
    tokens: Tokens
    sending: Sending
    reading: Reading
    writing: Writing
    uploads: Uploads
    export: MailboxExport
    addresses: AddressChanges
    sessions: Sessions
    signup: Signup
    recovery: Recovery
    account: Account
    notifications: Notifications
    webhooks: Webhooks
    inbound: Inbound
    reader: MailReader
    conduct: Conduct
    market: Marketplace
    health: Health

    async def close(self) -> None:
        self.hasher.close()
        self.reader.close()
        await self.events.close()
        await self.stores.close()


CORE = web.AppKey("core", Core)


async def open_keyring(config: Config, store: KeyStore, *,
                       also: Sequence[Key] = ()) -> Keyring:
    """Load the master key and unwrap the system keys; a wrong key fails before any write.
    `also` adds keys that may open the database too (a rotation's new key)."""
    wrapped = await store.system_keys()
    given = config.crypto.master_key.reveal() or await key_from_command(
        config.crypto.master_key_command)
    masters = load_master_keys(given, config.master_key_path,
                               config.crypto.retired_key_files, allow_create=not wrapped)
    masters += [key for key in also if key.id not in {m.id for m in masters}]
    if wrapped:
        return Keyring.open(masters, wrapped)
    keyring, fresh = Keyring.create(masters)
    stored = await store.init_system_keys(fresh)
    return keyring if stored == fresh else Keyring.open(masters, stored)


def password_hasher(auth: AuthConfig) -> PasswordHasher:
    return PasswordHasher(time_cost=auth.argon2_time_cost, memory_kib=auth.argon2_memory_kib,
                          parallelism=auth.argon2_parallelism, workers=auth.hash_workers)


async def open_store_and_keys(config: Config) -> tuple[Stores, Keyring]:
    """The stores, brought up to date, and the keyring that opens them."""
    stores = await open_stores(config.store_url, pool_size=config.store.pool_size)
    try:
        return stores, await open_keyring(config, stores.keys)
    except BaseException:
        await stores.close()
        raise


async def open_core(config: Config, clock: Clock | None = None) -> Core:
    clock = clock or SystemClock()
    stores, keyring = await open_store_and_keys(config)
    auth = config.auth
    hasher = password_hasher(auth)
    events = PostgresEvents(config.store_url) if stores.db.dialect == "postgres" else Events()
    domain = config.smtp.relay_domain
    composer = Composer(domain)
    outbox = Outbox(stores.outbox, keyring, clock, events)
    account_mail = AccountMail(composer, outbox, clock, relay_domain=domain,
                               public_url=config.public_url)
    members = Members(stores.members, stores.throttles, stores.accounts, stores.correspondents,
                      keyring, hasher, clock, auth, domain)
    signup = Signup(stores.members, stores.accounts, keyring, members, account_mail, outbox,
                    clock, auth)
    recovery = Recovery(stores.members, stores.accounts, keyring, members, hasher, account_mail,
                        outbox, clock, auth)
    tokens = Tokens(stores.tokens, clock, default_lifetime=auth.token_lifetime_days * 86400)
    sessions = Sessions(stores.sessions, keyring, members, signup, clock, auth)
    webhooks = Webhooks(stores.webhooks, keyring, outbox, clock)
    notifications = Notifications(stores.members, stores.notifications, keyring, outbox,
                                  composer, clock, relay_domain=domain,
                                  public_url=config.public_url, webhooks=webhooks,
                                  account_mail=account_mail)
    addresses = AddressChanges(stores.members, stores.accounts, keyring, members,
                               account_mail, outbox, clock)
    account = Account(stores.accounts, members, addresses, sessions, tokens, notifications,
                      hasher, auth)
    conduct = Conduct(stores.conduct, stores.moderation, stores.members, stores.mailbox,
                      stores.correspondents, keyring, clock, config.limits)
    uploads = Uploads(stores.uploads, clock, max_bytes=config.messages.max_attachment_bytes)
    sending = Sending(stores.mailbox, stores.members, stores.correspondents, keyring,
                      notifications, conduct, uploads, events, clock, config.messages)
    reading = Reading(stores.mailbox, stores.members, keyring, members, uploads,
                      config.messages)
    reader, inbound = open_inbound(config, stores, keyring, clock, members, sending,
                                   notifications, conduct)
    return Core(stores=stores, keyring=keyring, hasher=hasher, events=events, outbox=outbox,
                members=members, tokens=tokens, sending=sending, reading=reading,
                uploads=uploads, export=MailboxExport(reading, ArchiveComposer()),
                writing=Writing(stores.writing, stores.members, keyring, clock,
                                max_body_bytes=config.messages.max_body_bytes),
                addresses=addresses, sessions=sessions, signup=signup, recovery=recovery,
                account=account, notifications=notifications, webhooks=webhooks,
                inbound=inbound, reader=reader, conduct=conduct,
                market=open_marketplace(config, stores, keyring, events, clock, members,
                                        reading),
                health=Health(stores.ping, stores.outbox.backlog, clock))


def open_inbound(config: Config, stores: Stores, keyring: Keyring, clock: Clock,
                 members: Members, sending: Sending, notifications: Notifications,
                 conduct: Conduct) -> tuple[MailReader, Inbound]:
    """The services mail arriving at the gateway goes through, and the worker pool that
    reads it."""
    smtp = config.smtp
    reader = MailReader(max_text_chars=TEXT_CAP_FACTOR * config.messages.max_body_bytes,
                        trusted_authserv_id=smtp.trusted_authserv_id.strip(),
                        our_domain=smtp.relay_domain)
    member_mail = MemberMail(stores.members, stores.mailbox, keyring, members, sending,
                             notifications, reader, relay_domain=smtp.relay_domain,
                             require_dmarc_pass=smtp.require_dmarc_pass)
    outside_mail = OutsideMail(stores.correspondents, stores.mailbox, keyring, members,
                               sending, conduct, clock, reader, relay_domain=smtp.relay_domain)
    return reader, Inbound(stores.members, members, notifications, member_mail, outside_mail,
                           relay_domain=smtp.relay_domain,
                           messages_per_minute=smtp.max_messages_per_minute)


def mail_transport(config: Config) -> MailTransport:
    relay = config.relay
    if not relay.smarthost:
        return MaildirTransport(config.maildir_path)
    host, _, port = relay.smarthost.rpartition(":")
    return SmtpTransport(host, int(port), username=relay.username,
                         password=relay.password.reveal(), tls=relay.tls)


def _api(config: Config, core: Core) -> web.Application:
    """The API door with the services it calls."""
    api = create_api()
    api[CONFIG] = config
    api[MEMBERS] = core.members
    api[TOKENS] = core.tokens
    api[SIGNUP] = core.signup
    api[RECOVERY] = core.recovery
    api[SENDING] = core.sending
    api[READING] = core.reading
    api[WRITING] = core.writing
    api[UPLOADS] = core.uploads
    api[EXPORT] = core.export
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
    app[WRITING] = core.writing
    app[UPLOADS] = core.uploads
    app[EXPORT] = core.export
    app[ADDRESSES] = core.addresses
    app[SESSIONS] = core.sessions
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
    return app


async def _every(seconds: float, job: Callable[[], Awaitable[None]]) -> None:
    """Run a job now and then every `seconds`; a failing run is logged, not fatal."""
    while True:
        try:
            await job()
        except Exception:
            log.exception("periodic job failed", job=getattr(job, "__qualname__", "?"))
        await asyncio.sleep(seconds)


async def build_app(config: Config, clock: Clock | None = None, *,
                    transport: MailTransport | None = None,
                    smtp_socket: socket.socket | None = None) -> web.Application:
    """The whole server as one aiohttp application; its services and workers run with it."""
    clock = clock or SystemClock()
    core = await open_core(config, clock)
    app = create_app(config, core)
    webhook_sender = AiohttpWebhookSender()
    relay = Relay(core.stores.outbox, core.outbox, transport or mail_transport(config), clock,
                  config.relay, webhooks=webhook_sender,
                  jobs={RESET_JOB: core.recovery.fulfil},
                  on_permanent_failure=core.notifications.on_permanent_failure,
                  render=core.notifications.render)
    smtp = app[SMTP_GATEWAY] = SmtpGateway(core.inbound, core.reader, config.smtp)
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
        core.health.serving(True)
        yield
        core.health.serving(False)
        worker.cancel()
        sweeper.cancel()
        await asyncio.gather(worker, sweeper, return_exceptions=True)
        await smtp.stop()
        await webhook_sender.close()
        await core.close()

    app.cleanup_ctx.append(lifetime)
    return app
