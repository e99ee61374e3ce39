"""What every rule of one step shares: the shipment's state, the thresholds, and the events
emitted so far.

One :class:`StepContext` is made per input (where the emitter alone was made before) and
handed to the rule families instead of passing ``state``, ``rules`` and the emitter to each
function separately. Slotted, and nothing is built per rule call: this runs per reading at
thousands per second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel

from streams.rules.settings import StreamRules
from streams.state import ShipmentState
from tradelane.contracts import ShipmentEvent, shipment_event_type
from tradelane.contracts.events import SHIPMENT_EVENT_SOURCE
from tradelane.ids import derive_id


@dataclass(slots=True)
class StepContext:
    """One step of one shipment: its state (changed in place), the rules it runs under, and
    the events it has emitted, each with an id derived from its cause."""

    state: ShipmentState
    rules: StreamRules
    events: list[ShipmentEvent] = field(default_factory=list)

    def emit(self, data: BaseModel, at: datetime, *cause: str | int) -> None:
        """Append the event ``data``; its id derives from its kind, the shipment and
        ``cause``, so a redelivered cause re-emits the same id."""
        kind = str(getattr(data, "kind"))  # noqa: B009 - every event model has a kind literal
        shipment_id = self.state.shipment_id
        self.events.append(
            ShipmentEvent(
                id=derive_id(kind, shipment_id, *cause),
                source=SHIPMENT_EVENT_SOURCE,
                type=shipment_event_type(kind),
                subject=shipment_id,
                time=at,
                data=data,
            )
        )
