"""Schema extension that times every operation and counts errors by code, for /metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from app.metrics import ERRORS, OPERATION_SECONDS


class OperationMetrics(SchemaExtension):
    """Listed before ErrorShaping so that it sees the final codes."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        OPERATION_SECONDS.observe(context.operation_name or "anonymous", time.perf_counter() - started)
        result = context.result
        for error in getattr(result, "errors", None) or ():
            ERRORS.inc(str((error.extensions or {}).get("code", "INTERNAL")))
