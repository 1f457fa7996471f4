"""Reading one incoming mail, in a worker process (see `reader`): the raw bytes bounded
before CPython's parser sees them (it is not linear on some headers), then what the inbound
service needs of the mail as plain data: its text, its addresses, the word of the trusted
upstream on DMARC, and what a bounce says went wrong.
"""

from __future__ import annotations

import itertools
import logging
import re
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses

import authres
from flufl.bounce import all_failures

from trademail.errors import InvalidInput, MailRefused, TooLarge
from trademail.mail.extract import MAX_PARTS, extract, header, lenient_text, raw_values
from trademail.mail.headers import DEFAULT, message_answered, reusable_message_id
from trademail.services.bounces import status_in, worst
from trademail.services.incoming import Extracted, ReadMail

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 500
# CPython's address parser is quadratic in the length of some address fields ("a"a"a…),
# and its parameter parser in the length of some Content-Type fields: both are bounded on
# the raw bytes, before the parser sees them.
MAX_ADDRESS_FIELD_BYTES = 4 * 1024
ADDRESS_FIELDS = frozenset({b"from", b"reply-to", b"to", b"cc", b"sender"})
MAX_MIME_FIELD_BYTES = 2 * 1024
BOUNCE_SCAN_BYTES = 256 * 1024  # what flufl.bounce's line-by-line heuristics are given
# Every MIME part starts at a line "--boundary". Parts with no header at all escape the
# count of MIME fields, and CPython's parser holds each one in memory (hundreds of bytes a
# part, whatever the mail says): the lines that could start one are counted too, wherever
# a line may start (the parser ends lines at a bare CR as well).
MAX_DELIMITER_LINES = 20 * MAX_PARTS
# A flufl.bounce detector that fails on a hostile bounce logs a traceback, and the others
# read it all the same: nothing to tell the operator.
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)
# How many times max_body_bytes of text one part may hold before it is cut, unread: enough
# for quoted history and HTML markup around a body that fits.
TEXT_CAP_FACTOR = 4
_ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc")


def _field_end(raw: bytes, start: int, limit: int) -> int:
    """Where the header field starting at `start` ends (its folded lines included), looking
    no further than `limit` bytes: -1 when it is longer."""
    pos = start
    stop = min(len(raw), start + limit + 1)
    while True:
        newline = raw.find(b"\n", pos, stop)
        if newline < 0:
            return len(raw) if stop == len(raw) else -1
        if raw[newline + 1:newline + 2] not in (b" ", b"\t"):
            return newline + 1
        pos = newline + 1


def _any_case(word: bytes) -> bytes:
    """A pattern for `word` in any case, letter by letter: unlike re.I, it leaves the
    pattern's leading newline a literal the engine can look for fast."""
    return b"".join(b"[%c%c]" % (c, c ^ 0x20) if chr(c).isalpha() else re.escape(bytes([c]))
                    for c in word)


# A line starting a MIME field, searched over the whole mail: no repeat in it, so it
# cannot backtrack. (The first line of the mail is looked at apart.)
_MIME_FIELD = re.compile(rb"\n" + _any_case(b"content-") + rb"(?:" + _any_case(b"type") + rb"|"
                         + _any_case(b"disposition") + rb")")
_FIRST_MIME_FIELD = re.compile(rb"content-(?:type|disposition)", re.I)


def check_raw(raw: bytes) -> None:
    """Refuse, on the raw bytes and before any parser runs, mail whose header section is
    huge or has absurdly many fields, whose address fields are long, or whose MIME fields
    (in any part) are long or too many. Linear: each byte is looked at a bounded number of
    times."""
    end = raw.find(b"\r\n\r\n")
    end = raw.find(b"\n\n") if end < 0 else end
    head = raw if end < 0 else raw[:end]
    if len(head) > MAX_HEADER_BYTES:
        raise TooLarge.one("headers", f"the header section is larger than "
                                      f"{MAX_HEADER_BYTES} bytes")
    lines = head.split(b"\n")
    fields = sum(1 for line in lines if line[:1] not in (b" ", b"\t", b""))
    if fields > MAX_HEADERS:
        raise TooLarge.one("headers", f"more than {MAX_HEADERS} header fields")
    name, size = b"", 0
    for line in [*lines, b""]:
        if line[:1] in (b" ", b"\t"):
            size += len(line) + 1
            continue
        if name in ADDRESS_FIELDS and size > MAX_ADDRESS_FIELD_BYTES:
            raise TooLarge.one("headers", f"an address field ({name.decode().title()}) is "
                                          f"longer than {MAX_ADDRESS_FIELD_BYTES} bytes")
        name, size = line.partition(b":")[0].strip().lower(), len(line) + 1
    first = [0] if _FIRST_MIME_FIELD.match(raw) else []
    starts = itertools.chain(first, (m.start() + 1 for m in _MIME_FIELD.finditer(raw)))
    for count, start in enumerate(starts, start=1):
        if count > 2 * MAX_PARTS + 2:
            raise InvalidInput.one("message", f"more than {MAX_PARTS} MIME parts")
        if _field_end(raw, start, MAX_MIME_FIELD_BYTES) < 0:
            raise TooLarge.one("headers", f"a MIME header field is longer than "
                                          f"{MAX_MIME_FIELD_BYTES} bytes")
    # Lines that could start a part: after a LF, after a bare CR, or the mail's first.
    if raw.count(b"\n--") + raw.count(b"\r--") + raw.startswith(b"--") > MAX_DELIMITER_LINES:
        raise InvalidInput.one("message", f"more than {MAX_PARTS} MIME parts")


def _claimed_authserv_id(value: str) -> str:
    """The authserv-id a header value claims, read leniently (for one authres cannot parse):
    its first word before the first ";", comments (nested too) taken out. Linear."""
    depth, kept = 0, []
    for char in value:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif depth == 0:
            if char == ";":
                break
            kept.append(char)
    words = "".join(kept).split()
    return words[0].lower() if words else ""


def _dmarc_verdicts(value: str, trusted: str) -> set[tuple[str, str]] | None:
    """What one Authentication-Results header says of DMARC, as (result, From domain)
    pairs; None when it is not the trusted upstream's; {("unreadable", "")} when it claims
    the trusted id but cannot be read."""
    try:
        parsed = authres.AuthenticationResultsHeader.parse_value(value)
    except Exception:  # authres raises its own tree and plain errors on garbage
        return {("unreadable", "")} if _claimed_authserv_id(value) == trusted else None
    if str(parsed.authserv_id or "").lower() != trusted:
        return None
    return {(str(r.result).lower(), str(next((p.value for p in r.properties
                                              if p.type == "header" and p.name == "from"),
                                             "")).lower())
            for r in parsed.results if r.method == "dmarc"}


def dmarc_pass(results: list[str], trusted_authserv_id: str) -> str:
    """The From domain for which the Authentication-Results our own upstream added
    (its authserv-id is `trusted_authserv_id`; RFC 8601 section 5: any other is ignored, for
    the sender may have written it) says DMARC passed; "" when none does. Every header
    claiming the trusted id is the upstream's (it removes such headers from incoming mail),
    and it may write several (a DKIM milter's above a DMARC one's): together they must give
    one DMARC verdict, a pass. Unsure is no pass: one of them unreadable, or two verdicts.
    With no trusted id, none counts."""
    trusted = trusted_authserv_id.strip().lower()
    if not trusted:
        return ""
    verdicts: set[tuple[str, str]] = set()
    for value in results:
        verdicts |= _dmarc_verdicts(value, trusted) or set()
    if len(verdicts) != 1:
        return ""
    ((result, domain),) = verdicts
    return domain if result == "pass" else ""


def bounce_status(message: EmailMessage, raw: bytes) -> str:
    """The status a bounce reports: from the per-recipient Status fields of its
    message/delivery-status part (the worst one). A bounce without one (flufl.bounce
    knows the older formats, from the first BOUNCE_SCAN_BYTES: its heuristics read every
    line, and the report comes before the mail it returns) gives "5.0.0" (failed, cause
    unknown) or "4.0.0" (delayed): its free text may quote the bounced mail, words an
    outsider chose, so no code is read from it. "" when it is not a bounce at all."""
    found: list[str] = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks if isinstance(blocks, list) else []:
            if isinstance(block, Message) and (status := status_in(str(block.get("Status",
                                                                                  "")))):
                found.append(status)
    if found:
        return worst(found)
    if len(raw) > BOUNCE_SCAN_BYTES:
        message = _parse(raw[:BOUNCE_SCAN_BYTES])
    temporary, permanent = all_failures(message)
    if permanent:
        return "5.0.0"
    return "4.0.0" if temporary else ""


def _parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=DEFAULT).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _addresses(message: EmailMessage, name: str) -> tuple[tuple[str, str], ...]:
    try:
        pairs = getaddresses([str(v) for v in message.get_all(name) or []])
    except Exception:  # a display name the email package refuses (a line break in it)
        # Parsed as written, each name decoded after: an encoded word never adds an address.
        pairs = [(" ".join(lenient_text(n).split()), a)
                 for n, a in getaddresses(raw_values(message, name))]
    return tuple((n, a) for n, a in pairs if a and a.isprintable())


def is_automatic(message: EmailMessage) -> bool:
    """RFC 3834 and common practice: auto-replies, lists' mail and reports (bounces, read
    receipts), which nobody is ever mailed about."""
    auto = header(message, "Auto-Submitted").lower()
    return (bool(auto and auto != "no")
            or header(message, "Precedence").lower() in ("bulk", "junk", "list", "auto_reply")
            or bool(header(message, "X-Autoreply") or header(message, "X-Autorespond"))
            or message.get_content_type() == "multipart/report")


def read_mail(raw: bytes, *, max_text_chars: int, bounce: bool = False,
              trusted_authserv_id: str = "", our_domain: str = "") -> ReadMail:
    """Check, parse and read one mail. Raises TooLarge or InvalidInput for mail over the
    header limits and MailRefused for headers the parser cannot read (RecursionError on
    "((((…" among them); never anything else. `our_domain` is the relay domain, whose
    Message-IDs say which message of ours a mail answers."""
    check_raw(raw)
    try:
        message = _parse(raw)
        addresses = {name: _addresses(message, name) for name in _ADDRESS_FIELDS}
        results = [str(v) for v in message.get_all("Authentication-Results") or []]
        received = len(message.get_all("Received") or [])
        automatic = is_automatic(message)
    except Exception:  # the parser's whole range of failures on hostile headers
        raise MailRefused("unreadable") from None
    message_id = header(message, "Message-ID")
    references = header(message, "In-Reply-To") + " " + header(message, "References")
    text: Extracted | None = None
    problem = ""
    try:
        text = extract(message, max_text_chars=max_text_chars)
    except InvalidInput as exc:
        problem = "; ".join(p.message for p in exc.problems)
    status = ""
    if bounce:
        try:
            status = bounce_status(message, raw)
        except Exception:  # a detector choking on hostile input is no reason to fail
            status = ""
    return ReadMail(received, addresses, text, problem, message_id=message_id,
                    reply_ref=reusable_message_id(message_id),
                    answers=message_answered(references, our_domain) if our_domain else "",
                    automatic=automatic, bounce_status=status,
                    dmarc_pass=dmarc_pass(results, trusted_authserv_id))
