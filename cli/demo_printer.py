"""``tradelane demo``: what is shown while the pipeline runs (:mod:`cli.demo_pipeline` is what
runs). The printer turns the records the feeds hand it into the view (:mod:`cli.demo_view`),
releases the view's reorder buffer on a tick, and writes the status line: a live table on a
terminal, plain lines elsewhere. It reads the stages' counters but starts and stops nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from cli.demo_view import DemoView, LiveDisplay, PlainDisplay
from tradelane.contracts import ClaimEvent, ShipmentEvent, TrackerReading
from tradelane.contracts.finance import FinanceEvent
from tradelane.topics import FINANCE_EVENTS, SHIPMENTS_EVENTS

if TYPE_CHECKING:  # the kernel imports the stages only lazily, inside the command
    from devices.fleet import FleetProgress
    from ingest.bridge_metrics import BridgeMetrics
    from ingest.sink import SinkStats


def is_terminal() -> bool:
    return sys.stdout.isatty()


async def with_spinner(
    text: str, wait: Callable[[Callable[[str], None]], Awaitable[float]]
) -> float:
    """Run ``wait(progress)``; on a terminal under a ``rich`` spinner whose text the progress
    updates, elsewhere printing each progress line."""
    if not is_terminal():
        return await wait(lambda line: print(line, flush=True))
    from rich.console import Console

    with Console().status(text) as status:
        return await wait(lambda line: status.update(line.strip()))


def status_text(
    bridge: BridgeMetrics,
    progress: FleetProgress | None,
    sink: SinkStats | None,
    events_seen: int,
) -> str:
    """One line of the stages' counters: fleet, bridge, sink (when it runs), worker."""
    parts = [f"bridge {bridge.forwarded:,} forwarded, {bridge.deadlettered:,} dead-lettered"]
    if progress is not None:
        p = progress
        parts.insert(
            0,
            f"fleet {p.online}/{p.trackers} online, sim {p.sim_time:%Y-%m-%d %H:%M}, "
            f"{p.readings_sent:,} sent, {p.buffered:,} buffered",
        )
    if sink is not None:
        parts.append(f"sink {sink.points_written:,} points")
    parts.append(f"worker {events_seen:,} events")
    return " | ".join(parts)


class Printer:
    """The view and its display, fed by the demo's feeds; ``started`` is when the demo started
    (the first worker event is timed from it)."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.view = DemoView()
        self.display: PlainDisplay = (
            LiveDisplay(self.view) if is_terminal() else PlainDisplay(self.view)
        )
        self.events_seen = 0

    def reading(self, reading: TrackerReading) -> None:
        """A reading from ``tracker.readings``: the temperature column."""
        self.view.reading(reading)

    def event(self, topic: str, value: bytes) -> None:
        """A record of the worker's outputs, held for event-time order by the view."""
        event: ShipmentEvent | FinanceEvent | ClaimEvent
        if topic == SHIPMENTS_EVENTS.name:
            event = ShipmentEvent.model_validate_json(value)
            if not self.events_seen:
                took = time.monotonic() - self.started
                self.display.notice(f"  first worker event {took:.1f} s after the demo started")
            self.events_seen += 1
        elif topic == FINANCE_EVENTS.name:
            event = FinanceEvent.model_validate_json(value)
        else:
            event = ClaimEvent.model_validate_json(value)
        self.view.offer(event, time.monotonic())

    async def tick(
        self,
        stop: asyncio.Event,
        status: Callable[[], str],
        every_s: float = 0.25,
        status_every_s: float = 5.0,
    ) -> None:
        """Release the view's reorder buffer; the status line every 5 s (live: each tick)."""
        next_status = time.monotonic() + status_every_s
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
            now = time.monotonic()
            self.display.refresh(now)
            if self.display.live or (now >= next_status and not stop.is_set()):
                next_status = now + status_every_s
                self.display.status(status())
