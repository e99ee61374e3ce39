"""A minimal faust app for the foundation test: count values per key in a table and emit each
new count to an output topic, so the test can observe the table from outside the worker."""

from __future__ import annotations

import os

import faust

from tradelane.settings import KafkaSettings
from transport.kafka import faust_options

SUFFIX = os.environ["PROBE_SUFFIX"]
app = faust.App(
    f"tradelane-probe-{SUFFIX}",
    **faust_options(KafkaSettings()),  # the broker and the admin's login, from the environment
    store="memory://",
    web_enabled=False,
    topic_partitions=1,
    topic_replication_factor=1,
)
source = app.topic(f"probe.in.{SUFFIX}", key_serializer="raw", value_serializer="raw", partitions=1)
sink = app.topic(f"probe.out.{SUFFIX}", key_serializer="raw", value_serializer="raw", partitions=1)
counts = app.Table(f"probe-counts-{SUFFIX}", default=int, partitions=1)


@app.agent(source)
async def count(stream):  # type: ignore[no-untyped-def]
    async for raw in stream:
        colour = raw.decode()
        counts[colour] += 1
        await sink.send(key=colour.encode(), value=str(counts[colour]).encode())
