"""Turn a pydantic validation failure into a dead-letter reason and a readable message."""

from __future__ import annotations

from pydantic import ValidationError

from ingest.adapters.base import Rejected
from tradelane.contracts import DeadLetterReason

# pydantic error types that mean "a value of the right type, outside its physical range".
_RANGE_ERRORS = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "finite_number",
}


def rejection_for(exc: ValidationError) -> Rejected:
    errors = exc.errors(include_url=False)
    kinds = {e["type"] for e in errors}
    reason = (
        DeadLetterReason.OUT_OF_RANGE
        if kinds <= _RANGE_ERRORS
        else DeadLetterReason.SCHEMA_VIOLATION
    )
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in errors[:5]]
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return Rejected(reason, "; ".join(parts) + more)
