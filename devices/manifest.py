"""The ledger of what was sent, and the manifest: a JSON account of a simulation run.

The manifest is what tests and people check outcomes against: the run's configuration (enough
to replay it), every shipment's booking with its actual stops and incidents, and per tracker
which sequence numbers the broker acknowledged, which are still buffered in the device, and
what was lost, duplicated or malformed on purpose. Acknowledged sequence numbers are kept as
ranges (readings are mostly contiguous), so a million readings stay a few kilobytes.
"""

from __future__ import annotations

import bisect
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from devices.device import Tracker
from devices.engine import FleetEngine
from devices.messages import Kind, Outgoing
from devices.plan import FleetPlan, SimShipment, utc
from tradelane.contracts import ShipmentBooking


class SeqRanges:
    """A set of non-negative ints stored as sorted, disjoint, non-adjacent [lo, hi] ranges."""

    __slots__ = ("_hi", "_lo", "count")

    def __init__(self) -> None:
        self._lo: list[int] = []
        self._hi: list[int] = []
        self.count = 0

    def add(self, n: int) -> bool:
        """Add ``n``; returns False if it was already present."""
        lo, hi = self._lo, self._hi
        if hi and n == hi[-1] + 1:  # the common case: the next reading in order
            hi[-1] = n
            self._merge(len(hi) - 1)
            self.count += 1
            return True
        i = bisect.bisect_right(lo, n) - 1
        if i >= 0 and lo[i] <= n <= hi[i]:
            return False
        if i >= 0 and hi[i] == n - 1:
            hi[i] = n
            self._merge(i)
        elif i + 1 < len(lo) and lo[i + 1] == n + 1:
            lo[i + 1] = n
        else:
            lo.insert(i + 1, n)
            hi.insert(i + 1, n)
        self.count += 1
        return True

    def _merge(self, i: int) -> None:
        lo, hi = self._lo, self._hi
        if i + 1 < len(lo) and lo[i + 1] == hi[i] + 1:
            hi[i] = hi[i + 1]
            del lo[i + 1]
            del hi[i + 1]

    def __contains__(self, n: object) -> bool:
        if not isinstance(n, int):
            return False
        i = bisect.bisect_right(self._lo, n) - 1
        return i >= 0 and self._lo[i] <= n <= self._hi[i]

    def __len__(self) -> int:
        return self.count

    def ranges(self) -> list[tuple[int, int]]:
        return list(zip(self._lo, self._hi, strict=True))

    def __iter__(self) -> Any:
        for lo, hi in zip(self._lo, self._hi, strict=True):
            yield from range(lo, hi + 1)


def expand(ranges: list[tuple[int, int]] | list[list[int]]) -> set[int]:
    """The set of sequence numbers a manifest's ``sent_seq_ranges`` stand for."""
    return {n for lo, hi in ranges for n in range(lo, hi + 1)}


class AckLedger:
    """Counts acks per device and kind; ``on_ack`` is the publisher's callback (hot path)."""

    def __init__(self, devices: int) -> None:
        self.sent = [SeqRanges() for _ in range(devices)]
        self.readings_acked = 0
        self.duplicates_acked = 0
        self.malformed_acked = 0
        self.status_acked = 0
        self.refused = 0
        self.refused_by_device = [0] * devices
        self.submitted = dict.fromkeys(Kind, 0)

    def count_submitted(self, msgs: list[Outgoing]) -> None:
        sub = self.submitted
        for m in msgs:
            sub[m.kind] += 1

    def on_ack(self, msg: Outgoing, ok: bool) -> None:
        if not ok:
            self.refused += 1
            self.refused_by_device[msg.device] += 1
            return
        kind = msg.kind
        if kind is Kind.READING:
            self.sent[msg.device].add(msg.seq)
            self.readings_acked += 1
        elif kind is Kind.DUPLICATE:
            self.duplicates_acked += 1
        elif kind is Kind.MALFORMED:
            self.malformed_acked += 1
        else:
            self.status_acked += 1


# --- the manifest document -------------------------------------------------------------------


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StopRecord(_Doc):
    role: str
    place: str | None
    lat: float
    lon: float
    arrive: str
    depart: str
    planned_arrive: str | None
    planned_depart: str | None


class IncidentRecord(_Doc):
    kind: str
    shipment_id: str
    device_id: str | None
    at: str
    until: str | None
    place: str | None
    detail: dict[str, float | str]


class ShipmentRecord(_Doc):
    shipment_id: str
    mode: str
    profile: str
    booking: ShipmentBooking
    stops: list[StopRecord]
    customs_cleared_at: str
    delivered_at: str
    incidents: list[IncidentRecord]


class DeviceRecord(_Doc):
    device_id: str
    shipment_id: str
    mqtt_client_id: str
    generated: int
    sent: int
    sent_seq_ranges: list[tuple[int, int]]
    buffered_at_end: int
    dropped_buffer_full: int
    lost_on_death: int
    unacked: int
    refused: int
    duplicates: int
    reordered: int
    malformed: int
    clock_skew_s: float
    died_at: str | None
    retired_at: str | None
    last_seq: int


class Totals(_Doc):
    shipments: int
    trackers: int
    readings_generated: int
    readings_sent: int
    readings_unacked: int
    readings_buffered_at_end: int
    readings_dropped_buffer_full: int
    readings_lost_on_death: int
    duplicates_sent: int
    malformed_sent: int
    status_sent: int
    refused: int
    trackers_died: int
    trackers_retired: int


class Manifest(_Doc):
    """Everything a simulation run did, as JSON (``tradelane simulate --manifest FILE``)."""

    manifest_version: int = 1
    run: dict[str, Any]
    totals: Totals
    shipments: list[ShipmentRecord]
    devices: list[DeviceRecord]

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.model_dump(mode="json"), indent=1) + "\n")


def iso(ts: float) -> str:
    """A simulated instant as ISO 8601 UTC, to the second (like the readings' ``ts``)."""
    return utc(float(round(ts))).isoformat().replace("+00:00", "Z")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else iso(ts)


_iso_req = iso


def build_manifest(
    plan: FleetPlan,
    engine: FleetEngine,
    ledger: AckLedger,
    run: dict[str, Any],
    client_ids: list[str],
) -> Manifest:
    """Assemble the manifest after a run (or from a pure engine run, with an empty ledger)."""
    shipments = [_shipment_record(plan, s) for s in plan.shipments]
    devices = [_device_record(plan, tr, ledger, client_ids) for tr in engine.trackers]
    totals = Totals(
        shipments=len(plan.shipments),
        trackers=len(plan.devices),
        readings_generated=sum(d.generated for d in devices),
        readings_sent=ledger.readings_acked,
        readings_unacked=sum(d.unacked for d in devices),
        readings_buffered_at_end=sum(d.buffered_at_end for d in devices),
        readings_dropped_buffer_full=sum(d.dropped_buffer_full for d in devices),
        readings_lost_on_death=sum(d.lost_on_death for d in devices),
        duplicates_sent=ledger.duplicates_acked,
        malformed_sent=ledger.malformed_acked,
        status_sent=ledger.status_acked,
        refused=ledger.refused,
        trackers_died=sum(1 for d in devices if d.died_at),
        trackers_retired=sum(1 for d in devices if d.retired_at),
    )
    return Manifest(run=run, totals=totals, shipments=shipments, devices=devices)


def _shipment_record(plan: FleetPlan, s: SimShipment) -> ShipmentRecord:
    """A shipment as planned and as it went: booking, actual stops, incidents."""
    stops = [
        StopRecord(
            role=v.role.value,
            place=v.place,
            lat=round(v.pos[0], 5),
            lon=round(v.pos[1], 5),
            arrive=_iso_req(v.arrive),
            depart=_iso_req(v.depart),
            planned_arrive=_iso(v.planned_arrive),
            planned_depart=_iso(v.planned_depart),
        )
        for v in s.voyage.stops
    ]
    incidents = [
        IncidentRecord(
            kind=i.kind.value,
            shipment_id=s.shipment_id,
            device_id=plan.devices[i.device].device_id if i.device is not None else None,
            at=_iso_req(i.at),
            until=_iso(i.until),
            place=i.place,
            detail={
                k: (_iso_req(v) if k.endswith("_at") and isinstance(v, float) else v)
                for k, v in i.detail.items()
            },
        )
        for i in s.incidents
    ]
    return ShipmentRecord(
        shipment_id=s.shipment_id,
        mode=s.mode.value,
        profile=s.profile.value,
        booking=s.booking,
        stops=stops,
        customs_cleared_at=_iso_req(s.voyage.customs_cleared_at),
        delivered_at=_iso_req(s.voyage.delivered_at),
        incidents=incidents,
    )


def _device_record(
    plan: FleetPlan, tr: Tracker, ledger: AckLedger, client_ids: list[str]
) -> DeviceRecord:
    """A tracker's account: what it generated, what the broker acknowledged, what was lost
    where (``unacked`` is what is left once every known fate is subtracted)."""
    sent = ledger.sent[tr.index]
    faults = tr.faults
    return DeviceRecord(
        device_id=tr.spec.device_id,
        shipment_id=plan.shipments[tr.spec.shipment].shipment_id,
        mqtt_client_id=client_ids[tr.index] if client_ids else "",
        generated=tr.generated,
        sent=len(sent),
        sent_seq_ranges=sent.ranges(),
        buffered_at_end=len(tr.buffer),
        dropped_buffer_full=tr.dropped,
        lost_on_death=tr.lost,
        unacked=max(0, tr.generated - len(sent) - len(tr.buffer) - tr.dropped - tr.lost),
        refused=ledger.refused_by_device[tr.index],
        duplicates=faults.duplicated,
        reordered=faults.reordered,
        malformed=faults.malformed,
        clock_skew_s=tr.spec.skew_s,
        died_at=_iso(tr.died_at),
        retired_at=_iso(tr.retired_at),
        last_seq=tr.seq - 1,
    )
