"""What goes over the wire for one delivery, pure: its id, body and headers.

The body is the event exactly as it sits on Kafka: a CloudEvents 1.0 structured-mode JSON
object (``specversion``, ``id``, ``source``, ``type``, ``subject``, ``time``, ``data`` …), sent
as ``application/cloudevents+json`` (with the distributed-tracing extension attribute
``traceparent`` when the event's record carried one: :func:`with_traceparent`). The delivery id
(``webhook-id``) is derived from the event id and the subscription id, so every retry and
every replay of the same event to the same subscription carries the same id and a receiver
de-duplicates on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from webhooks.signing import sign_headers

CONTENT_TYPE = "application/cloudevents+json"


class EventHead(BaseModel):
    """The envelope attributes routing needs; ``data`` is passed through untouched."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    type: str
    subject: str


def delivery_id(event_id: str, subscription_id: str) -> str:
    digest = hashlib.sha256(f"{event_id}\x00{subscription_id}".encode()).hexdigest()
    return "msg_" + digest[:32]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event bound for one subscription, with where it came from on Kafka."""

    subscription_id: str
    delivery_id: str
    event_id: str
    event_type: str
    subject: str
    topic: str
    partition: int
    offset: int
    body: bytes
    traceparent: str | None = None
    """The W3C trace context of the event's producer (its record's header), if any."""


def with_traceparent(body: bytes, traceparent: str | None) -> bytes:
    """``body`` (a structured-mode CloudEvent) with the CloudEvents distributed-tracing
    extension attribute ``traceparent`` put first, every other byte as it was; ``body`` itself
    when there is no context to carry, or it is not a JSON object, or it has the attribute.
    ``traceparent`` must be well-formed (:func:`transport.tracing.traceparent`)."""
    if traceparent is None or b'"traceparent"' in body:
        return body
    start = len(body) - len(body.lstrip())
    if body[start : start + 1] != b"{":
        return body
    rest = body[start + 1 :]
    comma = b"" if rest.lstrip().startswith(b"}") else b","
    return b'{"traceparent":' + json.dumps(traceparent).encode() + comma + rest


def request_headers(delivery: Delivery, secrets: list[str], timestamp: int) -> dict[str, str]:
    """Standard Webhooks headers signed with every active secret, plus the content type."""
    headers = sign_headers(secrets, delivery.delivery_id, timestamp, delivery.body)
    headers["content-type"] = CONTENT_TYPE
    return headers
