"""Batch load functions for tag DataLoaders: one query per batch, results in key order."""

from __future__ import annotations

from collections.abc import Sequence

from app.tags import service
from app.tags.service import TagRow


async def tags_by_task_id(task_ids: Sequence[str]) -> list[list[TagRow]]:
    """Tags of each task, by name."""
    return await service.tags_by_task_ids(task_ids=task_ids)
