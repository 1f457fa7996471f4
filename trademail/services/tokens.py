"""API tokens: `tm_…` bearer secrets, shown once, stored as a digest, scoped and expiring."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.clock import Clock
from trademail.crypto import new_token, token_digest
from trademail.errors import AuthenticationFailed, Forbidden, InvalidInput, NotFound
from trademail.ids import is_id, new_id
from trademail.services import validation
from trademail.services.audit import SIGNED_IN, TOKEN_CREATED, TOKEN_REVOKED, Audit
from trademail.store import TokenRow, TokenStore

# read and send mail; file and delete it; manage tokens and webhooks
SCOPES = ("messages:read", "messages:send", "messages:write", "account:manage", "listings:write",
          "directory:read")
PREFIX = "tm_"
MAX_LIFETIME_SECONDS = 366 * 86400
_TOUCH_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class TokenInfo:
    """An API token as its owner sees it listed: never its secret."""

    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float | None
    last_used_at: float | None


def _info(row: TokenRow) -> TokenInfo:
    return TokenInfo(row.id, row.name, row.scopes, row.created_at, row.expires_at,
                     row.last_used_at)


@dataclass(frozen=True)
class Caller:
    """Who is asking through the API, and what their token allows."""

    member_id: str
    token_id: str
    scopes: tuple[str, ...]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this token lacks the {scope} scope")


class Tokens:
    def __init__(self, store: TokenStore, clock: Clock, audit: Audit, *,
                 default_lifetime: int) -> None:
        self._audit = audit
        self._store = store
        self._clock = clock
        self._default_lifetime = default_lifetime

    async def issue(self, member_id: str, *, name: object, scopes: object,
                    expires_in: object, signed_in: bool = False) -> tuple[TokenInfo, str]:
        """A new token and its secret; the secret is never stored and cannot be shown again.
        Without `expires_in` it lives for the configured default. `signed_in`: the member
        gave their password to the API for it, which their audit log calls a sign-in."""
        label = validation.line(name if name is not None else "API token", "name",
                                max_length=100)
        if scopes is None:
            scopes = list(SCOPES)
        if (not isinstance(scopes, list) or not scopes
                or not all(isinstance(s, str) and s in SCOPES for s in scopes)):
            raise InvalidInput.one("scopes", f"must be a non-empty list of {', '.join(SCOPES)}")
        now = self._clock.now()
        if expires_in is None:
            expires_in = self._default_lifetime  # no token lives for ever
        seconds = validation.whole_number(expires_in)
        if seconds is None or not 60 <= seconds <= MAX_LIFETIME_SECONDS:
            raise InvalidInput.one("expires_in", "must be whole seconds from 60 to "
                                                 f"{MAX_LIFETIME_SECONDS}")
        expires_at = now + seconds
        secret = new_token(PREFIX)
        token = TokenRow(member_id=member_id, id=new_id(now), name=label,
                         scopes=tuple(s for s in SCOPES if s in scopes), created_at=now,
                         expires_at=expires_at, last_used_at=None)
        await self._store.create_token(token, token_digest(secret))
        if signed_in:
            await self._audit.by_member(member_id, SIGNED_IN, "API")
        await self._audit.by_member(member_id, TOKEN_CREATED,
                                    f"token {token.id}: {', '.join(token.scopes)}")
        return _info(token), secret

    async def authenticate(self, secret: str) -> Caller:
        if not secret.startswith(PREFIX) or len(secret) > 200:
            raise AuthenticationFailed("the bearer token is invalid, expired or revoked")
        token = await self._store.token_by_digest(token_digest(secret))
        now = self._clock.now()
        if token is None or (token.expires_at is not None and now >= token.expires_at):
            raise AuthenticationFailed("the bearer token is invalid, expired or revoked")
        if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY_SECONDS:
            await self._store.touch_token(token.member_id, token.id, now)
        return Caller(token.member_id, token.id, token.scopes)

    async def list(self, member_id: str) -> Sequence[TokenInfo]:
        return [_info(row) for row in await self._store.tokens_of(member_id)]

    async def revoke(self, member_id: str, token_id: str) -> None:
        if not is_id(token_id) or not await self._store.delete_token(member_id, token_id):
            raise NotFound()
        await self._audit.by_member(member_id, TOKEN_REVOKED, f"token {token_id}")
