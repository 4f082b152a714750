"""Redis keys of the rate limiter (the only place they are built)."""

from __future__ import annotations

import ipaddress

from app.auth.principal import Principal

PREFIX = "tb:rl:v2"  # v2: every bucket in one sorted set (v1 kept one string key per bucket)


def buckets() -> str:
    """The one sorted set that holds every bucket (member: the caller's key, score: its TAT in ms).

    It has no TTL, so an eviction policy that only evicts keys with a TTL (volatile-*) never drops it, and
    it stays small: the limiter removes buckets that are full again (see app.abuse.ratelimit).
    """
    return f"{PREFIX}:buckets"


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
