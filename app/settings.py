"""All configuration, read once from the environment (and an optional .env file)."""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The HS256 secret dev and test run with; prod refuses it (and any other short or well-known one).
DEV_JWT_SECRET = "dev-only-insecure-taskboard-jwt-secret-change-me"
JWT_SECRET_MIN_LENGTH = 32
_PLACEHOLDER_SECRETS = frozenset({DEV_JWT_SECRET, "changeme", "change-me", "secret", "placeholder", "xxx"})


class Settings(BaseSettings):
    """Every setting the app reads; each maps to the upper-case environment variable of its name."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    app_env: Literal["dev", "test", "prod"] = "dev"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    database_url: str = "postgres://taskboard:taskboard@127.0.0.1:5432/taskboard"
    pg_pool_min: int = Field(1, ge=1, le=100)
    pg_pool_max: int = Field(10, ge=1, le=500)
    # An unreachable or stalled store fails the request fast (SERVICE_UNAVAILABLE) instead of holding it.
    pg_connect_timeout_s: float = Field(2.0, gt=0, le=60)
    pg_command_timeout_s: float = Field(5.0, gt=0, le=3600)
    slow_query_ms: float = Field(200.0, ge=0)
    # Streaming replicas of DATABASE_URL (comma-separated postgres:// URLs): reads that may lag go to one that
    # is up, within REPLICA_MAX_LAG_S and has replayed what the reader must see (README: Read replicas).
    database_replica_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    replica_max_lag_s: float = Field(5.0, gt=0, le=3600)
    # How often each process asks every replica (and the primary) for its WAL position.
    replica_poll_s: float = Field(0.1, ge=0.01, le=60)

    mongodb_url: str = "mongodb://127.0.0.1:27017/taskboard"
    mongo_pool_max: int = Field(20, ge=1, le=500)
    mongo_timeout_s: float = Field(1.0, gt=0, le=60)  # server selection and connect
    mongo_socket_timeout_s: float = Field(5.0, gt=0, le=3600)

    # REDIS_CLUSTER=true: REDIS_URL names any node of a Redis Cluster (database 0 only; README: Redis Cluster).
    redis_cluster: bool = False
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_pool_max: int = Field(50, ge=1, le=1000)
    redis_timeout_s: float = Field(0.5, gt=0, le=30)

    graphql_max_depth: int = Field(10, ge=2, le=100)
    graphql_max_aliases: int = Field(30, ge=0, le=1000)
    graphql_max_tokens: int = Field(5000, ge=100, le=1_000_000)
    # Units of graphql-core's field-merging check (graphql-core's own budget is 500,000, about 1 s of CPU).
    graphql_max_merge_work: int = Field(50_000, ge=1_000, le=500_000)
    graphql_document_cache_size: int = Field(1000, ge=0, le=100_000)
    # Automatic persisted queries (Apollo APQ v1): documents kept in Redis by their SHA-256.
    apq_enabled: bool = True
    apq_ttl_s: int = Field(7 * 86_400, ge=60, le=366 * 86_400)
    apq_max_document_chars: int = Field(20_000, ge=100, le=1_000_000)
    # Queries run from a plan compiled once per operation, with graphql-core's execution as the fallback.
    graphql_direct_execution: bool = True

    startup_timeout_s: float = Field(30.0, ge=0, le=600)
    health_timeout_s: float = Field(1.0, gt=0, le=30)

    cache_enabled: bool = True
    cache_ttl_s: int = Field(300, ge=1, le=7 * 86_400)
    cache_lock_ms: int = Field(2000, ge=10, le=60_000)
    cache_lock_wait_s: float = Field(1.0, ge=0, le=30)
    cache_probe_s: float = Field(0.5, gt=0, le=60)
    events_queue_size: int = Field(100, ge=2, le=100_000)
    events_reconnect_max_s: float = Field(5.0, gt=0, le=300)
    events_ping_s: float = Field(5.0, gt=0, le=300)
    # One execution per subscription event for every subscriber of a document (masked per subscriber),
    # instead of one per set of rights (README: Subscriptions).
    subscriptions_share_across_rights: bool = True
    ws_connection_init_timeout_s: float = Field(10.0, gt=0, le=300)
    ws_max_subscriptions: int = Field(20, ge=1, le=1000)
    # Open WebSockets per process: per signed-in principal, and per client address until a socket signs in.
    ws_max_connections_per_principal: int = Field(20, ge=1, le=100_000)
    ws_max_connections_per_address: int = Field(100, ge=1, le=100_000)

    # Access control and abuse protection (README: Authentication, Abuse protection).
    auth_required: bool = True
    jwt_hs256_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_rs256_public_key: str | None = None
    jwt_issuer: str = Field("taskboard", min_length=1)
    jwt_audience: str = Field("taskboard-api", min_length=1)
    jwt_leeway_s: int = Field(30, ge=0, le=120)
    jwt_max_ttl_s: int = Field(7 * 86_400, ge=60, le=366 * 86_400)
    query_max_cost: int = Field(10_000, ge=1, le=10_000_000)
    query_default_list_size: int = Field(20, ge=1, le=1000)
    rate_limit_enabled: bool = True
    rate_limit_points: int = Field(60_000, ge=1, le=100_000_000)
    rate_limit_window_s: float = Field(60.0, gt=0, le=86_400)
    rate_limit_fail_open: bool = True
    rate_limit_timeout_s: float = Field(0.2, gt=0, le=10)
    # A member's updateUser that gives an email pays this on top of its cost (its answer can reveal an address).
    email_change_cost: int = Field(10_000, ge=0, le=100_000_000)
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(1_000_000, ge=1024, le=1_000_000_000)
    # Admission control for /graphql over HTTP, per process (README: Abuse protection, app.http.admission).
    http_max_in_flight: int = Field(128, ge=1, le=100_000)
    http_max_queued: int = Field(1024, ge=0, le=1_000_000)
    http_queue_timeout_s: float = Field(2.0, gt=0, le=60)

    # /metrics (README: Metrics): a bearer token, or a loopback-only port of its own; open when neither is set.
    metrics_token: SecretStr | None = None
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_max_operation_names: int = Field(200, ge=0, le=10_000)

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, value: str) -> str:
        if urlsplit(value).scheme not in {"postgres", "postgresql", "asyncpg"}:
            raise ValueError("must be a postgres:// URL")
        return value

    @field_validator("database_replica_urls", mode="before")
    @classmethod
    def _replica_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_replica_urls")
    @classmethod
    def _replica_schemes(cls, value: list[str]) -> list[str]:
        for url in value:
            if urlsplit(url).scheme not in {"postgres", "postgresql", "asyncpg"}:
                raise ValueError(f"must be postgres:// URLs ({mask_url(url)} is not)")
        return value

    @field_validator("mongodb_url")
    @classmethod
    def _mongo_scheme(cls, value: str) -> str:
        if urlsplit(value).scheme not in {"mongodb", "mongodb+srv"}:
            raise ValueError("must be a mongodb:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str, info: ValidationInfo) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must be a redis:// or rediss:// URL")
        if info.data.get("redis_cluster"):
            if parts.scheme == "unix":
                raise ValueError("REDIS_CLUSTER=true needs a redis:// or rediss:// URL of a cluster node")
            db = parts.path.strip("/") or dict(parse_qsl(parts.query)).get("db", "")
            if db not in {"", "0"}:
                raise ValueError(
                    f"names database {db}, but a Redis Cluster has database 0 only: with REDIS_CLUSTER=true drop "
                    f"the number (redis://host:port) or use /0"
                )
        return value

    @model_validator(mode="after")
    def _pool_bounds(self) -> Settings:
        if self.pg_pool_min > self.pg_pool_max:
            raise ValueError("PG_POOL_MIN must not exceed PG_POOL_MAX")
        return self

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _origin_list(cls, value: object) -> object:
        # Comma-separated in the environment: CORS_ALLOW_ORIGINS=https://a.example,https://b.example
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator("metrics_token", "metrics_port", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _metrics_port(self) -> Settings:
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise ValueError("METRICS_PORT must differ from PORT")
        return self

    @field_validator("jwt_rs256_public_key", mode="before")
    @classmethod
    def _public_key(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            return value
        # One-line environment values carry the PEM's newlines as \n.
        pem = value.replace("\\n", "\n").strip()
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        try:
            load_pem_public_key(pem.encode())
        except (ValueError, TypeError):
            raise ValueError("must be a PEM public key (-----BEGIN PUBLIC KEY-----...)") from None
        return pem

    @model_validator(mode="after")
    def _auth_keys(self) -> Settings:
        secret = self.jwt_hs256_secret.get_secret_value()
        if self.query_max_cost > self.rate_limit_points:
            raise ValueError("QUERY_MAX_COST must not exceed RATE_LIMIT_POINTS (such a query could never run)")
        if not self.is_prod:
            return self
        if secret and (secret.strip().lower() in _PLACEHOLDER_SECRETS or len(secret) < JWT_SECRET_MIN_LENGTH):
            raise ValueError(
                f"JWT_HS256_SECRET must be a random secret of at least {JWT_SECRET_MIN_LENGTH} characters in "
                "prod (not the development placeholder); set JWT_HS256_SECRET='' to accept RS256 tokens only"
            )
        if not secret and self.jwt_rs256_public_key is None:
            raise ValueError("APP_ENV=prod needs JWT_HS256_SECRET or JWT_RS256_PUBLIC_KEY to verify tokens")
        return self

    @property
    def is_prod(self) -> bool:
        return self.app_env == "prod"


# Query parameters that carry secrets (e.g. MongoDB's tlsCertificateKeyFilePassword, libpq's sslpassword).
_SECRET_PARAMETER = re.compile(r"(?i)([?&][^=&]*(?:password|secret|token)[^=&]*=)[^&]*")


def mask_url(url: str) -> str:
    """The URL with its password (and secret-looking query parameters) replaced by ***, for logs and errors."""
    parts = urlsplit(url)
    if parts.query:
        parts = parts._replace(query=_SECRET_PARAMETER.sub(r"\1***", "?" + parts.query)[1:])
    if parts.password is None:
        return urlunsplit(parts)
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def describe_errors(error: ValidationError) -> str:
    """One line per invalid variable, naming it the way it is set: upper-case environment name."""
    lines = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]).upper() or "SETTINGS"
        lines.append(f"  {name}: {item['msg']}")
    return "invalid configuration:\n" + "\n".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment; on invalid values print which variable and exit(2)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        print(describe_errors(exc), file=sys.stderr)
        raise SystemExit(2) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return load_settings()
