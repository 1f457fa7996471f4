"""Configuration: every key, with its type, default, check and documentation, in frozen
sections handed down to whoever needs one (read by `configfile`)."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from trademail import configchecks
from trademail.configchecks import between, domain, hostport, http_url, networks, one_of, store_url
from trademail.secret import Secret


def _key(doc: str, check: Callable[[Any], str | None] | None = None, **kw: Any) -> Any:
    """A config key: its documentation and an optional check returning a problem or None."""
    return field(metadata={"doc": doc, "check": check}, **kw)


@dataclass(frozen=True)
class StoreConfig:
    url: str = _key(
        "Where messages live. Empty: an SQLite file in data_dir. "
        "postgresql://user@host/db selects PostgreSQL.",
        store_url,
        default="",
    )
    pool_size: int = _key("PostgreSQL connections per server process.", between(1, 200),
                          default=10)
    wait_seconds: int = _key(
        "How long a request (or a mail) waits for a PostgreSQL connection while all "
        "pool_size are busy; then it is answered 503 (SMTP 451, tried again later) instead "
        "of holding on.", between(1, 600), default=30)


@dataclass(frozen=True)
class HttpConfig:
    host: str = _key("Address the web inbox and API listen on.", default="127.0.0.1")
    port: int = _key("Port the web inbox and API listen on (0 picks a free one).",
                     between(0, 65535), default=8080)
    trusted_proxies: tuple[str, ...] = _key(
        "Addresses or networks (CIDR) of reverse proxies in front of TradeMail; requests "
        "from them are throttled by the client address they name in X-Forwarded-For.",
        networks, default=())
    metrics_from: tuple[str, ...] = _key(
        "Addresses or networks (CIDR) that may read GET /metrics (Prometheus); everyone "
        "else gets 403.", networks, default=("127.0.0.0/8", "::1/128"))
    header_timeout_seconds: int = _key(
        "A connection must send a request's complete headers within this long of opening "
        "(or of its previous response), else it is closed: slow clients (slowloris) cannot "
        "hold connections, and an idle kept-alive connection closes as long after. Keep it "
        "longer than the idle timeout of a reverse proxy's pooled connections (nginx: 60 "
        "s). Request bodies (uploads over a slow link) are not limited by it.",
        between(1, 3600), default=75)
    public_url: str = _key(
        "The URL members use to reach this server. Empty: http://host:port. "
        "An https URL turns on Secure cookies and HSTS.",
        http_url,
        default="",
    )

    @property
    def metrics_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.metrics_from)


@dataclass(frozen=True)
class CryptoConfig:
    master_key_file: str = _key(
        "File holding the master keys (KEKs): one base64 key a line, the current key "
        "first, then retired keys still needed to unwrap, # comments allowed (a file of "
        "one key is a keyring of one). Empty: master.key in data_dir, created on first "
        "start. Back it up: without it no message can be read. `trademail keys "
        "rotate-master` rewrites it; running servers reload it without a restart.",
        default="",
    )
    master_key: Secret = _key(
        "The master keys themselves, in the key file's format (newline-separated, current "
        "first); usually given as TRADEMAIL_CRYPTO_MASTER_KEY. Read at start only. Takes "
        "precedence over master_key_command and master_key_file.",
        default=Secret(""),
    )
    master_key_command: str = _key(
        "A command whose standard output is the master keys in the key file's format, for "
        "keys that a KMS or a vault hands out (run without a shell, with a 30 s limit, at "
        "start and every key_command_reload_seconds). Takes precedence over "
        "master_key_file.",
        default="",
    )
    key_reload_seconds: int = _key(
        "How often a running server looks whether the master key file changed (a "
        "rotation) and loads its keys; rotate-master waits this long (and a margin) "
        "before it re-wraps anything.", between(1, 3600), default=5)
    key_command_reload_seconds: int = _key(
        "How often a running server runs master_key_command again to pick up a rotated "
        "key; rotate-master waits this long (and a margin) when the keys come from the "
        "command.", between(1, 86400), default=300)


@dataclass(frozen=True)
class AuthConfig:
    idle_timeout_seconds: int = _key("A session ends after this long without a request.",
                                     between(10, 30 * 86400), default=1800)
    absolute_timeout_seconds: int = _key("A session ends this long after sign-in in any case.",
                                         between(60, 365 * 86400), default=43200)
    min_password_length: int = _key(
        "Shortest password accepted (NIST SP 800-63B-4: 15 for a single-factor password).",
        between(8, 256), default=15)
    argon2_time_cost: int = _key("Argon2id iterations.", between(1, 100), default=3)
    argon2_memory_kib: int = _key("Argon2id memory per hash, in KiB.",
                                  between(8, 4 * 1024 * 1024), default=65536)
    argon2_parallelism: int = _key("Argon2id lanes.", between(1, 64), default=4)
    hash_workers: int = _key(
        "Password hashes computed at once (each holds argon2_memory_kib); more wait.",
        between(1, 64), default=2)
    account_free_failures: int = _key(
        "Failed sign-ins on one account before each further try must wait.",
        between(1, 100), default=5)
    account_max_failures: int = _key(
        "Consecutive failed sign-ins after which an account refuses password sign-in "
        "for lockout_seconds (NIST: at most 100).",
        between(1, 100), default=100)
    lockout_seconds: int = _key("How long an account stays locked after account_max_failures.",
                                between(1, 30 * 86400), default=86400)
    device_cookie_days: int = _key(
        "A browser that signed in keeps a device cookie this long: its password tries are "
        "counted apart, so a guesser who slows or locks the account does not lock out its "
        "owner there.", between(1, 366), default=90)
    client_free_failures: int = _key(
        "Failed sign-ins from one client address before it must wait.",
        between(1, 10000), default=30)
    client_free_signups: int = _key(
        "Sign-ups from one client address in a day before each further one must wait.",
        between(1, 100000), default=20)
    max_backoff_seconds: int = _key("Longest wait imposed between failed sign-ins.",
                                    between(1, 86400), default=900)
    signup_confirm_seconds: int = _key(
        "How long the link that confirms a new member's address works.",
        between(600, 30 * 86400), default=48 * 3600)
    password_reset_seconds: int = _key("How long a password reset link works.",
                                       between(300, 86400), default=3600)
    token_lifetime_days: int = _key(
        "Lifetime of an API token made without expires_in (at most 366 days).",
        between(1, 366), default=90)


@dataclass(frozen=True)
class SmtpConfig:
    host: str = _key("Address the inbound SMTP gateway listens on.", default="127.0.0.1")
    port: int = _key("Port of the inbound SMTP gateway (0 picks a free one).",
                     between(0, 65535), default=2525)
    relay_domain: str = _key("Domain of relay aliases and reply addresses.", domain,
                             default="relay.localhost")
    max_message_bytes: int = _key("Largest inbound mail accepted, in bytes (SIZE).",
                                  between(1024, 256 * 1024 * 1024), default=25 * 1024 * 1024)
    tls_cert_file: str = _key("PEM certificate for STARTTLS; with tls_key_file, STARTTLS is "
                              "offered.", default="")
    tls_key_file: str = _key("PEM private key for STARTTLS.", default="")
    require_tls: bool = _key(
        "Take mail only over TLS: before STARTTLS every command but EHLO, NOOP, STARTTLS and "
        "QUIT is answered 530 5.7.0, so no envelope, AUTH or mail goes in clear. Needs "
        "tls_cert_file and tls_key_file.", default=False)
    require_dmarc_pass: bool = _key(
        "Accept a reply by mail only when an upstream Authentication-Results header says "
        "DMARC passed.", default=False)
    trusted_authserv_id: str = _key(
        "The authserv-id of the upstream MTA whose Authentication-Results headers are trusted "
        "(RFC 8601; that MTA must remove headers claiming its id from incoming mail). Any "
        "other Authentication-Results header is ignored. Mail to an alias from a member's "
        "address is theirs only when DMARC passed by its word. Empty: none is trusted, and "
        "the gateway's own checks give the verdict (check_senders); with those off too, all "
        "mail to aliases is outside mail, and with require_dmarc_pass on every reply by "
        "mail is refused (a warning is logged at start).",
        default="")
    check_senders: bool = _key(
        "With trusted_authserv_id empty, the gateway checks SPF (client IP, HELO, MAIL FROM), "
        "DKIM and DMARC itself and takes its verdict as an upstream's: require_dmarc_pass "
        "and mail to an alias from a member use it, and a reply by mail that fails DMARC "
        "from a domain publishing p=reject is refused. Off: no verdict without an upstream.",
        default=True)
    dns_server: str = _key("host:port of the name server the gateway's own sender checks ask "
                           "(SPF, DKIM keys, DMARC policies). Empty: the system's resolvers.",
                           hostport, default="")
    dns_timeout_seconds: int = _key(
        "How long one DNS look-up of the sender checks may take; a mail whose look-up does "
        "not answer in time is deferred (451 4.4.3), and its sender tries again.",
        between(1, 60), default=5)
    max_connections_per_client: int = _key("Open SMTP connections one client address may hold "
                                           "(in each server process).",
                                           between(1, 1000), default=10)
    max_connections: int = _key(
        "Open SMTP connections in each server process, from all clients together; one more "
        "is answered 421 and closed. Keep it well under the process's open-file limit (the "
        "HTTP side and the database need files too).", between(1, 100000), default=1000)
    timeout_seconds: int = _key(
        "A client that has not completed a command (or, after DATA, the whole message) "
        "this long after its previous command is disconnected: idle and slow clients "
        "(slowloris) give their connection back. RFC 5321 asks for at least 300 s.",
        between(1, 3600), default=300)
    max_messages_per_minute: int = _key("Messages one client address may send per minute.",
                                        between(1, 100000), default=60)


@dataclass(frozen=True)
class RelayConfig:
    smarthost: str = _key("host:port of the SMTP server that sends TradeMail's outbound mail. "
                          "Empty: mail is written to a Maildir in data_dir instead.",
                          hostport, default="")
    username: str = _key("User name for the smarthost, if it wants one.", default="")
    password: Secret = _key("Password for the smarthost.", default=Secret(""))
    tls: str = _key("starttls (upgrade when offered, required with a username), tls "
                    "(implicit TLS) or none.", one_of("starttls", "tls", "none"),
                    default="starttls")
    workers: int = _key("Outbox deliveries in flight at once in one server process (each "
                        "a connection to the smarthost while it lasts).",
                        between(1, 64), default=8)
    timeout_seconds: int = _key("How long to wait for the smarthost to connect or to answer "
                                "any one command before the attempt counts as a temporary "
                                "failure (tried again later).", between(1, 120), default=60)
    retry_base_seconds: int = _key("First wait after a temporary failure; doubles each time.",
                                   between(1, 86400), default=60)
    retry_max_seconds: int = _key("Longest wait between two attempts.", between(1, 7 * 86400),
                                  default=3600)
    give_up_after_seconds: int = _key("A mail not delivered after this long is given up.",
                                      between(60, 30 * 86400), default=4 * 86400)
    dkim_grace_seconds: int = _key(
        "How long a DKIM key a rotation replaced stays published (no longer signing) before "
        "it is retired: mail it signed is still checked by receivers meanwhile.",
        between(0, 365 * 86400), default=7 * 86400)


@dataclass(frozen=True)
class WebhooksConfig:
    ca_file: str = _key("PEM file of certificate authorities trusted for webhook receivers' "
                        "HTTPS certificates, besides the system's (a company's own CA). Empty: "
                        "the system's only. Deliveries are never made without a valid "
                        "certificate for the URL's host.", default="")


@dataclass(frozen=True)
class MessagesConfig:
    max_recipients: int = _key("Recipients one message may have.", between(1, 1000), default=20)
    max_body_bytes: int = _key("Largest message body, in UTF-8 bytes.",
                               between(1024, 64 * 1024 * 1024), default=256 * 1024)
    max_attachments: int = _key("Attachments one message may carry.", between(0, 100), default=10)
    max_attachment_bytes: int = _key("Largest single attachment, in bytes.",
                                     between(1, 1024 * 1024 * 1024), default=10 * 1024 * 1024)
    page_size: int = _key("Messages on one page unless the client asks for another number.",
                          between(1, 200), default=50)


@dataclass(frozen=True)
class LimitsConfig:
    member_messages_per_hour: int = _key(
        "Messages one member may send in an hour (0: no limit).", between(0, 100000),
        default=60)
    member_new_correspondents_per_day: int = _key(
        "Members one member may write to for the first time in a day (0: no limit).",
        between(0, 100000), default=30)
    restricted_messages_per_hour: int = _key(
        "Messages a Restricted member may send in an hour, answers only (0: as anyone).",
        between(0, 100000), default=5)
    restricted_messages_per_day: int = _key(
        "Messages a Restricted member may send in a day, answers only (0: no limit).",
        between(0, 100000), default=10)
    new_account_days: int = _key(
        "Accounts younger than this many days get the new-account limits below.",
        between(0, 365), default=7)
    new_account_messages_per_hour: int = _key(
        "Messages per hour for a young account (0: no limit).", between(0, 100000),
        default=20)
    new_account_new_correspondents_per_day: int = _key(
        "First messages to other members per day for a young account (0: no limit).",
        between(0, 100000), default=10)
    violations_before_restriction: int = _key(
        "Saves with contact details outside the contact section that make a free member "
        "Restricted (0: never automatic).", between(0, 1000), default=3)


@dataclass(frozen=True)
class DirectoryConfig:
    page_size: int = _key("Listings on one directory page.", between(1, 100), default=20)
    max_pages: int = _key(
        "Deepest directory page served; narrow the search to see more (no bulk export).",
        between(1, 1000), default=10)
    contact_views_per_day: int = _key(
        "Contact sections one member may open in a day (0: no limit).", between(0, 100000),
        default=25)
    max_products: int = _key("Products one member may list.", between(1, 10000), default=100)
    max_leads: int = _key("Open trade leads one member may have.", between(1, 10000),
                          default=50)


@dataclass(frozen=True)
class DnsConfig:
    mail_host: str = _key("Host name the relay domain's MX points at (the SMTP gateway's public "
                          "name). Empty: the relay domain itself.", default="")
    sending_hosts: tuple[str, ...] = _key(
        "What SPF allows to send the relay domain's mail: IP addresses or networks of the "
        "smarthost (ip4:/ip6:), or a (the relay domain's address) or mx (its MX hosts).",
        configchecks.spf_hosts, default=("mx",))
    dmarc_rua: str = _key("Address DMARC aggregate reports go to (rua). Empty: none asked for.",
                          configchecks.mail_address, default="")
    tlsrpt_rua: str = _key("Address TLS-RPT reports go to. Empty: no TLS-RPT record.",
                           configchecks.mail_address, default="")
    mta_sts_mode: str = _key("MTA-STS policy mode: testing to start (failures only reported), "
                             "enforce once reports are clean, or none to withdraw it.",
                             one_of("testing", "enforce", "none"), default="testing")
    ttl: int = _key("TTL of the printed records, in seconds.", between(60, 604800),
                    default=3600)
    nameserver: str = _key("IP-address:port of the name server `trademail dns --check` asks. "
                           "Empty: the system's resolvers.", configchecks.nameserver, default="")
    check_timeout_seconds: int = _key("How long `--check` waits for the name server.",
                                      between(1, 60), default=5)


@dataclass(frozen=True)
class SpamConfig:
    rspamd_url: str = _key(
        "Base URL of Rspamd's normal worker (its /checkv2 scores each mail to an alias before "
        "it is accepted), e.g. http://127.0.0.1:11333. Empty: spam is not filtered.",
        http_url, default="")
    controller_url: str = _key(
        "Base URL of Rspamd's controller (its /learnham and /learnspam are trained by the "
        "members' \"Not spam\" and \"Spam\" buttons), e.g. http://127.0.0.1:11334. Empty: "
        "the buttons move the message only.", http_url,
        default="")
    controller_password: Secret = _key(
        "Password of Rspamd's controller, when it asks for one (none from its secure_ip).",
        default=Secret(""))
    reject_score: int = _key("Rspamd score at or above which a mail is refused (550).",
                             between(-1000, 1000), default=15)
    spam_score: int = _key(
        "Score at or above which (and below reject_score) a mail goes to the member's Spam "
        "folder, and nobody is told.", between(-1000, 1000), default=6)
    timeout_seconds: int = _key(
        "How long a mail waits for Rspamd's answer; then it is answered 451 (tried again).",
        between(1, 120), default=10)


@dataclass(frozen=True)
class LogConfig:
    level: str = _key("Lowest level logged.", one_of("debug", "info", "warning", "error"),
                      default="info")
    format: str = _key("console for people, json for log collectors.", one_of("console", "json"),
                       default="console")


@dataclass(frozen=True)
class Config:
    data_dir: str = _key("Directory for the SQLite file and the generated master key.",
                         default="./var")
    store: StoreConfig = field(default_factory=StoreConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    crypto: CryptoConfig = field(default_factory=CryptoConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    relay: RelayConfig = field(default_factory=RelayConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    messages: MessagesConfig = field(default_factory=MessagesConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    directory: DirectoryConfig = field(default_factory=DirectoryConfig)
    dns: DnsConfig = field(default_factory=DnsConfig)
    spam: SpamConfig = field(default_factory=SpamConfig)
    log: LogConfig = field(default_factory=LogConfig)

    # Derived values: every door reads these rather than re-deriving them.
    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{Path(self.data_dir) / 'trademail.sqlite3'}"

    @property
    def master_key_path(self) -> Path:
        return Path(self.crypto.master_key_file or Path(self.data_dir) / "master.key")

    @property
    def public_url(self) -> str:
        return (self.http.public_url or f"http://{self.http.host}:{self.http.port}").rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def maildir_path(self) -> Path:
        """Where outbound mail goes when no smarthost is set."""
        return Path(self.data_dir) / "outbound-mail"


SECTIONS = [f for f in fields(Config) if dataclasses.is_dataclass(f.default_factory)]  # type: ignore[arg-type]
TOP_LEVEL = [f for f in fields(Config) if f not in SECTIONS]
