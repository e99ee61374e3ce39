"""Turn a pydantic validation failure into a dead-letter reason and a readable message."""

from __future__ import annotations

import json
from typing import Any

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


def json_value(payload: bytes) -> Any:
    """Parse a JSON payload, or refuse it as ``malformed_json``: not UTF-8, not JSON, an
    integer of more digits than Python converts (4,300), or nesting deeper than the parser's
    recursion allows."""
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError included
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise Rejected(DeadLetterReason.MALFORMED_JSON, f"payload is not JSON: {reason}") from exc


def json_object(payload: bytes) -> dict[str, Any]:
    """Parse a payload that must be one JSON object, or refuse it with the right reason."""
    message = json_value(payload)
    if not isinstance(message, dict):
        raise Rejected(DeadLetterReason.SCHEMA_VIOLATION, "payload is not a JSON object")
    return message
