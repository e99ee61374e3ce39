"""The AsyncAPI 3 document of every channel Tradelane speaks: MQTT topics devices publish to,
every Kafka topic (name, partitions, cleanup policy, key, value contract), the per-tenant view
topics and the signed webhook deliveries (with their Standard Webhooks headers), and the W3C
trace context a traced hop adds (Kafka record headers, the CloudEvents distributed-tracing
extension of a webhook delivery; docs/operations.md#tracing).

It is generated from the same pydantic contracts and topic table the code runs on, so it cannot
drift from them: :func:`asyncapi_document` is served by the API and written by
``tradelane schemas export`` next to the JSON Schemas. Every schema lives once under
``components/schemas`` (named by its export name for top-level contracts) and messages refer
to it by ``$ref``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from tradelane import __version__
from tradelane.contracts import ALL_CONTRACTS
from tradelane.topics import (
    KAFKA_TOPICS,
    MQTT_ROOT,
    TENANT_TOPIC_PREFIX,
    KafkaTopic,
    MqttKind,
    tenant_topic,
)

ASYNCAPI_VERSION = "3.1.0"
KAFKA_BINDING_VERSION = "0.5.0"
_REF_PREFIX = "#/components/schemas/"
_COMPONENT_NAME = re.compile(r"[^A-Za-z0-9.\-_]")

TRACEPARENT_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
    "description": "W3C trace context of the span that caused this message (present when "
    "the hop that wrote it was traced)",
}
KAFKA_TRACE_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "Kafka record headers: absent unless the producing process traces",
    "properties": {
        "traceparent": TRACEPARENT_SCHEMA,
        "tracestate": {"type": "string", "description": "W3C tracestate, vendor entries"},
    },
}
WEBHOOK_EVENT = "webhook_cloudevent"
"""The delivered CloudEvent: the event envelope plus the distributed-tracing extension."""


WEBHOOK_HEADERS: dict[str, Any] = {
    "type": "object",
    "required": ["webhook-id", "webhook-timestamp", "webhook-signature", "content-type"],
    "properties": {
        "webhook-id": {
            "type": "string",
            "description": "Delivery id, derived from the event id and the subscription id: "
            "the same for every retry and replay, so receivers de-duplicate on it",
        },
        "webhook-timestamp": {
            "type": "string",
            "pattern": "^[0-9]+$",
            "description": "Unix seconds when this attempt was signed; reject if > 5 min off",
        },
        "webhook-signature": {
            "type": "string",
            "description": "Space-separated `v1,<base64 HMAC-SHA256 of id.timestamp.body>`, "
            "one per active secret (two during a rotation overlap)",
        },
        "content-type": {"type": "string", "const": "application/cloudevents+json"},
        "traceparent": {**TRACEPARENT_SCHEMA, "description": "this delivery attempt's span"},
    },
}


def _component_name(export_name: str) -> str:
    return _COMPONENT_NAME.sub("_", export_name)


def _rewrite(node: Any, renames: dict[str, str]) -> Any:
    """Rename ``$ref`` targets and turn pydantic's OpenAPI-style ``discriminator`` objects into
    the AsyncAPI Schema form (the property name as a string)."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = value.removeprefix(_REF_PREFIX)
                out[key] = _REF_PREFIX + renames.get(name, name)
            elif key == "discriminator" and isinstance(value, dict):
                out[key] = value["propertyName"]
            else:
                out[key] = _rewrite(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite(item, renames) for item in node]
    return node


def component_schemas() -> tuple[dict[str, Any], dict[type[BaseModel], str]]:
    """Every contract and every model they use, once, keyed by component name; and the
    component name of each top-level contract."""
    items = [(model, "validation") for model in ALL_CONTRACTS.values()]
    key_map, defs = models_json_schema(items, ref_template=_REF_PREFIX + "{model}")  # type: ignore[arg-type]
    renames: dict[str, str] = {}
    names: dict[type[BaseModel], str] = {}
    for export_name, model in ALL_CONTRACTS.items():
        ref = key_map[(model, "validation")]["$ref"].removeprefix(_REF_PREFIX)
        renames[ref] = _component_name(export_name)
        names[model] = _component_name(export_name)
    schemas = {
        renames.get(name, name): _rewrite(schema, renames)
        for name, schema in defs.get("$defs", {}).items()
    }
    return dict(sorted(schemas.items())), names


def _camel(name: str) -> str:
    parts = re.split(r"[._]", name)
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def _kafka_channel(topic: KafkaTopic, message: str) -> dict[str, Any]:
    config: dict[str, Any] = {"cleanup.policy": [topic.cleanup_policy]}
    if topic.retention_ms is not None:
        config["retention.ms"] = topic.retention_ms
    return {
        "address": topic.name,
        "title": topic.name,
        "description": f"Kafka topic `{topic.name}`: {topic.partitions} partitions, "
        f"cleanup `{topic.cleanup_policy}`, keyed by {topic.key}.",
        "messages": {message: {"$ref": f"#/components/messages/{message}"}},
        "bindings": {
            "kafka": {
                "topic": topic.name,
                "partitions": topic.partitions,
                "topicConfiguration": config,
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


@dataclass(frozen=True, slots=True)
class _Channel:
    """One channel with its one message and its one operation, all named by ``cid``."""

    cid: str
    channel: dict[str, Any]
    message: dict[str, Any]
    operation: str
    """The operation's name prefix (``publish``, ``receive``, ``deliver``)."""
    action: str
    """The operation's AsyncAPI action (``send`` or ``receive``)."""


def asyncapi_document() -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document, deterministic for a given code version."""
    schemas, names = component_schemas()
    entries = [
        *(_kafka_entry(topic, names) for topic in KAFKA_TOPICS),
        *_mqtt_entries(),
        _tenant_view_entry(),
        _webhook_entry(),
    ]
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Tradelane events",
            "version": __version__,
            "description": "Goods in transit, tracked from IoT trackers and financed: MQTT "
            "device topics, Kafka topics and signed webhooks. Generated from the pydantic "
            "contracts; JSON Schemas of each contract are in docs/schemas/.",
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": _servers(),
        "channels": {e.cid: e.channel for e in entries},
        "operations": {f"{e.operation}_{e.cid}": _operation(e) for e in entries},
        "components": {
            "schemas": {**schemas, WEBHOOK_EVENT: _webhook_event(schemas)},
            "messages": {e.cid: e.message for e in entries},
        },
    }


def _operation(entry: _Channel) -> dict[str, Any]:
    cid = entry.cid
    return {
        "action": entry.action,
        "channel": {"$ref": f"#/channels/{cid}"},
        "messages": [{"$ref": f"#/channels/{cid}/messages/{cid}"}],
    }


def _on_kafka(channel: dict[str, Any]) -> dict[str, Any]:
    """``channel`` served by the Kafka server (a key added last, where the document has it)."""
    channel.setdefault("servers", [{"$ref": "#/servers/kafka"}])
    return channel


def _kafka_entry(topic: KafkaTopic, names: dict[type[BaseModel], str]) -> _Channel:
    """A Kafka topic the services publish, with its value contract and key."""
    cid = _camel(topic.name)
    schema_name = names[topic.value_model]
    message = {
        "name": schema_name,
        "title": f"{topic.name} value",
        "contentType": "application/json",
        "headers": KAFKA_TRACE_HEADERS,
        "payload": {"$ref": _REF_PREFIX + schema_name},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"the {topic.key}"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    return _Channel(cid, _on_kafka(_kafka_channel(topic, cid)), message, "publish", "send")


def _mqtt_entries() -> list[_Channel]:
    """The MQTT topics trackers publish readings and statuses to (the services receive)."""
    entries = []
    for kind, export_name in (
        (MqttKind.READINGS, "mqtt.tracker_reading.v1"),
        (MqttKind.STATUS, "mqtt.device_status.v1"),
    ):
        cid = f"tracker{kind.value.capitalize()}Mqtt"
        message = {
            "name": _component_name(export_name),
            "contentType": "application/json",
            "payload": {"$ref": _REF_PREFIX + _component_name(export_name)},
        }
        channel = {
            "address": f"{MQTT_ROOT}/{{deviceId}}/{kind.value}",
            "servers": [{"$ref": "#/servers/mqtt"}],
            "parameters": {"deviceId": {"description": "the tracker's device id"}},
            "messages": {cid: {"$ref": f"#/components/messages/{cid}"}},
        }
        entries.append(_Channel(cid, channel, message, "receive", "receive"))
    return entries


def _tenant_view_entry() -> _Channel:
    """The per-tenant view topics, one channel with the tenant as parameters."""
    view = tenant_topic("bank", "example")
    message = {
        "name": "tenant_view_event",
        "title": "An event one tenant may see",
        "contentType": "application/json",
        "payload": {"$ref": _REF_PREFIX + _component_name("kafka.event_envelope.v1")},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"the {view.key}"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    channel = {
        "address": f"{TENANT_TOPIC_PREFIX}.{{role}}.{{party}}.{{hash}}",
        "title": "per-tenant view",
        "description": "A bank's or insurer's own copy of the finance, claim and shipment "
        "events it may see (tradelane.topics.tenant_topic; docs/webhooks.md).",
        "parameters": {
            "role": {"enum": ["bank", "insurer", "borrower"]},
            "party": {"description": "the party id, characters Kafka refuses replaced by _"},
            "hash": {"description": "10 hex characters of the SHA-256 of the exact party id"},
        },
        "messages": {"tenantView": {"$ref": "#/components/messages/tenantView"}},
        "bindings": {
            "kafka": {
                "partitions": view.partitions,
                "topicConfiguration": {
                    "cleanup.policy": [view.cleanup_policy],
                    "retention.ms": view.retention_ms,
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    return _Channel("tenantView", _on_kafka(channel), message, "publish", "send")


def _webhook_entry() -> _Channel:
    """Signed webhook deliveries to each subscription's own URL."""
    message = {
        "name": "webhook_delivery",
        "title": "Signed webhook delivery",
        "summary": "One event POSTed to a subscriber's URL as a CloudEvents 1.0 JSON object, "
        "signed per Standard Webhooks",
        "contentType": "application/cloudevents+json",
        "headers": WEBHOOK_HEADERS,
        "payload": {"$ref": _REF_PREFIX + WEBHOOK_EVENT},
    }
    channel = {
        "address": None,
        "title": "webhook subscriber URL",
        "description": "The URL of a webhook subscription (see docs/webhooks.md).",
        "servers": [{"$ref": "#/servers/webhooks"}],
        "messages": {"webhookDelivery": {"$ref": "#/components/messages/webhookDelivery"}},
    }
    return _Channel("webhookDelivery", channel, message, "deliver", "send")


def _webhook_event(schemas: dict[str, Any]) -> dict[str, Any]:
    """The envelope's schema with the CloudEvents distributed-tracing extension attribute
    ``traceparent`` allowed: the envelope itself forbids unknown attributes, and a delivery of
    a traced event carries its origin's context (webhooks.delivery.with_traceparent)."""
    envelope = schemas[_component_name("kafka.event_envelope.v1")]
    return {
        **envelope,
        "title": "Webhook CloudEvent",
        "properties": {**envelope["properties"], "traceparent": TRACEPARENT_SCHEMA},
    }


def _servers() -> dict[str, Any]:
    return {
        "kafka": {
            "host": "127.0.0.1:9092",
            "protocol": "kafka",
            "description": "TRADELANE_KAFKA_BOOTSTRAP_SERVERS",
        },
        "mqtt": {
            "host": "127.0.0.1:1883",
            "protocol": "mqtt",
            "description": "TRADELANE_MQTT_URL",
        },
        "webhooks": {
            "host": "subscriber.example",
            "protocol": "https",
            "description": "Each subscription's own URL",
        },
    }
