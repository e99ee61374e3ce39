"""The oracle: the pure engines over a voyage give the drawdowns and claims a worker must
produce, and redelivered copies of readings change nothing."""

from __future__ import annotations

from datetime import timedelta

from faults.oracle import Drawdown, Inputs, expected
from finance.demo_terms import demo_facility, demo_policy
from finance.fx_feed import simulated_rates
from tests.integration.test_worker import T0, voyage
from tests.samples import booking
from tradelane.contracts import IngestedReading

SHIPMENT, DEVICE, FACILITY = "shp-or1", "dev-or1", "fac-or1"


def inputs(readings_factor: int = 1, customs: bool = False) -> Inputs:
    b = booking(SHIPMENT, [DEVICE])
    trip = voyage(DEVICE)
    if customs:  # then unloaded at the destination: the doors open and close again
        trip += [unloading(trip[-1], 1, 900.0), unloading(trip[-1], 2, 0.0)]
    readings = [r for r in trip for _ in range(readings_factor)]  # each copy redelivered
    cleared = trip[-1].reading.ts - timedelta(hours=1)
    return Inputs(
        bookings={SHIPMENT: b},
        updates={SHIPMENT: b.model_copy(update={"customs_cleared_at": cleared})} if customs else {},
        readings={SHIPMENT: readings},
        facilities={FACILITY: demo_facility(FACILITY, [SHIPMENT])},
        policies={SHIPMENT: [demo_policy(SHIPMENT, b.cargo.value, b.shipper)]},
        fx=simulated_rates(7, T0, count=1),
    )


def unloading(arrival: IngestedReading, n: int, lux: float) -> IngestedReading:
    """The ``n``-th reading 15 minutes apart after ``arrival``, at the same place."""
    r = arrival.reading.model_copy(
        update={
            "seq": arrival.reading.seq + n,
            "ts": arrival.reading.ts + timedelta(minutes=15 * n),
            "light_lux": lux,
        }
    )
    return IngestedReading(reading=r, received_at=r.ts, mqtt_topic=arrival.mqtt_topic)


def test_departure_draws_down_and_a_warm_reefer_raises_a_temperature_claim() -> None:
    out = expected(inputs())
    assert Drawdown(FACILITY, SHIPMENT, "departed_origin") in out.drawdowns.values()
    assert "claim_raised" in out.claims.values()
    kinds = {e.split('"kind":"')[1].split('"')[0] for e in out.shipment_events.values()}
    assert {"milestone_reached", "breach_started"} <= kinds


def test_redelivered_readings_change_no_outcome() -> None:
    once, twice = expected(inputs()), expected(inputs(readings_factor=2))
    assert once.drawdowns == twice.drawdowns
    assert once.claims == twice.claims
    assert once.shipment_events == twice.shipment_events


def test_customs_clearance_completes_delivery_once() -> None:
    out = expected(inputs(customs=True))
    delivered = [e for e in out.shipment_events.values() if '"milestone":"delivered"' in e]
    assert len(delivered) == 1
