"""Publish FX rates to ``fx.rates`` (compacted, keyed ``BASE/QUOTE``): the I/O half of the
simulated feed in :mod:`finance.fx_feed`."""

from __future__ import annotations

from collections.abc import Sequence

from finance.money import pair
from tradelane.contracts import FxRate
from tradelane.settings import KafkaSettings
from tradelane.topics import FX_RATES
from transport import kafka as clients


async def publish_rates(
    settings: KafkaSettings, rates: Sequence[FxRate], topic: str = FX_RATES.name
) -> int:
    """Produce ``rates`` in order and wait for every acknowledgement; returns the count."""
    producer = clients.producer(settings, client_id=f"{settings.client_id}-fx-feed")
    await producer.start()
    try:
        for rate in rates:
            await producer.send_and_wait(
                topic,
                value=rate.model_dump_json().encode(),
                key=pair(rate.base, rate.quote).encode(),
            )
    finally:
        await producer.stop()
    return len(rates)
