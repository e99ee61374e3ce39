"""The AsyncAPI document: generated from the contracts, valid for the official AsyncAPI parser
(npm ``@asyncapi/parser`` run with the machine's Node, pinned by tools/asyncapi/package-lock.json
and installed by this test with ``npm ci``), exported by ``tradelane schemas export`` and served
by the API."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import jsonschema_rs
import pytest

from tradelane.asyncapi import WEBHOOK_EVENT, asyncapi_document
from tradelane.contracts import ALL_CONTRACTS
from tradelane.contracts.envelope import EventEnvelope
from tradelane.topics import KAFKA_TOPICS
from webhooks.delivery import with_traceparent

TOOLS = Path(__file__).resolve().parents[2] / "tools" / "asyncapi"


@pytest.fixture(scope="module")
def parser_dir() -> Path:
    """tools/asyncapi with its locked node_modules (``npm ci`` once, when the lock changed)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("node and npm are required to validate the AsyncAPI document")
    stamp = TOOLS / "node_modules" / ".package-lock.json"
    lock = TOOLS / "package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=TOOLS,
            check=True,
            timeout=600,
        )
    return TOOLS


def _validate(parser_dir: Path, document: dict[str, object], tmp_path: Path) -> str:
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(document))
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, str(parser_dir / "validate.mjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_official_parser_accepts_the_document(parser_dir: Path, tmp_path: Path) -> None:
    out = _validate(parser_dir, asyncapi_document(), tmp_path)
    assert f"ok: {len(KAFKA_TOPICS) + 4} channels" in out  # + 2 MQTT, webhooks, tenant views


def test_official_parser_rejects_a_broken_document(parser_dir: Path, tmp_path: Path) -> None:
    broken = asyncapi_document()
    broken["channels"]["trackerReadings"]["bindings"]["kafka"]["partitions"] = "twelve"
    with pytest.raises(AssertionError, match="partitions"):
        _validate(parser_dir, broken, tmp_path)


def test_every_topic_has_channel_key_partitions_and_contract() -> None:
    doc = asyncapi_document()
    channels = {c["address"]: c for c in doc["channels"].values()}
    schemas = doc["components"]["schemas"]
    for topic in KAFKA_TOPICS:
        channel = channels[topic.name]
        assert channel["bindings"]["kafka"]["partitions"] == topic.partitions
        (message_ref,) = channel["messages"].values()
        message = doc["components"]["messages"][message_ref["$ref"].rsplit("/", 1)[1]]
        assert topic.key in message["bindings"]["kafka"]["key"]["description"]
        payload = message["payload"]["$ref"].rsplit("/", 1)[1]
        assert payload in schemas
    for name in ALL_CONTRACTS:
        assert name in schemas
    webhook = doc["components"]["messages"]["webhookDelivery"]["headers"]["required"]
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(webhook)


def test_every_ref_resolves() -> None:
    doc = asyncapi_document()
    text = json.dumps(doc)
    for ref in {r.split('"')[0] for r in text.split('"$ref": "')[1:]}:
        node: object = doc
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict), ref
            node = node[part]


def _validator(component: str) -> jsonschema_rs.Validator:
    doc = asyncapi_document()
    root = {"$ref": f"#/components/schemas/{component}", "components": doc["components"]}
    return jsonschema_rs.validator_for(root)


def test_a_traced_webhook_delivery_matches_its_documented_payload() -> None:
    """The delivered CloudEvent carries the distributed-tracing extension, which the plain
    envelope forbids: the webhook message documents the extended schema."""
    event = EventEnvelope(
        id="e-1",
        source="/tradelane/finance",
        type="tradelane.finance.drawdown_released.v1",
        subject="facility-1",
        time=datetime(2026, 12, 7, tzinfo=UTC),
        data={"amount": "100.00"},
    )
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    body = json.loads(with_traceparent(event.model_dump_json().encode(), parent))
    assert body["traceparent"] == parent
    webhook = asyncapi_document()["components"]["messages"]["webhookDelivery"]
    assert webhook["payload"]["$ref"].endswith("/" + WEBHOOK_EVENT)
    assert _validator(WEBHOOK_EVENT).is_valid(body)
    assert not _validator("kafka.event_envelope.v1").is_valid(body)
    assert not _validator(WEBHOOK_EVENT).is_valid({**body, "traceparent": "not-a-context"})


def test_every_kafka_message_documents_the_trace_headers() -> None:
    """Each topic's message names the W3C headers a traced hop adds (the per-tenant views
    are copies the webhook worker writes, without them)."""
    messages = asyncapi_document()["components"]["messages"]
    kafka = [m for m in messages.values() if "kafka" in m.get("bindings", {})]
    topics = [m for m in kafka if m["name"] != "tenant_view_event"]
    assert len(topics) == len(KAFKA_TOPICS)
    for message in topics:
        assert set(message["headers"]["properties"]) == {"traceparent", "tracestate"}
