"""Fuzz: no payload escapes a decoder. Every MQTT payload adapter, and every consumer's
decoding of every Kafka topic it reads, is fed generated hostile payloads (random bytes and
JSON, and valid payloads with one part replaced by something nasty); each must end in a
value or a refusal (a dead letter, a validation error, a skipped record), never in another
exception. An escape in the bridge left a message unacknowledged, redelivered after every
restart; in a worker it stopped a loop.

Each family's payloads (``TRADELANE_FUZZ_EXAMPLES``, 1,500 by default) are spread over its
targets; the full run is ``TRADELANE_FUZZ_EXAMPLES=100000 .venv/bin/pytest tests/unit/fuzz``
(docs/ingest.md). Each test asserts it ran its share and prints the count (``-s``)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from api.projection import SOURCE_TOPICS, ReadModel
from api.projection import apply as project
from api.shares.store import ShareBook
from ingest.adapters.base import Adapter, Rejected
from ingest.adapters.registry import ADAPTERS, select
from ingest.intake import intake, intake_status
from streams.hotpath import BOOKING, HotPath
from streams.loop import RecordFailedError
from streams.pledge_stage import PledgeStage
from streams.registries import FOLLOWED, Registries
from tests.samples import booking
from tests.unit.finance import builders as fin
from tests.unit.fuzz import payloads as gen
from tests.unit.webhooks.test_audience import SUBS, directory
from tradelane import deadletters
from tradelane.contracts import DeadLetter, IngestedReading, IngestedStatus
from tradelane.settings import KafkaSettings
from tradelane.topics import (
    API_SHARES,
    FINANCE_COMMANDS,
    FINANCE_EVENTS,
    INSURANCE_CLAIMS,
    INSURANCE_COMMANDS,
    KAFKA_TOPICS,
    SHIPMENTS_EVENTS,
    TRACKER_DEADLETTER,
    TRACKER_READINGS,
    TRACKER_STATUS,
)
from webhooks.worker import REGISTRY_TOPICS, WebhookWorker

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
LETTER_MAX = 12_000
"""A dead letter's size, whatever it refused (a 4 KiB prefix in base64 and bounded text)."""

# --- MQTT payload adapters ------------------------------------------------------------------

MQTT_TARGETS: dict[str, tuple[str, list[Any]]] = {
    "tradelane": ("tradelane/v1/trackers/trk-1/readings", gen.native_seeds()),
    "owntracks": ("owntracks/alice/phone", gen.owntracks_seeds()),
    "ttn": ("v3/app@ttn/devices/dev-1/up", gen.ttn_seeds()),
    "status": ("tradelane/v1/trackers/trk-1/status", gen.status_seeds()),
}
ALL_ADAPTERS = select()


def _bounded(letter: DeadLetter) -> None:
    assert len(letter.model_dump_json()) < LETTER_MAX


def _check_mqtt(name: str, topic: str, payload: bytes) -> None:
    if name == "status":
        status = intake_status(topic, payload, NOW)
        assert isinstance(status, IngestedStatus | DeadLetter)
        if isinstance(status, DeadLetter):
            _bounded(status)
        return
    adapter: Adapter = ADAPTERS[name]
    with contextlib.suppress(Rejected):  # a refusal with its reason: all an adapter may raise
        adapter.decode(topic, payload, NOW)
    out = intake(topic, payload, NOW, ALL_ADAPTERS)
    assert isinstance(out, IngestedReading | DeadLetter)
    if isinstance(out, DeadLetter):
        _bounded(out)


@pytest.mark.parametrize("name", sorted(MQTT_TARGETS))
def test_no_mqtt_payload_escapes_an_adapter(name: str) -> None:
    topic, seeds = MQTT_TARGETS[name]
    ran = [0]

    @gen.per_target(len(MQTT_TARGETS))
    @given(payload=gen.payloads(seeds))
    def fuzz(payload: bytes) -> None:
        ran[0] += 1
        _check_mqtt(name, topic, payload)

    fuzz()
    assert ran[0] >= -(-gen.TOTAL // len(MQTT_TARGETS))
    print(f"{name}: {ran[0]:,} payloads, 0 escapes")


# --- Kafka topics' decoders -----------------------------------------------------------------

SEEDS = gen.kafka_seeds()
ANY_SEEDS = [doc for docs in SEEDS.values() for doc in docs]
BY_SHIPMENT, FINANCE_IN = "w-by-shipment", "w-finance-in"
SHIPMENT_TAGS = [b"B", b"R", b"S", b"D", b"", b"E", b"\xff"]
FINANCE_TAGS = [b"E", b"C", b"", b"B", b"\xff"]
MODELS: dict[str, type[BaseModel]] = {t.name: t.value_model for t in KAFKA_TOPICS}
KEYS = st.sampled_from([b"shp-1", b"trk-1", b"fac-1", b"", b"\xff\xfe", b"x" * 300]) | st.none()


def _message(topic: str, key: bytes | None, value: bytes) -> Any:
    return ConsumerRecord(topic, 0, 7, 0, 0, key, value, None, 0, 0, ())


def _registries() -> Registries:
    registries = Registries()
    for record in (booking("shp-1", ["trk-1"]), *fin.setup()):
        registries.learn(record)  # type: ignore[arg-type]
    return registries


def _letters_bounded(sends: list[tuple[str, bytes, bytes, int | None]]) -> None:
    for topic, _key, value, _p in sends:
        if topic == TRACKER_DEADLETTER.name:
            assert len(value) < LETTER_MAX


def _hot() -> HotPath:
    hot = HotPath(_registries(), BY_SHIPMENT, ("c-ship", "c-ins"), FINANCE_IN)
    hot.shipments.load(0, [])
    hot.insurance.load(0, [])
    return hot


def _pledge() -> PledgeStage:
    stage = PledgeStage(_registries(), FINANCE_IN, "c-fac")
    stage.store.load(0, [])
    return stage


def _check_topic(topic: str, key: bytes | None, value: bytes) -> None:
    """Whatever reads ``topic`` takes ``value`` without an exception escaping."""
    model = MODELS.get(topic)
    if model is not None:
        try:
            record = model.model_validate_json(value)
        except ValidationError as exc:
            _bounded(
                deadletters.for_error("fuzz", topic, 0, 7, key, value, NOW, exc)
            )  # what a consumer makes of it
        else:
            if topic in FOLLOWED:
                _registries().learn(record)
    if topic in (TRACKER_READINGS.name, TRACKER_STATUS.name, INSURANCE_COMMANDS.name):
        _letters_bounded(_hot().route(topic, [_message(topic, key, value)]))
    if topic == FINANCE_COMMANDS.name:
        _letters_bounded(_pledge().route(topic, [_message(topic, key, value)]))
    if topic == BY_SHIPMENT:
        hot = _hot()
        first = BOOKING + booking("shp-1", ["trk-1"]).model_dump_json().encode()
        try:
            sends = hot.apply([(topic, 0, b"shp-1", first, 1), (topic, 0, key or b"", value, 2)])
        except RecordFailedError:
            pass  # quarantined by the loop, dead-lettered on its replay
        else:
            _letters_bounded(sends)
    if topic == FINANCE_IN:
        _letters_bounded(_pledge().apply([(topic, 0, key or b"", value, 3)]))
    if topic in SOURCE_TOPICS:
        project(ReadModel(), topic, value)
    if topic in WEBHOOK_ROUTED:
        _webhooks().route(topic, 0, 7, value)
    if topic in REGISTRY_TOPICS:
        _webhooks().apply_registry(topic, key, value)
    if topic == API_SHARES.name:
        ShareBook().apply(key, value)


WEBHOOK_ROUTED = {FINANCE_EVENTS.name, INSURANCE_CLAIMS.name, SHIPMENTS_EVENTS.name}


def _webhooks() -> WebhookWorker:
    """The webhook worker with a directory and subscriptions, as it routes events."""
    worker = WebhookWorker(KafkaSettings(), clock=lambda: 0.0)
    worker.directory = directory()
    for sub in SUBS:
        worker.book.put(sub)
    return worker


def _topic_payloads(topic: str) -> st.SearchStrategy[bytes]:
    if topic == BY_SHIPMENT:
        seeds = [*SEEDS["shipments.registry"], *SEEDS["tracker.readings"]]
        seeds += [*SEEDS["tracker.status"], *SEEDS["insurance.commands"]]
        return st.tuples(st.sampled_from(SHIPMENT_TAGS), gen.payloads(seeds)).map(b"".join)
    if topic == FINANCE_IN:
        seeds = [*SEEDS["shipments.events"], *SEEDS["finance.commands"]]
        return st.tuples(st.sampled_from(FINANCE_TAGS), gen.payloads(seeds)).map(b"".join)
    return gen.payloads(SEEDS.get(topic) or ANY_SEEDS)


KAFKA_TARGETS = sorted({*MODELS, BY_SHIPMENT, FINANCE_IN})


@pytest.mark.parametrize("topic", KAFKA_TARGETS)
def test_no_record_escapes_a_consumer(topic: str) -> None:
    ran = [0]

    @gen.per_target(len(KAFKA_TARGETS))
    @given(key=KEYS, value=_topic_payloads(topic))
    def fuzz(key: bytes | None, value: bytes) -> None:
        ran[0] += 1
        _check_topic(topic, key, value)

    fuzz()
    assert ran[0] >= -(-gen.TOTAL // len(KAFKA_TARGETS))
    print(f"{topic}: {ran[0]:,} records, 0 escapes")


def test_the_generator_reaches_the_nasty_cases() -> None:
    """The payloads include what escaped before: a 5,000-digit number, nesting deeper than
    the parser recurses, a course of "x"."""
    texts = set(gen.NASTY)
    assert "9" * 5000 in texts
    assert any(t.startswith("[" * 3000) for t in texts)
    assert '"x"' in texts
    seeds: list[Any] = gen.owntracks_seeds()
    found: list[bytes] = []

    @settings(max_examples=200, deadline=None, database=None)
    @given(payload=gen.mutated(seeds))
    def collect(payload: bytes) -> None:
        found.append(payload)

    collect()
    decoded = [json.loads(p) for p in found if _loads(p)]
    assert any(isinstance(d, dict) and d.get("_type") == "location" for d in decoded)


def _loads(payload: bytes) -> bool:
    try:
        json.loads(payload)
    except (ValueError, RecursionError):
        return False
    return True


@pytest.mark.parametrize("target", ["owntracks", FINANCE_COMMANDS.name])
def test_the_atheris_harness_runs(target: str) -> None:
    """The optional coverage-guided harness runs (skipped where atheris is not installed)."""
    pytest.importorskip("atheris")
    done = subprocess.run(
        [sys.executable, "-m", "tests.unit.fuzz.atheris_harness", target, "-atheris_runs=300"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Done 300 " in done.stderr
