"""The worker lease: which worker group may write shipment state, events and ledgers.

Every worker of the active group appends a ``held`` record to ``workers.lease`` every few
seconds while it runs, and a ``released`` record when it stops cleanly. The topic's one
partition puts every record in one order, and its broker-assigned timestamps give each a
time; :mod:`streams.lease` folds them into who holds the lease.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tradelane.contracts.base import Contract


class WorkerLease(Contract):
    """The value of ``workers.lease`` (schema version 1)."""

    schema_version: Literal[1] = 1
    app_id: Annotated[str, Field(min_length=1, description="The worker group (its --app-id)")]
    member: Annotated[
        str, Field(min_length=1, description="The worker process: host, pid and a random tag")
    ]
    state: Annotated[
        Literal["held", "released"],
        Field(description="held: renewed now; released: this worker stopped cleanly"),
    ]
    term_s: Annotated[
        float,
        Field(gt=0, le=3600, description="How long this renewal holds the lease without another"),
    ]
