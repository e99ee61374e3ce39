"""The simulator's series read the run's ack ledger when scraped: every message kind is
published and acknowledged under its own label, and the devices by state."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from devices.manifest import AckLedger
from devices.messages import Kind, Outgoing
from devices.metrics import SimulatorMetrics
from transport.metrics import value


def _message(kind: Kind, device: int = 0, seq: int = -1) -> Outgoing:
    return Outgoing(kind, device, seq, "t", b"{}")


def test_counts_come_from_the_ledger_by_kind_and_devices_by_state() -> None:
    metrics = SimulatorMetrics()
    assert value(metrics.registry, "tradelane_simulator_acked_total", {"kind": "reading"}) == 0
    ledger = AckLedger(2)
    sent = [_message(Kind.READING, 0, 1), _message(Kind.READING, 1, 1), _message(Kind.STATUS)]
    sent += [_message(Kind.MALFORMED), _message(Kind.DIED)]
    ledger.count_submitted(sent)
    for message in sent[:3]:
        ledger.on_ack(message, ok=True)
    ledger.on_ack(sent[3], ok=False)
    trackers = [SimpleNamespace(index=0, alive=True), SimpleNamespace(index=1, alive=False)]
    engine = cast(Any, SimpleNamespace(trackers=trackers))
    publisher = cast(Any, SimpleNamespace(device_online=lambda index: index == 0))
    metrics.watch(ledger, engine, publisher)
    r = metrics.registry

    def kind(name: str, kind: str) -> float:
        return value(r, f"tradelane_simulator_{name}_total", {"kind": kind})

    assert (kind("published", "reading"), kind("acked", "reading")) == (2, 2)
    assert (kind("published", "malformed"), kind("acked", "malformed")) == (1, 0)
    assert (kind("published", "status"), kind("acked", "status")) == (1, 1)
    assert value(r, "tradelane_simulator_refused_total") == 1
    devices = {s: value(r, "tradelane_simulator_devices", {"state": s}) for s in ("total", "alive")}
    assert devices == {"total": 2, "alive": 1}
    assert value(r, "tradelane_simulator_devices", {"state": "online"}) == 1
