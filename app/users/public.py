"""What other domains may use of the users domain (import-linter keeps the rest private to it).

Used by tasks: `Task.assignee` resolves through USERS_BY_ID to a UserType, and task writes check that
assignees exist.
"""

from __future__ import annotations

from app.users.loaders import USERS_BY_ID
from app.users.records import UserRecord
from app.users.service import existing_user_ids
from app.users.types import UserType

__all__ = ["USERS_BY_ID", "UserRecord", "UserType", "existing_user_ids"]
