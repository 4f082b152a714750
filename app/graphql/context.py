"""The per-request context: the one place that builds it (HTTP request, WebSocket connection, event),
and the one place that decides who the caller is (Authorization header, or the WebSocket's
connection_init payload)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket

from app.auth.principal import ANONYMOUS, Principal
from app.auth.tokens import InvalidToken, TokenVerifier, authenticate, bearer_token, token_from_payload
from app.graphql.loaders import Loaders
from app.graphql.visibility import Visibility
from app.settings import Settings


@dataclass
class Context:
    """What every resolver sees as info.context."""

    request: Request | WebSocket
    response: Any
    settings: Settings
    loaders: Loaders = field(default_factory=Loaders)
    principal: Principal = ANONYMOUS
    # A token was sent but could not be trusted: every operation answers UNAUTHENTICATED with this.
    auth_error: InvalidToken | None = None
    # strawberry stores the WebSocket connection_init payload here.
    connection_params: dict[str, Any] | None = None

    @property
    def client_ip(self) -> str | None:
        client = self.request.client
        return client.host if client is not None else None

    def sign_in(self, verifier: TokenVerifier, token: str | None) -> None:
        """Become the token's principal (ANONYMOUS without one); a bad token leaves auth_error set."""
        try:
            self.principal, self.auth_error = authenticate(verifier, token), None
        except InvalidToken as error:
            self.principal, self.auth_error = ANONYMOUS, error

    def renew_loaders(self) -> Loaders:
        """Start over with empty loaders (each subscription event reads fresh data)."""
        self.loaders = Loaders()
        return self.loaders


class SharedEventContext(Context):
    """The context of one subscription-event execution shared by subscribers of different rights
    (app.graphql.shared_execution): the subscriber's context with fresh loaders, a Visibility record for the
    guarded fields, and the most privileged principal. Any read of `principal` is noted (`rights_read`): a
    resolver that decides by the caller's rights outside a VisibleTo guard makes the result unfit to share."""

    def __init__(self, base: Context, principal: Principal) -> None:  # noqa: D107 - no dataclass __init__
        self.__dict__.update(base.__dict__)
        self.__dict__.pop("principal", None)
        self._shared_principal = principal
        self.loaders = Loaders()
        self.visibility = Visibility()
        self.rights_read = False

    @property  # type: ignore[override]
    def principal(self) -> Principal:
        self.rights_read = True
        return self._shared_principal


def build_context(
    request: Request | WebSocket, response: Any, settings: Settings, verifier: TokenVerifier,
    *, known: Principal | None = None,
) -> Context:
    """The context for one HTTP request or one WebSocket connection, signed in by its Authorization header.

    `known`: the principal this same request's header was already verified as (by the response cache).
    """
    context = Context(request=request, response=response, settings=settings)
    if known is not None:
        context.principal = known
        return context
    try:
        token = bearer_token(request.headers.get("authorization"))
    except InvalidToken as error:
        context.auth_error = error
        return context
    context.sign_in(verifier, token)
    return context


def sign_in_connection(context: Context, verifier: TokenVerifier) -> None:
    """A WebSocket's connection_init payload names its principal (overriding the upgrade request's header).

    Raises InvalidToken when the payload carries a token that cannot be trusted (the connection is refused).
    """
    token = token_from_payload(context.connection_params)
    if token is None:
        return
    context.sign_in(verifier, token)
    if context.auth_error is not None:
        raise context.auth_error
