"""What other domains may use of the tags domain (import-linter keeps the rest private to it).

Used by tasks: `Task.tags` resolves through TAGS_BY_TASK_ID, and task writes check tag ids exist.
"""

from __future__ import annotations

from app.tags.loaders import TAGS_BY_TASK_ID
from app.tags.service import TagRow, find_existing_tag_ids
from app.tags.types import TagType

__all__ = ["TAGS_BY_TASK_ID", "TagRow", "TagType", "find_existing_tag_ids"]
