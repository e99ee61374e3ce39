"""A publisher process of the bridge benchmark (``python -m bench.ingest_publisher COUNT
DEVICES RUN``, started by :func:`bench.ingest._publish`): it pre-renders its share of readings,
prints ``ready``, publishes them at QoS 1 through :class:`devices.load_publisher.LoadPublisher`
to the broker of :class:`~tradelane.settings.MqttSettings`, and prints its rate (JSON) once
the broker acknowledged all of them. (A paho publisher with an unlimited queue took minutes
to see 100,000 acknowledgements on a fresh setup, and the bench died waiting for it.)

A module of its own (it was a program in a string) so that ruff and mypy check it like the
rest.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from bench.ingest import reading_payloads
from devices.load_publisher import LoadPublisher
from tradelane.settings import MqttSettings


def main() -> None:
    """``python -m bench.ingest_publisher COUNT DEVICES RUN``."""
    count, devices, run = sys.argv[1:4]  # the broker is MqttSettings'
    payloads = reading_payloads(int(count), int(devices), run)
    seconds = asyncio.run(_publish_all(MqttSettings(), f"bench-pub-{run}", payloads))
    print(json.dumps({"published": len(payloads), "seconds": seconds}), flush=True)


async def _publish_all(
    settings: MqttSettings, client_id: str, payloads: list[tuple[str, bytes]]
) -> float:
    publisher = LoadPublisher(settings, client_id)
    await publisher.connect()
    print("ready", flush=True)
    started = time.perf_counter()
    deadline = started + max(120.0, len(payloads) / 200)
    try:
        for n, (topic, payload) in enumerate(payloads, 1):
            publisher.publish(topic, payload)
            if n % 1000 == 0:
                await publisher.drain()
        await publisher.drain()
        while publisher.acked < len(payloads):
            if time.perf_counter() > deadline:
                raise TimeoutError(
                    f"{publisher.acked} of {len(payloads)} readings acknowledged by the broker"
                )
            await asyncio.sleep(0.01)  # waiting for acknowledgements under a deadline
        return time.perf_counter() - started
    finally:
        await publisher.close()


if __name__ == "__main__":
    main()
