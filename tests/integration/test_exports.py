"""Exports on the real services and a real `tradelane api` process: a booked shipment with a
departure and readings stored in InfluxDB (the sink's own line format), a facility of bank A
pledging it whose signed ledger is on finance.ledger and finance.checkpoints. The API's track
parses back with gpxpy and geojson + shapely to the points stored, the readings with csv, the
ledger CSV to the exact amounts, and the bundle verifies with `tradelane ledger verify --file`
while a tampered copy fails; `tradelane export` writes the same bytes; bank B and an insurer
get 404."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import geojson
import gpxpy
import pytest
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from shapely.geometry import LineString, shape

from cli.main import main
from finance.checkpoints import CheckpointSigner
from finance.demo_terms import demo_facility
from finance.ledger_keys import public_pem
from finance.ledger_store import LedgerStore
from ingest.points import to_lines
from tests.integration.api_helpers import RunningApi, running_api
from tests.integration.helpers import run_tradelane
from tests.integration.test_ledger_signed import _ledger
from tests.unit.api import records
from tradelane.contracts import IngestedReading
from tradelane.contracts.finance import LedgerEntry
from tradelane.settings import InfluxSettings, KafkaSettings
from tradelane.topics import FINANCE_FACILITIES
from transport import kafka as clients

pytestmark = pytest.mark.integration

POSITIONS = [(31.23, 121.47), (31.0, 122.2), (30.1, 123.95), (28.4, 125.5), (25.0, 127.01)]


async def _produce(kafka: KafkaSettings, wire: list[tuple[str, str, bytes]]) -> None:
    producer = clients.producer(kafka, acks="all")
    await producer.start()
    try:
        for topic, key, value in wire:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def _store_readings(influx: InfluxSettings, shipment: str, device: str) -> list[str]:
    """Readings five minutes apart, written as the sink writes them; their times, in order."""
    made = [records.reading(device, i, 5 * i, lat, lon) for i, (lat, lon) in enumerate(POSITIONS)]
    readings = [IngestedReading.model_validate_json(value) for _, value in made]
    lines = to_lines(readings, {device: shipment})
    token = influx.token.get_secret_value()
    async with InfluxDBClientAsync(influx.url, token, org=influx.org) as client:
        await client.write_api().write(influx.bucket, record="\n".join(lines))
    return [r.reading.ts.isoformat() for r in readings]


def _scenario(
    kafka: KafkaSettings, influx: InfluxSettings, signer: CheckpointSigner, unique: str
) -> tuple[str, str, list[LedgerEntry], list[str]]:
    shipment, device, facility = f"shp-x{unique}", f"dev-x{unique}", f"fa-x{unique}"
    terms = demo_facility(facility, [shipment]).model_copy(update={"bank_id": f"A{unique}"})
    booked, departed = records.booked(shipment, device), records.departed(shipment, 12)
    wire = [
        (booked[0], shipment, booked[1]),
        (departed[0], shipment, departed[1]),
        (FINANCE_FACILITIES.name, facility, terms.model_dump_json().encode()),
    ]
    entries = _ledger(facility)
    asyncio.run(_produce(kafka, wire))
    asyncio.run(LedgerStore(kafka, signer=signer).append(entries))
    times = asyncio.run(_store_readings(influx, shipment, device))
    return shipment, facility, entries, times


def _check_track(api: RunningApi, shipment: str, times: list[str]) -> str:
    path = f"/api/v1/shipments/{shipment}/export"
    gpx_text = api.get(f"{path}?format=gpx", api.keys["bank_a"]).text
    points = gpxpy.parse(gpx_text).tracks[0].segments[0].points
    assert [(p.latitude, p.longitude) for p in points] == POSITIONS
    assert [p.time.isoformat().replace("Z", "+00:00") for p in points if p.time] == times
    assert [p.name for p in points] == [None, None, "departed_origin", None, None]
    answer = api.get(f"{path}?format=geojson", api.keys["bank_a"])
    assert answer.headers["content-type"].startswith("application/geo+json")
    assert geojson.loads(answer.text).is_valid
    features = json.loads(answer.text)["features"]
    (track,) = [f for f in features if f["properties"]["kind"] == "track"]
    assert shape(track["geometry"]).equals_exact(LineString([(x, y) for y, x in POSITIONS]), 0)
    rows = list(csv.DictReader(io.StringIO(api.get(f"{path}?format=csv", api.keys["bank_a"]).text)))
    assert [int(r["seq"]) for r in rows] == list(range(len(POSITIONS)))
    assert {r["temperature_c"] for r in rows} == {"5"}
    return gpx_text


def _check_ledger(api: RunningApi, facility: str, entries: list[LedgerEntry]) -> bytes:
    path = f"/api/v1/facilities/{facility}/ledger/export"
    rows = list(csv.DictReader(io.StringIO(api.get(f"{path}?format=csv", api.keys["bank_a"]).text)))
    assert [Decimal(r["amount"]) for r in rows] == [p.amount for e in entries for p in e.postings]
    answer = api.get(f"{path}?format=bundle", api.keys["bank_a"])
    assert answer.status_code == 200, answer.text
    return answer.content


def test_exports_parse_back_verify_and_stay_within_tenancy(
    kafka_settings: KafkaSettings,
    influx_settings: InfluxSettings,
    ledger_signer: CheckpointSigner,
    tmp_path: Path,
    unique: str,
) -> None:
    shipment, facility, entries, times = _scenario(
        kafka_settings, influx_settings, ledger_signer, unique
    )
    # no readings on Kafka to replay (they are in InfluxDB): the read model is ready sooner
    with running_api(tmp_path, unique, env={"TRADELANE_API_READINGS_LOOKBACK_S": "0"}) as api:
        gpx_text = _check_track(api, shipment, times)
        bundle = _check_ledger(api, facility, entries)
        for other in ("bank_b", "insurer"):
            key = api.keys[other]
            assert api.get(f"/api/v1/shipments/{shipment}/export", key).status_code == 404
            assert api.get(f"/api/v1/facilities/{facility}/ledger/export", key).status_code == 404
    saved, pem = tmp_path / "bundle.json", tmp_path / "ledger.pem"
    saved.write_bytes(bundle)
    pem.write_text(public_pem(ledger_signer.public_key))
    argv = ["ledger", "verify", "--facility", facility, "--public-key", str(pem), "--file"]
    assert main([*argv, str(saved)]) == 0
    doc = json.loads(bundle)
    doc["entries"][0]["postings"][0]["amount"] = "1"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))
    assert main([*argv, str(tampered)]) == 1
    cli_bundle, cli_gpx = tmp_path / "cli.json", tmp_path / "cli.gpx"
    for argv in (
        ["bundle", "--facility", facility, "-o", str(cli_bundle)],
        ["track", "--shipment", shipment, "-o", str(cli_gpx)],
    ):
        done = run_tradelane("export", *argv, timeout_s=60)
        assert done.returncode == 0, done.stderr
    assert cli_bundle.read_bytes() == bundle
    assert cli_gpx.read_text() == gpx_text
