"""Process logging set-up: one format, level from settings."""

from __future__ import annotations

import logging

from app.settings import Settings


def configure_logging(settings: Settings) -> None:
    """Configure the root logger once per process."""
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("taskboard").setLevel(settings.log_level)
    # Tortoise logs every statement at DEBUG with parameters: keep it quiet, ours logs without values.
    logging.getLogger("tortoise").setLevel(max(logging.INFO, logging.getLevelName(settings.log_level)))
