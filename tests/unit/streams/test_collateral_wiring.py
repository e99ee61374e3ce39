"""The collateral register in the worker: kept by the shipment loop (keyed by shipment, so it
sees every facility's pledge of one cargo), its decisions sent to each facility's partition of
the pledge engine's routing topic ahead of the shipment's events, applied by the pledge stage,
and published on ``finance.events`` for both banks.

The cargo of :func:`tests.samples.booking` is worth USD 250,000; two facilities pledge it,
USD 150,000 each (the issue's 300,000 secured on 250,000).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

import streams.hotpath
from finance.collateral_register import Register
from finance.shell import EVENT, PLEDGE
from streams import app as worker_app
from streams.hotpath import READING, HotPath
from streams.loop import RecordFailedError
from streams.pledge_stage import PledgeStage
from streams.registries import Registries
from streams.store import Send
from tests.samples import booking
from tests.unit.streams.test_hotpath import voyage
from tradelane.contracts import Facility, Money
from tradelane.contracts.finance import (
    BorrowingBaseChanged,
    DrawdownExecuted,
    FinanceEvent,
    PledgeCode,
    PledgeDecided,
)
from tradelane.topics import FINANCE_EVENTS

SHIPMENT, DEVICE = "shp-twice", "trk-twice"
FIN, REG = "finance-in", "c-collateral"


def usd(amount: int) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def line(facility_id: str, bank: str, pledged: Money | None) -> Facility:
    return Facility(
        facility_id=facility_id,
        bank_id=bank,
        borrower_id="shipper-1",
        limit=usd(1_000_000),
        advance_rates={"in_transit": Decimal("0.6")},
        concentration_limit=Decimal(1),
        drawdown_schedule={"departed_origin": Decimal(1)},
        pledged_shipments=[SHIPMENT],
        pledge_amounts={} if pledged is None else {SHIPMENT: pledged},
    )


def _hot(registries: Registries, register: bool = True) -> HotPath:
    hot = HotPath(
        registries,
        "by-shipment",
        ("c-ship", "c-ins"),
        FIN,
        register_changelog=REG if register else None,
    )
    for store, _ in hot.stores:
        store.load(0, [])
    return hot


def _reading(n: int) -> tuple[int, bytes, bytes]:
    reading = voyage(DEVICE, n + 1)[n]
    return 0, SHIPMENT.encode(), READING + reading.model_dump_json().encode()


def _decisions(sends: list[Send]) -> list[PledgeDecided]:
    return [
        PledgeDecided.model_validate_json(v[1:])
        for t, _k, v, _p in sends
        if t == FIN and v[:1] == PLEDGE
    ]


def test_a_second_pledge_of_one_cargo_is_capped_and_both_facilities_hear_first() -> None:
    registries = Registries()
    registries.learn(booking(SHIPMENT, [DEVICE]))
    registries.learn(line("fac-a", "bank-a", usd(150_000)))
    hot = _hot(registries)
    first = hot.apply_batch([_reading(0)])
    assert _decisions(first) == []  # one pledge, within the cargo value: nothing to say
    registries.learn(line("fac-b", "bank-b", usd(150_000)))
    sends = hot.apply_batch([_reading(1), _reading(2), _reading(3)])
    decided = _decisions(sends)
    assert [(d.facility_id, d.concerns, d.code, d.granted) for d in decided] == [
        ("fac-b", "own_pledge", PledgeCode.PLEDGE_CAPPED_TO_CARGO_VALUE, usd(100_000)),
        ("fac-a", "later_pledge", PledgeCode.PLEDGE_CAPPED_TO_CARGO_VALUE, usd(150_000)),
    ]
    assert decided[0].decision_id == decided[1].decision_id
    keys = [(k, v[:1]) for t, k, v, _p in sends if t == FIN]
    assert keys[:2] == [(b"fac-b", PLEDGE), (b"fac-a", PLEDGE)]  # before any event
    assert {k for k, tag in keys[2:]} == {b"fac-a", b"fac-b"}
    assert {t for _, t in keys[2:]} == {EVENT}
    # the register is written with the batch's changelog records, keyed by shipment
    (register,) = [Register.model_validate_json(v) for t, _k, v, _p in sends if t == REG]
    assert [c.facility_id for c in register.claims] == ["fac-a", "fac-b"]
    # nothing new: nothing more is decided, however many readings follow
    assert _decisions(hot.apply_batch([_reading(4), _reading(5)])) == []


def test_the_pledge_stage_honours_the_cap_and_both_banks_see_the_code() -> None:
    registries = Registries()
    registries.learn(booking(SHIPMENT, [DEVICE]))
    registries.learn(line("fac-a", "bank-a", usd(150_000)))
    registries.learn(line("fac-b", "bank-b", usd(150_000)))
    hot = _hot(registries)
    routed = [s for n in range(4) for s in hot.apply_batch([_reading(n)]) if s[0] == FIN]
    stage = PledgeStage(registries, FIN, "c-fac")
    stage.store.load(0, [])
    records = [(FIN, 0, k, v, i) for i, (_t, k, v, _p) in enumerate(routed)]
    out = stage.apply(records)
    events = [
        FinanceEvent.model_validate_json(v) for t, _k, v, _p in out if t == FINANCE_EVENTS.name
    ]
    pledge = {e.subject: e.data for e in events if isinstance(e.data, PledgeDecided)}
    assert pledge["fac-a"].code is pledge["fac-b"].code is PledgeCode.PLEDGE_CAPPED_TO_CARGO_VALUE
    assert pledge["fac-a"].decision_id == pledge["fac-b"].decision_id
    assert "bank-b" not in pledge["fac-a"].model_dump_json()  # no other bank's terms
    drawn = {
        e.subject: e.data.amount.amount for e in events if isinstance(e.data, DrawdownExecuted)
    }
    assert drawn == {"fac-a": Decimal("90000.00"), "fac-b": Decimal("60000.00")}  # 60 % of each
    bases = [e.data for e in events if isinstance(e.data, BorrowingBaseChanged)]
    secured = {b.facility_id: b.collateral[0].value for b in bases}
    assert secured == {"fac-a": usd(150_000), "fac-b": usd(100_000)}  # 250,000 in all


def test_without_engines_there_is_no_register() -> None:
    registries = Registries()
    registries.learn(booking(SHIPMENT, [DEVICE]))
    registries.learn(line("fac-a", "bank-a", None))
    registries.learn(line("fac-b", "bank-b", None))
    hot = _hot(registries, register=False)
    assert [topic for _, topic in hot.stores] == ["c-ship", "c-ins"]
    assert _decisions(hot.apply_batch([_reading(0)])) == []


def test_a_failed_batch_forgets_the_register_it_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    registries = Registries()
    registries.learn(booking(SHIPMENT, [DEVICE]))
    registries.learn(line("fac-a", "bank-a", None))
    registries.learn(line("fac-b", "bank-b", None))
    hot = _hot(registries)

    def broken(*_args: object) -> None:
        raise RuntimeError("the step fails after the register decided")

    monkeypatch.setattr(streams.hotpath, "apply_to_shipment", broken)
    with pytest.raises(RecordFailedError):
        hot.apply_batch([_reading(0)])
    assert 0 not in hot.registers
    assert hot.registered == {}


def test_the_worker_creates_the_registers_changelog() -> None:
    names = {t.name: t for t in worker_app.internal_topics("app")}
    topic = names[worker_app.collateral_changelog("app")]
    assert topic.cleanup_policy == "compact"
    assert topic.key == "shipment_id"
    assert topic.partitions == names[worker_app.shipment_topic("app")].partitions
