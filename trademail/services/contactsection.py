"""A member's contact section: phone, website, postal address and messenger handles, the one
place a free member may give contact details. Sealed under the member's field key; never an
email address (members write to each other through aliases)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import phonenumbers

from trademail.crypto import Keyring
from trademail.errors import FieldProblem, InvalidInput
from trademail.services import validation
from trademail.services.contacts import find_contacts, region_code
from trademail.store import ProfileRow

FIELDS = ("phone", "website", "address", "messengers")
# Anything shaped like an address, whatever its domain: the detector looks for real ones.
_EMAIL_LIKE = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
# How each kind of contact detail the detector finds is named to people.
KIND_LABELS = {"email": "an email address", "phone": "a phone number",
               "url": "a web address", "street_address": "a street address",
               "messenger": "a messenger handle"}
NO_EMAIL = ("may not carry an email address: members write to you through your TradeMail "
            "alias, which is shown with your contact section")


@dataclass(frozen=True)
class Contact:
    phone: str = ""
    website: str = ""
    address: str = ""
    messengers: str = ""

    def __bool__(self) -> bool:
        return any(asdict(self).values())


def contact_of(keyring: Keyring, member_id: str, profile: ProfileRow | None) -> Contact:
    if profile is None or profile.contact_ct is None:
        return Contact()
    values = json.loads(keyring.open_field(member_id, "contact", profile.contact_ct))
    return Contact(**{k: str(values.get(k, "")) for k in FIELDS})


def check_contact(keyring: Keyring, member_id: str, country: str,
                  given: Mapping[object, object]) -> bytes | None:
    """The contact section checked and sealed (None when it is empty)."""
    unknown = sorted(str(k) for k in given if k not in FIELDS)
    if unknown:
        raise InvalidInput.one("contact", f"has no field {', '.join(unknown)}; it takes "
                               f"{', '.join(FIELDS)}")
    problems: list[FieldProblem] = []
    values: dict[str, str] = {}
    checks = {"phone": lambda v: _phone(v, country),
              "website": _website,
              "address": lambda v: validation.paragraph(v, "contact.address", max_length=500),
              "messengers": lambda v: validation.line(v, "contact.messengers", max_length=300,
                                                      min_length=0)}
    for name, check in checks.items():
        try:
            value = given.get(name)
            values[name] = check("" if value is None else value)  # false or 0 is no text
        except InvalidInput as exc:
            problems += exc.problems
            continue
        if _EMAIL_LIKE.search(values[name]) or any(
                f.kind == "email" for f in find_contacts(values[name], country=country)):
            problems.append(FieldProblem(f"contact.{name}", NO_EMAIL))
    if problems:
        raise InvalidInput(*problems)
    contact = Contact(**values)
    if not contact:
        return None
    return keyring.seal_field(member_id, "contact", json.dumps(asdict(contact)))


def _phone(value: object, country: str) -> str:
    text = validation.line(value, "contact.phone", max_length=40, min_length=0)
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, region_code(country) or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise InvalidInput.one("contact.phone", "is not a phone number we can read; give it "
                               "with its country code, such as +49 30 1234567")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _website(value: object) -> str:
    text = validation.line(value, "contact.website", max_length=200, min_length=0)
    if not text:
        return ""
    url = text if "://" in text else f"https://{text}"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # brackets that hold no IPv6 address: "https://[", "https://]x"
        host = ""
    if not host or parts.scheme not in ("http", "https") or "." not in host \
            or "@" in parts.netloc or any(c.isspace() for c in url):
        raise InvalidInput.one("contact.website", "must be a web address such as "
                               "https://example.com")
    return url
