"""What other domains may use of the audit domain: recording audit rows inside their own write transactions.

(import-linter keeps the rest of app.audit private to it.)
"""

from __future__ import annotations

from app.audit.writer import Action, AuditItem, Changes, created, diff, record, record_many, removed

__all__ = ["Action", "AuditItem", "Changes", "created", "diff", "record", "record_many", "removed"]
