"""What other domains may use of the tags domain (import-linter keeps the rest private to it).

Used by tasks: `Task.tags` resolves through TAGS_BY_TASK_ID, task writes check tag ids exist, and task queries
filter across the `Task.tags` relation with the Tag model (a Tortoise relation joins both models).
"""

from __future__ import annotations

from app.tags.loaders import TAGS_BY_TASK_ID
from app.tags.models import Tag
from app.tags.service import TagRow, find_existing_tag_ids, find_existing_tags
from app.tags.types import TagType

__all__ = ["TAGS_BY_TASK_ID", "Tag", "TagRow", "TagType", "find_existing_tag_ids", "find_existing_tags"]
