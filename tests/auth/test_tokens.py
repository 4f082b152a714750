"""Bearer tokens: HS256 and RS256 verify into a Principal; expiry, issuer, audience, leeway, tampering."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from app.auth.principal import ANONYMOUS, Role
from app.auth.tokens import (
    InvalidToken,
    TokenVerifier,
    authenticate,
    bearer_token,
    mint_for_settings,
    mint_token,
    token_from_payload,
)
from app.settings import Settings
from tests.auth.keys import rsa_pair

SECRET = "s" * 40
USER = "0123456789abcdef01234567"
ISSUER, AUDIENCE = "taskboard", "taskboard-api"


def verifier(*, secret: str | None = SECRET, public_key: str | None = None, leeway_s: int = 0) -> TokenVerifier:
    return TokenVerifier(
        hs256_secret=secret,
        rs256_public_key=public_key,
        issuer=ISSUER,
        audience=AUDIENCE,
        leeway_s=leeway_s,
        max_ttl_s=86_400,
    )


def hs256(**overrides: object) -> str:
    options: dict = {"key": SECRET, "user_id": USER, "ttl_s": 600, "issuer": ISSUER, "audience": AUDIENCE}
    options.update(overrides)
    return mint_token(**options)


def reason(token: str, token_verifier: TokenVerifier | None = None) -> str:
    with pytest.raises(InvalidToken) as error:
        (token_verifier or verifier()).verify(token)
    assert error.value.code == "UNAUTHENTICATED"
    return error.value.reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _segments(token: str) -> tuple[dict, dict, str]:
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return orjson.loads(base64.urlsafe_b64decode(pad(header))), orjson.loads(base64.urlsafe_b64decode(pad(payload))), signature


def test_hs256_token_becomes_the_principal_it_names() -> None:
    principal = verifier().verify(hs256(role="admin", scopes=["tasks:read"]))
    assert principal.user_id == USER
    assert principal.role is Role.ADMIN and principal.is_admin
    assert principal.scopes == frozenset({"tasks:read"})
    assert principal.expires_at is not None and principal.expires_at > datetime.now(UTC)
    assert principal.token_id


def test_role_defaults_to_member_when_the_claim_is_absent() -> None:
    token = mint_token(key=SECRET, user_id=USER, ttl_s=60, issuer=ISSUER, audience=AUDIENCE, extra={"role": None})
    # A null role is not a role: refused, while a token without the claim at all reads as member.
    assert reason(token) == "claims"
    header, payload, _ = _segments(hs256())
    del payload["role"]
    signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(payload))}"
    signature = _b64(hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest())
    assert verifier().verify(f"{signing_input}.{signature}").role is Role.MEMBER


def test_rs256_token_verifies_with_the_configured_public_key() -> None:
    private, public = rsa_pair()
    token = hs256(key=private, algorithm="RS256", role="member")
    principal = verifier(secret=None, public_key=public).verify(token)
    assert principal.user_id == USER and principal.role is Role.MEMBER


def test_rs256_token_signed_by_another_key_is_refused() -> None:
    _, public = rsa_pair()
    other_private, _ = rsa_pair("other")
    assert reason(hs256(key=other_private, algorithm="RS256"), verifier(public_key=public)) == "signature"


def test_expired_token_is_refused_with_reason_expired() -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    assert reason(hs256(now=past, ttl_s=60)) == "expired"


def test_leeway_tolerates_small_clock_skew_only() -> None:
    just_expired = hs256(now=datetime.now(UTC) - timedelta(seconds=70), ttl_s=60)  # expired ~10 s ago
    assert verifier(leeway_s=30).verify(just_expired).user_id == USER
    assert reason(just_expired, verifier(leeway_s=0)) == "expired"


def test_token_issued_in_the_future_is_refused() -> None:
    assert reason(hs256(now=datetime.now(UTC) + timedelta(minutes=10))) == "not_yet_valid"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [({"issuer": "someone-else"}, "issuer"), ({"audience": "another-api"}, "audience")],
)
def test_wrong_issuer_or_audience_is_refused(overrides: dict, expected: str) -> None:
    assert reason(hs256(**overrides)) == expected


def test_tampered_payload_fails_the_signature_check() -> None:
    header, payload, signature = _segments(hs256(role="member"))
    payload["role"] = "admin"
    forged = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(payload))}.{signature}"
    assert reason(forged) == "signature"


def test_token_signed_with_another_secret_is_refused() -> None:
    assert reason(hs256(key="x" * 40)) == "signature"


def test_alg_none_is_refused() -> None:
    header, payload, _ = _segments(hs256(role="admin"))
    unsigned = f"{_b64(orjson.dumps({**header, 'alg': 'none'}))}.{_b64(orjson.dumps(payload))}."
    assert reason(unsigned) == "algorithm"


def test_public_key_is_never_accepted_as_an_hmac_secret() -> None:
    # Algorithm confusion: an HS256 token "signed" with the RSA public key (which attackers know).
    _, public = rsa_pair()
    header, payload, _ = _segments(hs256(role="admin"))
    signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(payload))}"
    signature = _b64(hmac.new(public.encode(), signing_input.encode(), hashlib.sha256).digest())
    forged = f"{signing_input}.{signature}"
    assert reason(forged, verifier(secret=None, public_key=public)) == "algorithm"
    assert reason(forged, verifier(public_key=public)) == "signature"


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "iss", "aud"])
def test_every_required_claim_must_be_present(missing: str) -> None:
    header, payload, _ = _segments(hs256())
    del payload[missing]
    signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(payload))}"
    signature = _b64(hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest())
    assert reason(f"{signing_input}.{signature}") in {"claims", "audience"}


@pytest.mark.parametrize(
    "overrides",
    [{"user_id": "not-an-object-id"}, {"extra": {"role": "superuser"}}, {"extra": {"sub": 42}}],
)
def test_subject_must_be_a_user_id_and_role_a_known_role(overrides: dict) -> None:
    assert reason(hs256(**overrides)) in {"claims", "malformed"}


def test_lifetime_longer_than_the_maximum_is_refused() -> None:
    assert reason(hs256(ttl_s=2 * 86_400)) == "lifetime"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 9000, "eyJhbGciOiJIUzI1NiJ9..."])
def test_garbage_is_malformed(garbage: str) -> None:
    assert reason(garbage) in {"malformed", "algorithm"}


def test_bearer_header_parsing() -> None:
    assert bearer_token(None) is None
    assert bearer_token("  ") is None
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer   abc") == "abc"
    for bad in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "abc"):
        with pytest.raises(InvalidToken):
            bearer_token(bad)


def test_connection_init_payload_carries_the_token() -> None:
    assert token_from_payload({"Authorization": "Bearer t1"}) == "t1"
    assert token_from_payload({"authorization": "Bearer t2"}) == "t2"
    assert token_from_payload({"token": "t3"}) == "t3"
    assert token_from_payload({}) is None
    assert token_from_payload(None) is None
    assert token_from_payload(["Bearer t"]) is None


def test_authenticate_without_a_token_is_anonymous() -> None:
    assert authenticate(verifier(), None) is ANONYMOUS
    assert not ANONYMOUS.is_authenticated


def test_mint_for_settings_makes_tokens_the_app_accepts() -> None:
    settings = Settings(_env_file=None, jwt_hs256_secret=SECRET)
    token = mint_for_settings(settings, user_id=USER, role="admin", ttl_s=120)
    assert TokenVerifier.from_settings(settings).verify(token).is_admin
    with pytest.raises(ValueError, match="user id"):
        mint_for_settings(settings, user_id="bob")
    with pytest.raises(ValueError, match="ttl"):
        mint_for_settings(settings, user_id=USER, ttl_s=settings.jwt_max_ttl_s + 1)
    with pytest.raises(ValueError, match="JWT_HS256_SECRET"):
        mint_for_settings(Settings(_env_file=None, jwt_hs256_secret=""), user_id=USER)


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def test_a_verified_token_is_remembered_and_still_expires() -> None:
    clock = _Clock()
    checker = TokenVerifier(hs256_secret=SECRET, rs256_public_key=None, issuer=ISSUER, audience=AUDIENCE,
                            leeway_s=5, max_ttl_s=86_400, clock=clock)
    token = hs256(ttl_s=60)
    first = checker.verify(token)
    assert checker.verify(token) is first  # the second time from memory: the same principal, not decoded again
    clock.now += 60 + 5 + 1  # past exp + leeway: the remembered token is refused, and forgotten
    assert reason(token, checker) == "expired"
    assert token not in checker._verified


def test_only_good_tokens_are_remembered_and_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.auth.tokens as tokens

    monkeypatch.setattr(tokens, "VERIFIED_TOKENS_MAX", 3)
    checker = verifier()
    tampered = hs256().rsplit(".", 1)[0] + "." + _b64(b"x" * 32)
    assert reason(tampered, checker) == "signature"
    assert reason(tampered, checker) == "signature"  # checked again, never remembered
    minted = [hs256(extra={"n": n}) for n in range(5)]
    for token in minted:
        checker.verify(token)
    assert list(checker._verified) == minted[2:]  # the 3 most recently used
    checker.verify(minted[2])  # a hit moves it to the back: the next eviction takes minted[3]
    checker.verify(hs256(extra={"n": 99}))
    assert list(checker._verified) == [minted[4], minted[2], next(reversed(checker._verified))]
