"""Putting the demo terms on Kafka: a credit line pledging simulated shipments, a policy per
shipment, and an FX rate to value them. `tradelane demo` and `tradelane simulate --pledge-to /
--insure` share it, so what a tester pledges by hand is what the demo pledges."""

from __future__ import annotations

from collections.abc import Sequence

from finance.demo_terms import demo_facility, demo_policy
from finance.fx_feed import simulated_rates
from finance.fx_publisher import publish_rates
from tradelane.contracts import ShipmentBooking
from tradelane.contracts.seller import ConfirmationTerms
from tradelane.settings import KafkaSettings
from tradelane.topics import FINANCE_FACILITIES, INSURANCE_POLICIES
from transport import kafka as clients
from transport.admin import ensure_topics


async def publish_demo_terms(
    kafka: KafkaSettings,
    bookings: Sequence[ShipmentBooking],
    facility_id: str | None,
    insure: bool,
    confirmation: ConfirmationTerms | None = None,
) -> str:
    """Publish a demo credit line ``facility_id`` pledging every booking (when given) and a
    demo policy per booking (when ``insure``), each waited for with ``acks=all``; returns a
    one-line summary. ``confirmation``: the line asks its borrower to confirm each tranche
    (``Facility.confirmation``). Publishing the same terms again is harmless: both topics are
    compacted and keyed by id, and the engines treat an unchanged record as no change."""
    if not bookings or (facility_id is None and not insure):
        return "Finance: nothing pledged or insured"
    try:
        await ensure_topics(kafka, (FINANCE_FACILITIES, INSURANCE_POLICIES), with_configs=True)
    except Exception:  # brokers that refuse topic configs (the embedded Tansu)
        await ensure_topics(kafka, (FINANCE_FACILITIES, INSURANCE_POLICIES), with_configs=False)
    start = min(b.booked_at for b in bookings)
    await publish_rates(kafka, simulated_rates(7, start, count=1))
    producer = clients.producer(kafka)
    await producer.start()
    try:
        if facility_id is not None:
            facility = demo_facility(facility_id, [b.shipment_id for b in bookings])
            facility = facility.model_copy(update={"confirmation": confirmation})
            await producer.send_and_wait(
                FINANCE_FACILITIES.name,
                facility.model_dump_json().encode(),
                key=facility.facility_id.encode(),
            )
        if insure:
            for booking in bookings:
                policy = demo_policy(booking.shipment_id, booking.cargo.value, booking.shipper)
                await producer.send_and_wait(
                    INSURANCE_POLICIES.name,
                    policy.model_dump_json().encode(),
                    key=policy.policy_id.encode(),
                )
    finally:
        await producer.stop()
    parts = []
    if facility_id is not None:
        asks = (
            ""
            if confirmation is None
            else (
                f"; the seller confirms each tranche within {confirmation.window_hours} h, else "
                f"it is {'lent' if confirmation.on_deadline == 'execute' else 'skipped'}"
            )
        )
        parts.append(f"pledged to credit line {facility_id} (USD 50M limit{asks})")
    if insure:
        parts.append("insured, each under its own policy (pol-{shipment_id})")
    return f"Finance: {len(bookings)} shipments " + " and ".join(parts)
