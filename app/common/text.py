"""Validation of required one-field text inputs (titles, names), shared by the domain services."""

from __future__ import annotations

import re

from app.common.errors import FieldError, ValidationFailed


def required_text(value: object, *, field: str, max_length: int, forbidden: re.Pattern[str]) -> str:
    """`value` trimmed; ValidationFailed when it is empty, longer than max_length or has a forbidden character."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationFailed(FieldError(field, "must not be empty"))
    if len(text) > max_length:
        raise ValidationFailed(FieldError(field, f"must be at most {max_length} characters"))
    if forbidden.search(text):
        raise ValidationFailed(FieldError(field, "must not contain control characters"))
    return text
