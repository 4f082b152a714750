"""What an email change costs on top of its static cost.

Changing one's email to an address that is taken answers CONFLICT, so each try tells whether an address
is registered (which `userByEmail` and the name-only search keep from members). Admins may read every
email anyway; for anyone else each `updateUser` selection whose input gives an email (even null, even for
another user, whatever the outcome) pays EMAIL_CHANGE_COST points of the caller's rate-limit budget, before
anything runs. With the defaults a member can try six email changes in a burst, then one every ten
seconds, and every try that runs leaves an audit row (`email_change_attempt`, app.users.service).
"""

from __future__ import annotations

from collections.abc import Mapping

from graphql import Undefined

from app.auth.principal import Principal
from app.graphql.surcharges import RootSelection
from app.settings import Settings


def email_change_surcharge(principal: Principal, selection: RootSelection, settings: Settings) -> int:
    """EMAIL_CHANGE_COST when a non-admin's updateUser gives an email, else 0."""
    if principal.is_admin:
        return 0
    given = selection.arguments.get("input")
    if isinstance(given, Mapping) and given.get("email", Undefined) is not Undefined:
        return settings.email_change_cost
    return 0
