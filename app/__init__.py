"""Taskboard API: an async GraphQL server for task management."""

__version__ = "0.1.0"
