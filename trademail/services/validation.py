"""Rules for what members may type: usernames, passwords, addresses, names, subjects."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from email_validator import EmailNotValidError, validate_email
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from trademail.errors import InvalidInput, TooLarge

USERNAME = re.compile(r"^[a-z0-9._-]{3,32}$")
MAX_PASSWORD_LENGTH = 256
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WORD = re.compile(r"\w+")


def _text(value: object, field: str) -> str:
    """A string that can be stored and hashed: encodable as UTF-8, with no NUL."""
    if not isinstance(value, str):
        raise InvalidInput.one(field, "must be a string")
    if "\x00" in value or not _encodable(value):
        raise InvalidInput.one(field, "must be valid Unicode text without NUL characters")
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, which JSON's \ud800 escapes let in
        return False
    return True


def plain_text(value: object, field: str) -> str:
    """Any string a door may pass on to a store or a hash, checked as `_text` does."""
    return _text(value, field)


def username(value: object, field: str = "username") -> str:
    name = _text(value, field).strip().lower()
    if not USERNAME.match(name):
        raise InvalidInput.one(field, "must be 3 to 32 characters of a-z, 0-9, '.', '_' or '-'")
    return name


@cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships the 30,000 most common passwords, most common first.
    return frozenset(FREQUENCY_LISTS["passwords"])


def password(value: object, *, min_length: int, context: tuple[str, ...] = (),
             field: str = "password") -> str:
    """NIST SP 800-63B-4: length and a block-list, no composition rules. Returns NFKC form."""
    candidate = unicodedata.normalize("NFKC", _text(value, field))
    if len(candidate) < min_length:
        raise InvalidInput.one(field, f"must be at least {min_length} characters long")
    if len(candidate) > MAX_PASSWORD_LENGTH:
        raise InvalidInput.one(field, f"must be at most {MAX_PASSWORD_LENGTH} characters long")
    folded = candidate.casefold()
    # Context shorter than four characters (a one-letter mailbox, say) would refuse half
    # of all passwords, so only longer names count.
    if folded in _common_passwords() or any(
            len(c) >= 4 and c.casefold() in folded for c in context):
        raise InvalidInput.one(field, "is too easy to guess: it is a common password or "
                                      "contains your username or address")
    # zxcvbn catches repeats, sequences and dictionary phrases; its cost grows with length.
    if zxcvbn(candidate[:64], user_inputs=list(context))["score"] < 3:
        raise InvalidInput.one(field, "is too easy to guess: try a few unrelated words")
    return candidate


def email(value: object, field: str = "email") -> str:
    """A deliverable-looking address in normal, all-ASCII form: the domain lower-cased and
    in punycode, so every mail server can be given it (no SMTPUTF8 local parts)."""
    text = _text(value, field).strip()
    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        reason = str(exc).rstrip(".")
        raise InvalidInput.one(field, "enter an address like name@company.com "
                               f"({reason[:1].lower()}{reason[1:]})") from None
    return checked.ascii_email or checked.normalized


def email_lookup_form(address: str) -> str:
    """The form the blind index is keyed on: one address, however it is capitalised."""
    return address.strip().casefold()


def lookup_form_or_none(address: str) -> str | None:
    """The lookup form of what a mail says is an address; None when it is none."""
    try:
        return email_lookup_form(email(address))
    except InvalidInput:
        return None


def mask_email(address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}•••@{domain}"


def line(value: object, field: str, *, max_length: int, min_length: int = 1) -> str:
    """One line of text: trimmed, no control characters, within its length."""
    text = unicodedata.normalize("NFC", _text(value, field)).strip()
    if "\n" in text or "\r" in text or _CONTROL.search(text):
        raise InvalidInput.one(field, "must be one line without control characters")
    if not min_length <= len(text) <= max_length:
        raise InvalidInput.one(field, f"must be {min_length} to {max_length} characters")
    return text


def paragraph(value: object, field: str, *, max_length: int, min_length: int = 0) -> str:
    """Text of a few lines (a description): trimmed, no control characters but line
    breaks, within its length in characters."""
    text = unicodedata.normalize("NFC", _text(value, field)).replace("\r\n", "\n").strip()
    if _CONTROL.search(text) or "\r" in text:
        raise InvalidInput.one(field, "must not contain control characters")
    if not min_length <= len(text) <= max_length:
        raise InvalidInput.one(field, f"must be {min_length} to {max_length} characters"
                               if min_length else f"must be at most {max_length} characters")
    return text


def body(value: object, field: str, *, max_bytes: int) -> str:
    text = _text(value, field)
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise TooLarge.one(field, f"must be at most {max_bytes} bytes of UTF-8")
    if _CONTROL.search(text):
        raise InvalidInput.one(field, "must not contain control characters")
    return unicodedata.normalize("NFC", text)


def words(*texts: str, limit: int = 5000) -> set[str]:
    """The distinct normalised words of some texts, as search looks them up."""
    found: set[str] = set()
    for text in texts:
        for word in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
            if 1 < len(word) <= 48:
                found.add(word)
                if len(found) >= limit:
                    return found
    return found


def whole_number(value: object) -> int | None:
    """A JSON number that is a whole number (3 or 3.0, as JSON Schema's integer), else None;
    true and false are no numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
