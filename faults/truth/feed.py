"""How a delivery order is fed to the real pipeline: pure decisions, no I/O.

The pipeline leg of ``tradelane bench truth`` publishes a delivery order over MQTT (readings,
statuses and wills) and Kafka (booking updates) as fast as the pipeline takes it. Two things
would otherwise let the transport, not the order, decide what the rules see:

- **Readings and statuses travel on different topics** (``tracker.readings``, ``tracker.status``)
  and a booking update on a third (``shipments.registry``); the worker reads them side by side.
  So the order is cut into *segments* of one path each, and the publisher waits for the
  pipeline to take a segment before it sends the next: a will processed before an hour of
  backlog is processed before it in the pipeline too.
- **A shipment's trackers land on partitions of their own** (the bridge keys by device id), so
  a worker that is behind reads one tracker's chunk before its sibling's. The run's id prefix
  is chosen so that every shipment's trackers hash to the same partition: their readings then
  reach the shipment in the order they were published. Shipments of one fleet still land on
  different partitions, and the worker's batches interleave them as they come: the credit line
  they are pledged to could meet one shipment's later event before another's earlier one, and
  it stamps a tranche with its own clock (the latest event time it has seen). So a segment
  holds the *causes* (messages whose step feeds the credit line, known from the pure replay)
  of one shipment only, and also ends at every UTC midnight of processing time, so that the
  line never closes a day before that day's tranches reached it (interest is charged on the
  principal outstanding at the end of each day).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from enum import StrEnum

from aiokafka.partitioner import murmur2

from devices.config import FleetConfig
from devices.plan import FleetPlan
from faults.truth.orders import Delivery
from faults.truth.stream import MessageKind

DAY_S = 86_400


class Path(StrEnum):
    """The way a message enters the pipeline."""

    READINGS = "readings"
    """MQTT → bridge → ``tracker.readings``."""
    STATUS = "status"
    """MQTT → bridge → ``tracker.status`` (statuses and last wills)."""
    REGISTRY = "registry"
    """Kafka ``shipments.registry`` (a booking republished at customs clearance)."""


_PATHS = {
    MessageKind.READING: Path.READINGS,
    MessageKind.STATUS: Path.STATUS,
    MessageKind.BOOKING: Path.REGISTRY,
}


def path_of(delivery: Delivery) -> Path:
    return _PATHS[delivery[1].kind]


def segments(
    deliveries: Sequence[Delivery], causes: Mapping[int, str] | None = None
) -> list[list[Delivery]]:
    """``deliveries`` cut where the path changes, at every UTC midnight of processing time,
    around each booking update (one a segment: the publisher waits for its effect), and
    before a cause (``causes``: publish index → shipment) of another shipment than the
    segment's causes so far."""
    causes = causes or {}
    out: list[list[Delivery]] = []
    current: list[Delivery] = []
    owner: str | None = None
    for delivery in deliveries:
        cause = causes.get(delivery[1].index)
        if current:
            last = current[-1]
            if (
                path_of(delivery) is not path_of(last)
                or path_of(delivery) is Path.REGISTRY
                or int(delivery[0] // DAY_S) != int(last[0] // DAY_S)
                or (cause is not None and owner is not None and cause != owner)
            ):
                out.append(current)
                current, owner = [], None
        current.append(delivery)
        owner = owner or cause
    if current:
        out.append(current)
    return out


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as aiokafka's) gives ``key``."""
    hashed: int = murmur2(key.encode())
    return (hashed & 0x7FFFFFFF) % partitions


def siblings(plan: FleetPlan) -> list[list[int]]:
    """The device indices of each shipment with more than one tracker."""
    by_shipment: dict[int, list[int]] = {}
    for device in plan.devices:
        by_shipment.setdefault(device.shipment, []).append(device.index)
    return [own for own in by_shipment.values() if len(own) > 1]


def colocated(config: FleetConfig, groups: Iterable[Sequence[int]], partitions: int) -> bool:
    """Whether every group of device indices hashes to one partition under ``config``."""
    return all(
        len({partition_of(config.device_id(i), partitions) for i in group}) == 1 for group in groups
    )


def colocating_prefix(
    config: FleetConfig, groups: Sequence[Sequence[int]], partitions: int, tries: int = 100_000
) -> str:
    """The first of ``<prefix>``, ``<prefix>a1``, ``<prefix>a2``… under which every
    shipment's trackers share a partition (the prefix is ``config``'s own)."""
    base = config.id_prefix
    for n in range(tries):
        prefix = base if n == 0 else f"{base}a{n}"
        if colocated(replace(config, prefix=prefix), groups, partitions):
            return prefix
    raise ValueError(f"no prefix in {tries} tries puts each shipment's trackers together")
