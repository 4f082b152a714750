"""Bearer tokens: JWTs signed HS256 (shared secret) or RS256 (public key), verified strictly.

The algorithm is chosen by which key is configured, never by the token alone: an HS256 token is checked
only against the HS256 secret and an RS256 token only against the public key (so a public key can never
be used as an HMAC secret, and `alg: none` is refused). Every token must carry sub, iat, exp, iss and
aud; expiry and issue time are checked with a bounded leeway, and exp - iat may not exceed the maximum
lifetime. `sub` is the user's id (a MongoDB ObjectId), `role` is `member` (default) or `admin`, and an
optional `scope` claim holds space-separated scopes.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from app.auth.principal import ANONYMOUS, Principal, Role
from app.common.errors import Unauthenticated
from app.settings import Settings

HS256 = "HS256"
RS256 = "RS256"
REQUIRED_CLAIMS = ("sub", "iat", "exp", "iss", "aud")
_USER_ID = re.compile(r"^[0-9a-f]{24}$")
_BEARER = re.compile(r"^\s*bearer\s+(\S+)\s*$", re.IGNORECASE)
# Kept short: a token is a header value, and anything longer is not one of ours.
TOKEN_MAX_LENGTH = 8192
# Verified tokens a verifier remembers (a few MB at most: TOKEN_MAX_LENGTH bounds each).
VERIFIED_TOKENS_MAX = 4096


class InvalidToken(Unauthenticated):
    """The token was sent but cannot be trusted; `reason` tells clients whether to refresh or re-login."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, extensions={"reason": reason})
        self.reason = reason


class TokenVerifier:
    """Verifies bearer tokens against the configured keys, issuer, audience and clock leeway."""

    def __init__(
        self,
        *,
        hs256_secret: str | None,
        rs256_public_key: str | None,
        issuer: str,
        audience: str,
        leeway_s: int,
        max_ttl_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys: dict[str, Any] = {}
        if hs256_secret:
            self._keys[HS256] = hs256_secret
        if rs256_public_key:
            self._keys[RS256] = load_pem_public_key(rs256_public_key.encode())
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self.max_ttl_s = max_ttl_s
        self._clock = clock
        # Tokens verified before, by their exact text: a client sends the same token on every request, and a
        # signature check and claims decoding cost more than the rest of a cached request. Only tokens that
        # passed every check are kept (a bad one is checked again each time), at most VERIFIED_TOKENS_MAX,
        # least recently used first out; a kept token is still refused once it expires.
        self._verified: OrderedDict[str, Principal] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        return cls(
            hs256_secret=settings.jwt_hs256_secret.get_secret_value() or None,
            rs256_public_key=settings.jwt_rs256_public_key,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_s=settings.jwt_leeway_s,
            max_ttl_s=settings.jwt_max_ttl_s,
        )

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def verify(self, token: str) -> Principal:
        """The principal the token names; InvalidToken (UNAUTHENTICATED) when it cannot be trusted."""
        if not token or len(token) > TOKEN_MAX_LENGTH:
            raise InvalidToken("malformed token", reason="malformed")
        known = self._verified.get(token)
        if known is not None:
            if known.expires_at is not None and self._clock() > known.expires_at.timestamp() + self.leeway_s:
                del self._verified[token]
                raise InvalidToken("token expired", reason="expired")
            self._verified.move_to_end(token)
            return known
        principal = self._verify_signed(token)
        self._verified[token] = principal
        if len(self._verified) > VERIFIED_TOKENS_MAX:
            self._verified.popitem(last=False)
        return principal

    def _verify_signed(self, token: str) -> Principal:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            raise InvalidToken("malformed token", reason="malformed") from None
        key = self._keys.get(algorithm) if isinstance(algorithm, str) else None
        if key is None:
            raise InvalidToken(f"unsupported token algorithm {str(algorithm)[:20]!r}", reason="algorithm")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired", reason="expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("token not valid yet", reason="not_yet_valid") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("token is for another audience", reason="audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("token is from another issuer", reason="issuer") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("invalid token signature", reason="signature") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"token lacks the {exc.claim!r} claim", reason="claims") from None
        except jwt.PyJWTError:
            raise InvalidToken("malformed token", reason="malformed") from None
        return self._principal(claims)

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        subject, role = claims["sub"], claims.get("role", Role.MEMBER.value)
        if not isinstance(subject, str) or not _USER_ID.match(subject):
            raise InvalidToken("token subject is not a user id", reason="claims")
        if role not in {r.value for r in Role}:
            raise InvalidToken("token role must be 'member' or 'admin'", reason="claims")
        issued, expires = claims["iat"], claims["exp"]
        if not isinstance(issued, (int, float)) or not isinstance(expires, (int, float)):
            raise InvalidToken("token times must be numbers", reason="claims")
        if expires - issued > self.max_ttl_s:
            raise InvalidToken(f"token lifetime exceeds {self.max_ttl_s} s", reason="lifetime")
        scope = claims.get("scope", "")
        token_id = claims.get("jti")
        return Principal(
            user_id=subject,
            role=Role(role),
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            expires_at=datetime.fromtimestamp(expires, UTC),
            token_id=token_id if isinstance(token_id, str) else None,
        )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value; None when absent, UNAUTHENTICATED when malformed."""
    if authorization is None or not authorization.strip():
        return None
    match = _BEARER.match(authorization)
    if match is None:
        raise InvalidToken("Authorization must be 'Bearer <token>'", reason="scheme")
    return match.group(1)


def token_from_payload(payload: object) -> str | None:
    """The bearer token of a WebSocket `connection_init` payload ({"Authorization": "Bearer ..."} or {"token": ...})."""
    if not isinstance(payload, Mapping):
        return None
    for name in ("Authorization", "authorization"):
        value = payload.get(name)
        if isinstance(value, str):
            return bearer_token(value)
    token = payload.get("token")
    if isinstance(token, str) and token:
        return token
    return None


def authenticate(verifier: TokenVerifier, token: str | None) -> Principal:
    """ANONYMOUS without a token, the token's principal otherwise (InvalidToken when it is bad)."""
    return ANONYMOUS if token is None else verifier.verify(token)


def mint_token(
    *,
    key: Any,
    user_id: str,
    role: Role | str = Role.MEMBER,
    ttl_s: int,
    issuer: str,
    audience: str,
    algorithm: str = HS256,
    scopes: Iterable[str] = (),
    now: datetime | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """A signed token for user_id (key: the HS256 secret, or an RS256 private key in PEM)."""
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    claims: dict[str, Any] = {
        "sub": user_id,
        "role": Role(role).value,
        "iat": issued,
        "exp": issued + timedelta(seconds=ttl_s),
        "iss": issuer,
        "aud": audience,
        "jti": uuid.uuid4().hex,
        **(extra or {}),
    }
    scope = " ".join(scopes)
    if scope:
        claims["scope"] = scope
    return jwt.encode(claims, key, algorithm=algorithm)


def mint_for_settings(settings: Settings, *, user_id: str, role: Role | str = Role.MEMBER, ttl_s: int = 3600) -> str:
    """An HS256 token the running app accepts (the CLI's `taskboard token`, tests, dev)."""
    secret = settings.jwt_hs256_secret.get_secret_value()
    if not secret:
        raise ValueError("minting needs JWT_HS256_SECRET (RS256 tokens come from your identity provider)")
    if not _USER_ID.match(user_id):
        raise ValueError(f"user id must be 24 lower-case hex characters, got {user_id!r}")
    if not 1 <= ttl_s <= settings.jwt_max_ttl_s:
        raise ValueError(f"ttl must be between 1 and JWT_MAX_TTL_S ({settings.jwt_max_ttl_s}) seconds")
    return mint_token(
        key=secret, user_id=user_id, role=role, ttl_s=ttl_s, issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
