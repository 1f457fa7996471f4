"""Device cookies: a browser that signed in to an account before keeps its own count of
password tries, so a guesser who holds the account in back-off or locks it does not lock
its owner out (OWASP, "Slow Down Online Guessing Attacks with Device Cookies").

The cookie names the member, when it was given and a random nonce, signed with a key of
the server over those and the member's password hash: it is worthless for another account,
after `device_cookie_days`, and once the password changes. Tries with it count against its
nonce alone; too many failures slow and then lock that cookie, never the account.
"""

from __future__ import annotations

import re

from trademail.clock import Clock
from trademail.config import AuthConfig
from trademail.crypto import Keyring, new_token
from trademail.store import MemberRow

DAY = 86400
_PURPOSE = "device"
_LONGEST = 200
_SECONDS = re.compile(r"[0-9]{1,12}")  # ASCII digits only: str.isdigit takes "²" too


class DeviceCookies:
    def __init__(self, keyring: Keyring, clock: Clock, auth: AuthConfig) -> None:
        self._keyring = keyring
        self._clock = clock
        self._auth = auth

    def issue(self, member: MemberRow) -> str:
        """A new device cookie for `member`, given at a completed sign-in."""
        data = f"{member.id}.{int(self._clock.now())}.{new_token()}"
        return f"{data}.{self._sign(data, member)}"

    def nonce(self, cookie: object, member: MemberRow | None) -> str | None:
        """The cookie's nonce when it is `member`'s, still within its lifetime and signed
        over the password the member has now; None for anything else."""
        if member is None or not isinstance(cookie, str) or len(cookie) > _LONGEST:
            return None
        parts = cookie.split(".")
        if len(parts) != 4 or parts[0] != member.id or not _SECONDS.fullmatch(parts[1]):
            return None
        age = self._clock.now() - int(parts[1])
        if not 0 <= age <= self._auth.device_cookie_days * DAY:
            return None
        data = ".".join(parts[:3])
        if not self._keyring.verify(_PURPOSE, f"{data}.{member.password_hash}", parts[3]):
            return None
        return parts[2]

    def _sign(self, data: str, member: MemberRow) -> str:
        return self._keyring.sign(_PURPOSE, f"{data}.{member.password_hash}")
