"""The services and stores everything runs on, built from config: the first half of the
composition root (`app.py` puts the doors on them; the command line opens them alone)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import dns.asyncresolver
import dns.resolver

from trademail.clock import Clock, SystemClock
from trademail.config import AuthConfig, Config
from trademail.crypto import Keyring, PasswordHasher
from trademail.crypto.factors import RelyingParty
from trademail.events import Events, PostgresEvents
from trademail.gateway.compose import ArchiveComposer, Composer
from trademail.gateway.rspamd import RspamdClient
from trademail.keysource import MasterKeySource
from trademail.mail.parse import TEXT_CAP_FACTOR
from trademail.mail.reader import MailReader
from trademail.services.account import Account
from trademail.services.accountmail import AccountMail
from trademail.services.addresses import AddressChanges
from trademail.services.audit import Audit
from trademail.services.conduct import Conduct
from trademail.services.delivery import Outbox
from trademail.services.directory import Directory
from trademail.services.dkim import Dkim
from trademail.services.erasure import Erasure
from trademail.services.export import MailboxExport
from trademail.services.factors import SecondFactors
from trademail.services.health import Health
from trademail.services.inbound import Inbound
from trademail.services.listings import Listings
from trademail.services.membermail import MemberMail
from trademail.services.members import Members
from trademail.services.moderation import Moderation
from trademail.services.notifications import Notifications
from trademail.services.operator import Operator
from trademail.services.outsidemail import OutsideMail
from trademail.services.reading import Reading
from trademail.services.recovery import Recovery
from trademail.services.sending import Sending
from trademail.services.sessions import Sessions
from trademail.services.signup import Signup
from trademail.services.spam import SpamFilter, SpamMarks, SpamPolicy
from trademail.services.tokens import Tokens
from trademail.services.uploads import Uploads
from trademail.services.webhooks import Webhooks
from trademail.services.writing import Writing
from trademail.store import KeyStore, Stores, open_stores


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
    factors: SecondFactors
    erasure: Erasure
    audit: Audit
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
    dkim: Dkim
    spam_marks: SpamMarks
    spam: RspamdClient | None = None  # the spam filter, when [spam] names one

    async def close(self) -> None:
        if self.spam is not None:
            await self.spam.close()
        self.hasher.close()
        self.reader.close()
        await self.events.close()
        await self.stores.close()


async def open_keyring(config: Config, store: KeyStore, *,
                       source: MasterKeySource | None = None) -> Keyring:
    """Load the master keys and unwrap the system keys; a wrong key fails before any write.
    The keyring reads the key file again when it meets a master key id it does not hold
    (a rotation wrote a new key a moment ago)."""
    source = source or MasterKeySource(config)
    wrapped = await store.system_keys()
    masters = await source.load(allow_create=not wrapped)
    if wrapped:
        return Keyring.open(masters, wrapped, on_missing=source.look_again)
    keyring, fresh = Keyring.create(masters, on_missing=source.look_again)
    stored = await store.init_system_keys(fresh)
    return keyring if stored == fresh else Keyring.open(masters, stored,
                                                        on_missing=source.look_again)


def password_hasher(auth: AuthConfig) -> PasswordHasher:
    return PasswordHasher(time_cost=auth.argon2_time_cost, memory_kib=auth.argon2_memory_kib,
                          parallelism=auth.argon2_parallelism, workers=auth.hash_workers)


async def open_store_and_keys(config: Config) -> tuple[Stores, Keyring]:
    """The stores, brought up to date, and the keyring that opens them."""
    stores = await open_stores(config.store_url, pool_size=config.store.pool_size,
                               wait_seconds=config.store.wait_seconds)
    try:
        keyring = await open_keyring(config, stores.keys)
        return stores.keyed(keyring.audit_mac), keyring
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
    audit = Audit(stores.audit, stores.members, keyring, clock)
    members = Members(stores.members, stores.throttles, stores.accounts, stores.correspondents,
                      keyring, hasher, clock, auth, domain, audit)
    signup = Signup(stores.members, stores.accounts, keyring, members, account_mail, outbox,
                    clock, auth)
    recovery = Recovery(stores.members, stores.accounts, keyring, members, hasher, account_mail,
                        outbox, clock, auth, audit)
    tokens = Tokens(stores.tokens, clock, audit, default_lifetime=auth.token_lifetime_days * 86400)
    factors = SecondFactors(stores.factors, keyring, members, clock, relying_party(config),
                            audit)
    sessions = Sessions(stores.sessions, keyring, members, signup, factors, clock, auth, audit)
    webhooks = Webhooks(stores.webhooks, keyring, outbox, clock)
    notifications = Notifications(stores.members, stores.notifications, keyring, outbox,
                                  composer, clock, relay_domain=domain,
                                  public_url=config.public_url, webhooks=webhooks,
                                  account_mail=account_mail)
    addresses = AddressChanges(stores.members, stores.accounts, keyring, members, factors,
                               account_mail, outbox, clock, audit)
    account = Account(stores.accounts, members, addresses, sessions, tokens, notifications,
                      factors, hasher, auth, audit)
    conduct, uploads, sending, reading = open_mail(config, stores, keyring, clock, events,
                                                   members, notifications)
    reader, inbound = open_inbound(config, stores, keyring, clock, members, sending,
                                   notifications, conduct, spam := spam_filter(config))
    dkim = await open_dkim(config, stores, keyring, clock)
    return Core(stores=stores, keyring=keyring, hasher=hasher, events=events, outbox=outbox,
                members=members, tokens=tokens, sending=sending, reading=reading,
                uploads=uploads, export=MailboxExport(reading, ArchiveComposer(), audit),
                writing=Writing(stores.writing, stores.members, keyring, clock,
                                max_body_bytes=config.messages.max_body_bytes),
                addresses=addresses, sessions=sessions, signup=signup, recovery=recovery,
                factors=factors, audit=audit,
                erasure=Erasure(stores.erasure, members, factors, keyring, outbox, clock),
                account=account, notifications=notifications, webhooks=webhooks,
                inbound=inbound, reader=reader, conduct=conduct,
                market=open_marketplace(config, stores, keyring, events, clock, members,
                                        reading),
                health=Health(stores.ping, stores.outbox.backlog, clock), dkim=dkim,
                spam=spam, spam_marks=SpamMarks(reading, spam))


async def open_dkim(config: Config, stores: Stores, keyring: Keyring, clock: Clock) -> Dkim:
    """DKIM signing of outgoing mail, with its first key pair made at the first start."""
    dkim = Dkim(stores.dkim, keyring, clock, relay_domain=config.smtp.relay_domain,
                grace_seconds=config.relay.dkim_grace_seconds, resolver=dns_resolver(config))
    await dkim.ensure_keys()
    return dkim


def dns_resolver(config: Config) -> dns.asyncresolver.Resolver | None:
    """The resolver that sees what DNS publishes (DKIM rotation, `trademail dns --check`):
    the name server [dns] nameserver names, or the system's (None when it names none);
    each look-up waits [dns] check_timeout_seconds at most."""
    host, _, port = config.dns.nameserver.rpartition(":")  # an IP address: a config check
    if host:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [host.strip("[]")]
        resolver.port = int(port)
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            return None
    resolver.lifetime = resolver.timeout = float(config.dns.check_timeout_seconds)
    return resolver


def open_mail(config: Config, stores: Stores, keyring: Keyring, clock: Clock, events: Events,
              members: Members, notifications: Notifications,
              ) -> tuple[Conduct, Uploads, Sending, Reading]:
    """The services of the mailbox: who may write to whom, files, sending and reading."""
    conduct = Conduct(stores.conduct, stores.moderation, stores.members, stores.mailbox,
                      stores.correspondents, keyring, clock, config.limits)
    uploads = Uploads(stores.uploads, clock, max_bytes=config.messages.max_attachment_bytes)
    sending = Sending(stores.mailbox, stores.members, stores.correspondents, keyring,
                      notifications, conduct, uploads, events, clock, config.messages)
    reading = Reading(stores.mailbox, stores.members, keyring, members, uploads,
                      config.messages)
    return conduct, uploads, sending, reading


def relying_party(config: Config) -> RelyingParty | None:
    """This server as passkeys know it: the domain of its public URL (WebAuthn refuses an
    IP address, so a server reached by one offers no passkeys)."""
    host = urlsplit(config.public_url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return RelyingParty(host, "TradeMail", config.public_url) if host else None
    return None


def spam_filter(config: Config) -> RspamdClient | None:
    """The spam filter [spam] names, or None: mail is then not scored."""
    return RspamdClient(config.spam) if config.spam.rspamd_url else None


def open_inbound(config: Config, stores: Stores, keyring: Keyring, clock: Clock,
                 members: Members, sending: Sending, notifications: Notifications,
                 conduct: Conduct, spam: SpamFilter | None = None) -> tuple[MailReader, Inbound]:
    """The services mail arriving at the gateway goes through, and the worker pool that
    reads it; `spam` scores mail to aliases, when a filter is configured."""
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
                           messages_per_minute=smtp.max_messages_per_minute,
                           spam_filter=spam, spam_policy=SpamPolicy(
                               reject_score=config.spam.reject_score,
                               spam_score=config.spam.spam_score))
