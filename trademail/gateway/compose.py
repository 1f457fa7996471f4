"""Outbound mail built from scratch: an allow-list of headers, text and HTML from one template.

Nothing of an incoming mail is ever copied into an outgoing one; Message-IDs are made on
the relay domain, so no real address or host name can ride along.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import secrets
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime

import idna
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from trademail.errors import InvalidInput
from trademail.mail.headers import DEFAULT, HEADERS, SMTP, our_message_id
from trademail.services.accountmail import AccountMessage
from trademail.services.export import Archived
from trademail.services.identities import Party
from trademail.services.notifications import DirectMail, NotificationMail

# The only headers TradeMail ever writes on outbound mail (MIME ones are set by the email
# package as it lays out the body parts).
ALLOWED_HEADERS = frozenset({
    "from", "to", "reply-to", "subject", "date", "message-id", "in-reply-to", "references",
    "auto-submitted", "x-auto-response-suppress", "list-unsubscribe", "list-unsubscribe-post",
    "list-id", "mime-version", "content-type", "content-transfer-encoding", "feedback-id",
})


# Headers whose value is a URL list: written exactly as made, never as an RFC 2047 encoded
# word (the email package encodes a long token that way, and no client can use it then).
_VERBATIM = frozenset({"list-unsubscribe", "list-unsubscribe-post"})
MAX_LINE = 998  # RFC 5322 section 2.1.1


class _OutboundPolicy(EmailPolicy):
    """policy.SMTP, but URL headers are never encoded: they are ASCII and fit one line.
    A header that is printable ASCII and fits a line as it is needs no folding either,
    and skips the email package's costly refolding (most headers of most mail)."""

    def fold_binary(self, name: str, value: str) -> bytes:
        text = str(value)
        limit = MAX_LINE if name.lower() in _VERBATIM else self.max_line_length or MAX_LINE
        if (text.isascii() and text.isprintable() and "=?" not in text
                and len(name) + 2 + len(text) <= limit):
            return f"{name}: {text}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


OUTBOUND = _OutboundPolicy(linesep="\r\n", header_factory=HEADERS)


# RFC 2045 token characters: what a MIME type and subtype may be made of.
_TOKEN = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]{1,64}")


def _clean(text: str, limit: int = 200) -> str:
    """One header-safe line: no control characters or line separators (U+2028 and the
    like are not printable), bounded, and no RFC 2047 encoded word: the email package
    decodes one it is handed, so "=?utf-8?q?=0D=0ABcc:...?=" typed in a subject or a
    company name would come out as a line break and a header of its own."""
    line = "".join(c if c.isprintable() else " " for c in text).strip()[:limit]
    return line.replace("=?", "= ?")


def _mime_type(content_type: str) -> tuple[str, str]:
    """(maintype, subtype) fit for a header, or application/octet-stream."""
    maintype, _, subtype = content_type.split(";")[0].strip().lower().partition("/")
    if not (_TOKEN.fullmatch(maintype) and _TOKEN.fullmatch(subtype)) \
            or maintype in ("multipart", "message"):
        return "application", "octet-stream"
    return maintype, subtype


def mail_address(addr_spec: str, display_name: str = "") -> Address:
    """An address header value every mail server takes: the domain in punycode (IDNA 2008),
    the local part ASCII. A non-ASCII local part cannot be mailed without SMTPUTF8 all the
    way, so it is refused as InvalidInput (a 422 at the API, a refusal at the gateway)."""
    local, _, domain = addr_spec.strip().rpartition("@")
    if not local or not domain:
        raise InvalidInput.one("to", "is not an address mail can be sent to")
    if not local.isascii() or any(not c.isprintable() for c in local):
        raise InvalidInput.one("to", "this address cannot be answered: its part before the "
                                     "@ is not ASCII")
    try:
        ascii_domain = domain if domain.isascii() else idna.encode(domain, uts46=True).decode()
    except idna.IDNAError:
        raise InvalidInput.one("to", "this address cannot be answered: its domain is not "
                                     "a valid internationalised domain name") from None
    try:
        return Address(display_name, addr_spec=f"{local}@{ascii_domain.lower()}")
    except (ValueError, IndexError, TypeError):
        raise InvalidInput.one("to", "is not an address mail can be sent to") from None


class Composer:
    def __init__(self, relay_domain: str) -> None:
        self._domain = relay_domain
        self._env = Environment(
            loader=PackageLoader("trademail.gateway", "templates"),
            autoescape=select_autoescape(["html"], default_for_string=True),
            undefined=StrictUndefined, keep_trailing_newline=True)

    def _message_id(self, message_id: str) -> str:
        return our_message_id(message_id, secrets.token_hex(6), self._domain)

    def _feedback_id(self, kind: str) -> str:
        """Gmail's feedback loop groups complaints by it (kind, then the sender's id)."""
        return f"{kind}:trademail:{self._domain}"

    def _thread_ref(self, thread_id: str) -> str:
        return f"<thread.{thread_id}@{self._domain}>"

    def _render(self, name: str, **context: object) -> tuple[str, str]:
        text = self._env.get_template(f"{name}.txt").render(**context)
        html = self._env.get_template(f"{name}.html").render(**context)
        return text, html

    def _base(self, now: float, message_id: str, thread_id: str) -> EmailMessage:
        msg = EmailMessage(policy=SMTP)
        msg["Date"] = format_datetime(dt.datetime.fromtimestamp(now, dt.UTC))
        msg["Message-ID"] = self._message_id(message_id)
        msg["References"] = self._thread_ref(thread_id)
        msg["In-Reply-To"] = self._thread_ref(thread_id)
        return msg

    def notification(self, mail: NotificationMail, now: float) -> bytes:
        msg = self._base(now, mail.message_id, mail.thread_id)
        who = _clean(mail.sender_company, 80) or "A TradeMail member"
        if mail.staff_sender:  # no member's name can say this: the reserved-name rule
            who = f"{who} (TradeStaff)"
        elif mail.external_sender and not who.endswith("outside TradeMail"):
            # Nor an outsider's (a name claiming the staff is dropped: see OutsideMail).
            who = f"{who} (outside TradeMail)"
        msg["From"] = Address(f"{who} via TradeMail", addr_spec=f"notifications@{self._domain}")
        msg["To"] = mail_address(mail.to)
        msg["Reply-To"] = Address(f"{who} via TradeMail", addr_spec=mail.reply_to)
        msg["Subject"] = _clean(mail.subject) or f"New TradeMail from {who}"
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        msg["List-Id"] = f"TradeMail notifications <notifications.{self._domain}>"
        msg["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["Feedback-ID"] = self._feedback_id("notification")
        text, html = self._render("notification", mail=mail)
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        return self._finish(msg)

    def direct(self, mail: DirectMail, now: float) -> bytes:
        msg = self._base(now, mail.message_id, mail.thread_id)
        if mail.references:  # the outsider's own ids first: their client threads by them
            msg.replace_header("In-Reply-To", mail.references[-1])
            msg.replace_header("References", " ".join(
                [*mail.references, self._thread_ref(mail.thread_id)]))
        msg["From"] = Address(_clean(mail.from_name, 80), addr_spec=mail.from_alias)
        msg["To"] = mail_address(mail.to)
        msg["Reply-To"] = Address(addr_spec=mail.from_alias)
        msg["Subject"] = _clean(mail.subject) or "(no subject)"
        msg["Feedback-ID"] = self._feedback_id("direct")
        text, html = self._render("direct", mail=mail)
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        for attached in mail.attachments:
            maintype, subtype = _mime_type(attached.content_type)
            msg.add_attachment(attached.data, maintype=maintype, subtype=subtype,
                               filename=_clean(attached.filename, 255) or "attachment")
        return self._finish(msg)

    def account(self, mail: AccountMessage, now: float) -> bytes:
        """A mail about the member's own account (a link to confirm an address or reset a
        password, a warning), in plain text from the relay domain's no-reply address."""
        msg = EmailMessage(policy=SMTP)
        msg["Date"] = format_datetime(dt.datetime.fromtimestamp(now, dt.UTC))
        msg["Message-ID"] = f"<tm.account.{secrets.token_hex(12)}@{self._domain}>"
        msg["From"] = Address("TradeMail", addr_spec=f"noreply@{self._domain}")
        msg["To"] = mail_address(mail.to)
        msg["Subject"] = _clean(mail.subject)
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        msg["Feedback-ID"] = self._feedback_id("account")
        msg.set_content(mail.text)
        return self._finish(msg)

    def _finish(self, msg: EmailMessage) -> bytes:
        extra = {k.lower() for k in msg.keys()} - ALLOWED_HEADERS
        assert not extra, f"header outside the allow-list: {sorted(extra)}"
        return msg.as_bytes(policy=OUTBOUND)


def mbox_entry(archived: Archived) -> bytes:
    """One message as an mbox entry: the "From " line, the mail with lines that begin
    "From " quoted (as Python's mailbox module and Thunderbird read them), a blank line."""
    message = archived.message
    when = dt.datetime.fromtimestamp(message.created_at, dt.UTC)
    out = io.BytesIO()
    out.write(f"From MAILER-DAEMON {when:%a %b %d %H:%M:%S %Y}\n".encode())
    BytesGenerator(out, mangle_from_=True, policy=DEFAULT.clone(linesep="\n")).flatten(
        archived_mail(archived))
    out.write(b"\n")
    return out.getvalue()


class ArchiveComposer:
    """The services' ArchiveWriter: mbox entries, built here like every other mail."""

    def mbox_entry(self, archived: Archived) -> bytes:
        return mbox_entry(archived)


def archived_mail(archived: Archived) -> EmailMessage:
    """A message of a member's mailbox as RFC 5322 mail for an mbox (a lawful request):
    the parties named by company and alias, never by a real address."""
    message = archived.message
    mail = EmailMessage(policy=DEFAULT)
    mail["From"] = _party_address(message.sender)
    if message.recipients:
        mail["To"] = ", ".join(_party_address(p) for p in message.recipients)
    mail["Subject"] = _clean(message.subject, len(message.subject))
    mail["Date"] = format_datetime(dt.datetime.fromtimestamp(message.created_at, dt.UTC))
    mail["X-TradeMail-Message"] = message.id
    mail["X-TradeMail-Thread"] = message.thread_id
    mail["X-TradeMail-Folder"] = message.folder
    mail.set_content(message.body)
    for info, data in archived.attachments:
        maintype, subtype = _mime_type(info.content_type)
        mail.add_attachment(data, maintype=maintype, subtype=subtype,
                            filename=_clean(info.filename, 255) or "attachment")
    return mail


def _party_address(party: Party) -> str:
    name = _clean(party.company or party.username, 80) or "Outside sender"
    return str(Address(name, addr_spec=party.alias or "undisclosed-sender@invalid"))
