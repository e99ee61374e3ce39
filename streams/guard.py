"""One worker group per cluster: a worker refuses to start beside another worker group.

Every worker group runs the shipment core and both engines for every shipment and facility it
is assigned, and writes to the shared output topics; two groups on one cluster would both
write each shipment's events and each facility's ledger, and the ledgers would fork. So a
worker, before it joins its group, looks for other groups whose members subscribe to a
worker's internal shipment topic (``…-by-shipment``) or a pledge routing topic
(``…-finance-in``). A group that still has members (for instance a killed worker's, until its
session times out) is waited for, up to a deadline; one that is still active then makes the
worker refuse, naming it. Workers that share the app id share the work and are welcome.

Limits: two groups started within the same second can both pass the check; the check is by
subscription, so a hand-built consumer of those topics counts as a worker group.
"""

from __future__ import annotations

import asyncio
import logging
import time

from tradelane.errors import OwnershipError
from tradelane.settings import KafkaSettings
from transport import kafka as clients
from transport.kafka import retrying

log = logging.getLogger(__name__)

MARKERS = (b"-by-shipment", b"-finance-in")
"""Bytes of a member's subscription that mark a worker group."""


class SecondWorkerGroupError(OwnershipError):
    """Another worker group is active on the cluster."""


async def other_worker_groups(kafka: KafkaSettings, own: set[str]) -> dict[str, int]:
    """Active worker groups other than ``own``: group id → members."""
    return await retrying("listing consumer groups", lambda: _scan(kafka, own))


async def _scan(kafka: KafkaSettings, own: set[str]) -> dict[str, int]:
    admin = clients.admin(kafka)
    await admin.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups() if g[0] not in own]
        found: dict[str, int] = {}
        for group_id in groups:  # one at a time: aiokafka misreads a multi-group answer
            [response] = await admin.describe_consumer_groups([group_id])
            for group in response.to_object()["groups"]:
                members = group.get("members") or []
                if any(_is_worker(m.get("member_metadata", b"")) for m in members):
                    found[group["group"]] = len(members)
        return found
    finally:
        await admin.close()


def _is_worker(metadata: object) -> bool:
    return isinstance(metadata, bytes | bytearray) and any(m in metadata for m in MARKERS)


async def refuse_second_group(kafka: KafkaSettings, own: set[str], wait_s: float) -> None:
    """Return once no other worker group is active; raise after ``wait_s`` if one still is."""
    deadline = time.monotonic() + wait_s
    while True:
        others = await other_worker_groups(kafka, own)
        if not others:
            return
        names = ", ".join(f"{g} ({n} member{'s' * (n != 1)})" for g, n in sorted(others.items()))
        if time.monotonic() >= deadline:
            raise SecondWorkerGroupError(
                f"another worker group is active on this Kafka cluster: {names}. Two groups "
                "would both write every shipment's events and every facility's ledger. Stop "
                "it, or start this worker with its --app-id to share its work."
            )
        log.warning("waiting up to %.0f s for worker group(s) %s to stop", wait_s, names)
        print(f"worker: waiting for worker group(s) {names} to stop ...", flush=True)
        await asyncio.sleep(2.0)  # polling the coordinator under a deadline
