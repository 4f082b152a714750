"""Open WebSockets per caller, counted in this process (each worker process counts its own).

A socket takes a slot of its client address at the handshake (WS_MAX_CONNECTIONS_PER_ADDRESS). Once
connection_init names a principal, the socket moves to that principal's slots
(WS_MAX_CONNECTIONS_PER_PRINCIPAL) and frees its address slot: the address cap bounds sockets that have
not signed in (anonymous ones, and ones that never send connection_init), so many signed-in users behind
one NAT address are not refused, while one user is capped wherever they connect from. A socket holds one
slot at a time, named in its ASGI scope, and gives it back when it closes.

A refused socket is accepted and closed at once with REFUSED_CODE (1008, policy violation) and a reason
saying which cap it hit, so a client can tell it apart from a network failure.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from app.abuse.keys import rate_limit_key
from app.auth.principal import ANONYMOUS, Principal

REFUSED_CODE = 1008
_SLOT_KEY = "taskboard.ws_slot"


class TooManySockets(Exception):
    """The caller already has as many open WebSockets as its cap allows."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.code = REFUSED_CODE
        self.reason = reason


class SocketSlots:
    def __init__(self, *, per_principal: int, per_address: int) -> None:
        self.per_principal = per_principal
        self.per_address = per_address
        self._open: Counter[str] = Counter()

    def open(self, scope: dict[str, Any], client_ip: str | None) -> None:
        """Take an address slot for a new socket; raises TooManySockets when the address has none left."""
        self._move(scope, rate_limit_key(ANONYMOUS, client_ip), self.per_address, "from this address")

    def sign_in(self, scope: dict[str, Any], principal: Principal, client_ip: str | None) -> None:
        """Move the socket to its principal's slots (its address's while anonymous); raises TooManySockets."""
        if not principal.is_authenticated:
            self._move(scope, rate_limit_key(ANONYMOUS, client_ip), self.per_address, "from this address")
            return
        self._move(scope, rate_limit_key(principal, client_ip), self.per_principal, "for this user")

    def close(self, scope: dict[str, Any]) -> None:
        """Give the socket's slot back (once)."""
        held = scope.pop(_SLOT_KEY, None)
        if held is not None:
            self._give_back(held)

    def count(self, key: str) -> int:
        return self._open[key]

    def _move(self, scope: dict[str, Any], key: str, limit: int, whose: str) -> None:
        held = scope.get(_SLOT_KEY)
        if held == key:
            return
        if self._open[key] >= limit:
            raise TooManySockets(f"too many open WebSockets {whose} (at most {limit})")
        self._open[key] += 1
        scope[_SLOT_KEY] = key
        if held is not None:
            self._give_back(held)

    def _give_back(self, key: str) -> None:
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]
