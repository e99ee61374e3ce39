"""The simulator against the real Mosquitto (and Kafka for bookings).

An independent paho subscriber listens on the contract's topic filters before the fleet starts;
each test then checks what arrived against the manifest the run returns.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from pydantic import ValidationError

from cli.main import main
from devices.config import ConnectionMode, FleetConfig
from devices.delivery_faults import FaultKnobs
from devices.fleet import FleetReport, run_fleet
from devices.manifest import expand
from devtools.provisioning import provision_local_fleet
from tradelane.contracts import DeviceState, DeviceStatus, ShipmentBooking, TrackerReading
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import READINGS_FILTER, SHIPMENTS_REGISTRY, STATUS_FILTER
from transport.mqtt import make_client

from .helpers import Tail

pytestmark = pytest.mark.integration


class Subscriber:
    """Collects every message on tracker topics whose device id starts with ``prefix``."""

    def __init__(self, settings: MqttSettings, prefix: str) -> None:
        self.prefix = prefix
        self.lock = threading.Lock()
        self.readings: list[tuple[str, bytes]] = []
        self.statuses: list[tuple[str, bytes, bool]] = []
        self.subscribed = threading.Event()
        self.client = make_client(settings, f"{prefix}-observer")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.settings = settings

    def _on_connect(self, client: mqtt.Client, *_a: object) -> None:
        client.subscribe([(READINGS_FILTER, 1), (STATUS_FILTER, 1)])

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        device = msg.topic.split("/")[3]
        if not device.startswith(self.prefix):
            return
        with self.lock:
            if msg.topic.endswith("/readings"):
                self.readings.append((msg.topic, bytes(msg.payload)))
            else:
                self.statuses.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def valid_readings(self) -> list[tuple[str, TrackerReading]]:
        out = []
        with self.lock:
            items = list(self.readings)
        for topic, payload in items:
            try:
                out.append((topic, TrackerReading.model_validate_json(payload)))
            except ValidationError:
                continue
        return out

    def invalid_payloads(self) -> list[bytes]:
        with self.lock:
            items = list(self.readings)
        bad = []
        for _, payload in items:
            try:
                TrackerReading.model_validate_json(payload)
            except ValidationError:
                bad.append(payload)
        return bad

    def keys(self) -> set[tuple[str, int]]:
        return {(r.device_id, r.seq) for _, r in self.valid_readings()}


@contextmanager
def subscriber(settings: MqttSettings, prefix: str) -> Iterator[Subscriber]:
    sub = Subscriber(settings, prefix)
    sub.client.connect(settings.host, settings.port, 30)
    sub.client.loop_start()
    try:
        assert sub.subscribed.wait(10), "observer did not get its SUBACK"
        yield sub
    finally:
        sub.client.loop_stop()
        sub.client.disconnect()


async def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _config(prefix: str, **overrides: object) -> FleetConfig:
    values: dict[str, object] = {
        "start": datetime.now(UTC).replace(microsecond=0) - timedelta(days=60),
        "trackers": 6,
        "seed": 5,
        "speedup": 2 * 86400.0,
        "duration_s": 4.0,
        "interval_s": 900,
        "prefix": prefix,
        "connection_mode": ConnectionMode.PER_DEVICE,
    }
    values.update(overrides)
    return FleetConfig(**values)  # type: ignore[arg-type]


def _sent(report: FleetReport) -> set[tuple[str, int]]:
    return {(d.device_id, s) for d in report.manifest.devices for s in expand(d.sent_seq_ranges)}


async def test_every_reading_reported_sent_reaches_an_independent_subscriber(
    mqtt_settings: MqttSettings, unique: str
) -> None:
    prefix = f"it{unique}"
    with subscriber(mqtt_settings, prefix) as sub:
        report = await run_fleet(
            _config(prefix), mqtt_settings, None, asyncio.Event(), provision=provision_local_fleet
        )
        sent = _sent(report)
        assert len(sent) > 300
        assert report.manifest.totals.readings_sent == len(sent)
        assert await wait_until(lambda: sent <= sub.keys(), 15), sorted(sent - sub.keys())[:5]
        for topic, reading in sub.valid_readings():
            assert topic == f"tradelane/v1/trackers/{reading.device_id}/readings"
        assert not sub.invalid_payloads()
        # Each tracker said 'online' (retained) at the start and 'offline' when the run ended.
        await wait_until(lambda: len(sub.statuses) >= 2 * 6, 10)
        states: dict[str, list[DeviceState]] = {}
        for _topic, payload, _retained in sub.statuses:
            status = DeviceStatus.model_validate_json(payload)
            states.setdefault(status.device_id, []).append(status.state)
    assert set(states) == {d.device_id for d in report.manifest.devices}
    for seen in states.values():
        assert seen[0] is DeviceState.ONLINE
        assert seen[-1] is DeviceState.OFFLINE


async def test_last_will_fires_when_a_tracker_dies(
    mqtt_settings: MqttSettings, unique: str
) -> None:
    prefix = f"lw{unique}"
    config = _config(
        prefix,
        trackers=3,
        scenario="tracker-dies",
        incident_share=1.0,
        speedup=20 * 86400.0,
        duration_s=5.0,
        interval_s=3600,
        max_trackers_per_shipment=1,
    )
    with subscriber(mqtt_settings, prefix) as sub:
        report = await run_fleet(
            config, mqtt_settings, None, asyncio.Event(), provision=provision_local_fleet
        )
        dead = {d.device_id for d in report.manifest.devices if d.died_at}
        assert dead, "the scenario kills a tracker within the run"

        def wills() -> set[str]:
            found = set()
            for _topic, payload, _retained in list(sub.statuses):
                status = DeviceStatus.model_validate_json(payload)
                # The will is the only offline status without a timestamp: the simulator's own
                # goodbyes carry one, and a dead tracker says nothing itself.
                if status.state is DeviceState.OFFLINE and status.ts is None:
                    found.add(status.device_id)
            return found

        assert await wait_until(lambda: dead <= wills(), 10), (dead, wills())
        assert wills() == dead  # living trackers left cleanly: no will for them
    # Retained: a newcomer still learns that the dead tracker is offline.
    with subscriber(mqtt_settings, prefix) as late:
        assert await wait_until(lambda: len({t for t, _, r in late.statuses if r}) >= 3, 10)
        retained = {json.loads(p)["device_id"]: json.loads(p) for _, p, r in late.statuses if r}
        for device in dead:
            assert retained[device]["state"] == "offline"
            assert retained[device]["ts"] is None


async def test_shared_connections_with_fault_knobs(
    mqtt_settings: MqttSettings, unique: str
) -> None:
    prefix = f"sh{unique}"
    config = _config(
        prefix,
        trackers=30,
        connection_mode=ConnectionMode.SHARED,
        connections=2,
        faults=FaultKnobs(
            duplicate_rate=0.05, out_of_order_rate=0.05, malformed_rate=0.05, clock_skew_s=300
        ),
    )
    with subscriber(mqtt_settings, prefix) as sub:
        report = await run_fleet(
            config, mqtt_settings, None, asyncio.Event(), provision=provision_local_fleet
        )
        totals = report.manifest.totals
        sent = _sent(report)
        assert totals.malformed_sent > 10
        assert totals.duplicates_sent > 10
        assert await wait_until(lambda: sent <= sub.keys(), 15), sorted(sent - sub.keys())[:5]
        assert await wait_until(lambda: len(sub.invalid_payloads()) >= totals.malformed_sent, 10)
        assert len(sub.invalid_payloads()) == totals.malformed_sent
        assert len(sub.valid_readings()) >= totals.readings_sent + totals.duplicates_sent
    assert {d.mqtt_client_id for d in report.manifest.devices} == {f"{prefix}-gw0", f"{prefix}-gw1"}


async def test_bookings_reach_the_shipments_registry(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings, unique: str
) -> None:
    prefix = f"bk{unique}"
    config = _config(prefix, trackers=5, duration_s=2.0)
    async with Tail(kafka_settings, SHIPMENTS_REGISTRY.name) as tail:
        report = await run_fleet(
            config, mqtt_settings, kafka_settings, asyncio.Event(), provision=provision_local_fleet
        )
        expected = {s.shipment_id: s for s in report.manifest.shipments}

        def ours(records: list) -> dict[str, ShipmentBooking]:  # type: ignore[type-arg]
            got = {}
            for record in records:
                if record.key and record.key.decode().startswith(prefix):
                    got[record.key.decode()] = ShipmentBooking.model_validate_json(record.value)
            return got

        records = await tail.until(lambda rs: set(ours(rs)) >= set(expected), 30)
    got = ours(records)
    assert set(got) == set(expected)
    assert report.bookings_sent == len(expected)
    for shipment_id, booking in got.items():
        assert booking.trackers == expected[shipment_id].booking.trackers
        assert booking.legs == expected[shipment_id].booking.legs


def test_cli_runs_and_writes_a_manifest(
    tmp_path: Path, mqtt_settings: MqttSettings, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "manifest.json"
    code = main(
        [
            "simulate",
            "--trackers",
            "4",
            "--scenario",
            "theft",
            "--seed",
            "3",
            "--speedup",
            "86400",
            "--duration",
            "2",
            "--bookings",
            "off",
            "--quiet",
            "--prefix",
            f"cli{unique}",
            "--mqtt-url",
            mqtt_settings.url,
            "--manifest",
            str(manifest),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "readings:" in out
    doc = json.loads(manifest.read_text())
    assert doc["run"]["scenario"] == "theft"
    assert doc["totals"]["readings_sent"] > 0
    assert len(doc["devices"]) == 4
