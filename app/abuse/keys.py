"""Redis keys of the rate limiter (the only place they are built)."""

from __future__ import annotations

import ipaddress

from app.auth.principal import Principal
from app.stores.redis import shard_of

PREFIX = "tb:rl:v3"  # v2: every bucket in one sorted set; v3: the buckets sharded over BUCKET_SHARDS sets
BUCKET_SHARDS = 16  # one hash slot each: on a Redis Cluster the limiter's load spreads over every node


def _buckets_in(shard: int) -> str:
    return f"{PREFIX}:{{{shard}}}:buckets"


def buckets(caller: str) -> str:
    """The sorted set that holds the caller's bucket (member: the caller's key, score: its TAT in ms): one of
    BUCKET_SHARDS, chosen by the caller's key, each in a hash slot of its own (`{<n>}`).

    They have no TTL, so an eviction policy that only evicts keys with a TTL (volatile-*) never drops them,
    and they stay small: the limiter removes buckets that are full again (see app.abuse.ratelimit).
    """
    return _buckets_in(shard_of(caller, BUCKET_SHARDS))


def all_buckets() -> list[str]:
    """Every shard's sorted set."""
    return [_buckets_in(shard) for shard in range(BUCKET_SHARDS)]


def client_ip_bucket(ip: str | None) -> str:
    """The address a rate limit is kept for: IPv4 as is, IPv6 by its /64 (one host usually owns a /64)."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False).network_address) + "/64"
    return str(address)


def rate_limit_key(principal: Principal, client_ip: str | None) -> str:
    """The caller's bucket: per user when authenticated (whatever the address), per address when anonymous."""
    if principal.user_id is not None:
        return f"user:{principal.user_id}"
    if principal.system_name is not None:
        return f"system:{principal.system_name}"
    return f"ip:{client_ip_bucket(client_ip)}"
