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
        result = context.result
        errors = getattr(result, "errors", None)
        # The operation name is the client's: only one that ran without errors may become a label (a bounded
        # number of them, see app.metrics); until then it is counted as `other`.
        succeeded = result is not None and not errors
        name = context.operation_name or "anonymous"
        OPERATION_SECONDS.child(name, admit=succeeded).observe(time.perf_counter() - started)
        for error in errors or ():
            ERRORS.inc(str((error.extensions or {}).get("code", "INTERNAL")))
