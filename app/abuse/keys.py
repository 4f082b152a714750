"""Redis keys of the rate limiter (the only place they are built)."""

from __future__ import annotations

import ipaddress

from app.auth.principal import Principal

PREFIX = "tb:rl:v1"


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
    """Per user when authenticated (whatever the address), per client address when anonymous."""
    if principal.user_id is not None:
        return f"{PREFIX}:user:{principal.user_id}"
    if principal.system_name is not None:
        return f"{PREFIX}:system:{principal.system_name}"
    return f"{PREFIX}:ip:{client_ip_bucket(client_ip)}"
