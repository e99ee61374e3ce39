"""Reading what the pipeline wrote: topics followed from the moment a run began, and the lag
of a consumer group (how a run knows the worker has processed everything)."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from tradelane.retry import any_error, retrying
from tradelane.settings import KafkaSettings
from transport import kafka as clients
from transport.admin import topic_partitions


class Follower:
    """Every record of ``topic`` from a given time on (no consumer group); :meth:`poll` adds
    what arrived since the last call. It survives a broker restart (the client reconnects)."""

    def __init__(self, settings: KafkaSettings, topic: str) -> None:
        self.topic = topic
        self.consumer = clients.consumer(settings, auto_offset_reset="latest")
        self.records: list[Any] = []

    async def start(self, since_ms: int) -> None:
        await self.consumer.start()
        tps = await topic_partitions(self.consumer, self.topic)
        self.consumer.assign(tps)
        found = await self.consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
        for tp in tps:
            hit = found.get(tp)
            if hit is None:
                await clients.fast_forward(self.consumer, tp)
            else:
                self.consumer.seek(tp, hit.offset)
        for tp in tps:  # resolve positions now, so nothing written after ``since_ms`` is missed
            await self.consumer.position(tp)

    async def poll(self, timeout_ms: int = 200) -> list[Any]:
        fresh: list[Any] = []
        for batch in (await self.consumer.getmany(timeout_ms=timeout_ms)).values():
            fresh.extend(batch)
        self.records.extend(fresh)
        return fresh

    async def drain(self, quiet_polls: int = 3) -> None:
        """Poll until a few polls in a row bring nothing."""
        quiet = 0
        while quiet < quiet_polls:
            quiet = 0 if await self.poll() else quiet + 1

    async def stop(self) -> None:
        await self.consumer.stop()


async def group_lag(settings: KafkaSettings, group: str) -> dict[str, int]:
    """Per topic, how many records the group has not committed yet (its committed offset to the
    end of each partition it has committed on)."""
    committed = await _committed(settings, group)
    if not committed:
        return {}
    consumer = clients.consumer(settings)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(list(committed))
    finally:
        await consumer.stop()
    lag: dict[str, int] = {}
    for tp, meta in committed.items():
        lag[tp.topic] = lag.get(tp.topic, 0) + max(0, ends[tp] - max(meta.offset, 0))
    return lag


async def rewind_group(settings: KafkaSettings, group: str, since_ms: int, own_prefix: str) -> int:
    """Set an empty group's committed offsets back: its own topics (``own_prefix``…) to their
    start, shared topics to the first record written at or after ``since_ms`` (the run's own
    offset 0). Returns how many records the group will read again."""
    committed = await _committed(settings, group)
    consumer = clients.consumer(settings, group_id=group)
    await consumer.start()
    try:
        tps = list(committed)
        starts = await consumer.beginning_offsets(tps)
        found = await consumer.offsets_for_times(
            {tp: since_ms for tp in tps if not tp.topic.startswith(own_prefix)}
        )
        ends = await consumer.end_offsets(tps)
        target: dict[TopicPartition, int] = {}
        for tp in tps:
            if tp.topic.startswith(own_prefix):
                target[tp] = starts[tp]
            else:
                hit = found.get(tp)
                target[tp] = ends[tp] if hit is None else hit.offset
        consumer.assign(tps)
        offsets = {tp: OffsetAndMetadata(o, "") for tp, o in target.items()}
        await retrying(
            lambda: consumer.commit(offsets),
            what=f"rewinding group {group}",
            deadline_s=30.0,
            # the group may still hold a leaving member for a moment, refusing the commit
            retriable=any_error,
            base_s=0.5,
            max_s=2.0,
        )
        return sum(max(0, committed[tp].offset - target[tp]) for tp in tps)
    finally:
        await consumer.stop()


async def _committed(
    settings: KafkaSettings, group: str
) -> dict[TopicPartition, OffsetAndMetadata]:
    """The group's committed offset on every partition it has committed on."""
    admin = clients.admin(settings)
    await admin.start()
    try:
        committed: dict[
            TopicPartition, OffsetAndMetadata
        ] = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return committed
