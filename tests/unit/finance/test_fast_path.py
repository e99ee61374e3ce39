"""The worker's fast path equals the reference path, input for input.

The worker applies inputs in place (:func:`finance.pledge_engine.apply_in_place`, which also
skips re-summing the borrowing base when a shipment event left its shipment's value alone)
and writes only the segments of the facility a step changed (:mod:`finance.facility_store`).
For any sequence of inputs - registry records changing terms, pledges and cargo values
midway, shipment events, FX moves, commands - these properties hold at every step:

* ``apply_in_place`` returns the outputs ``apply`` returns, and leaves the state ``apply``
  returns (byte for byte);
* ``apply`` does not change the state it was given;
* the table the shell wrote, read back by a fresh process, is that same state - whether the
  table started empty or held a state in the old one-document layout;
* the shell sends exactly the reference outputs, serialised.
"""

from __future__ import annotations

import os
from datetime import datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance import pledge_engine
from finance.facility_state import dump_state, load_state, new_state
from finance.facility_store import LAYOUT, FacilityStore, shipment_key, touched
from finance.pledge_engine import EngineInput, apply, apply_in_place
from finance.shell import COMMAND, EVENT, PLEDGE, PledgeShell
from tests.unit.finance import builders as b
from tests.unit.finance.test_properties import inputs, terms
from tradelane.contracts import (
    Facility,
    FxRate,
    Milestone,
    ShipmentBooking,
    ShipmentEvent,
    ShockDetected,
)
from tradelane.contracts.finance import (
    FinanceCommand,
    PledgeCode,
    PledgeDecided,
    finance_command_type,
)
from tradelane.contracts.registries import HaircutRule, ImpairmentKind
from tradelane.ids import derive_id

KEY = b.FAC.encode()
SHIPMENTS = [b.SHP, b.SHP2, "shp-x", "shp-0"]
"""shp-0 sorts before the set-up shipments: its line, booked late, goes first."""


def shock(hours: int, g: float, shipment_id: str) -> ShipmentEvent:
    at = b.at(hours)
    return b.event(
        ShockDetected(device_id="trk-1", at=at, g=g, limit_g=5.0, evidence=b.EVIDENCE),
        at,
        shipment_id,
    )


@st.composite
def facility_update(draw: st.DrawFn) -> Facility:
    """New terms midway: other rates and limits, shipments pledged or released."""
    options = draw(terms)
    pledged = draw(st.lists(st.sampled_from(SHIPMENTS), unique=True, max_size=3))
    amounts = draw(
        st.dictionaries(
            st.sampled_from(SHIPMENTS),
            st.builds(b.usd, st.sampled_from(["500", "150000"]))
            | st.builds(b.eur, st.sampled_from(["150000"])),
            max_size=2,
        )
    )
    shock_cut = draw(st.sampled_from([Decimal("0.3"), Decimal(1)]))
    base = b.facility(**options)
    rules = [
        *base.haircut_schedule,
        HaircutRule(impairment=ImpairmentKind.SHOCK, min_severity=Decimal(10), haircut=shock_cut),
    ]
    return b.facility(
        **options, pledged_shipments=pledged, haircut_schedule=rules, pledge_amounts=amounts
    )


@st.composite
def pledge_decision(draw: st.DrawFn) -> PledgeDecided:
    """The collateral register's word on a pledge: capped, refused, accepted or another
    facility's later pledge; sometimes the same decision again (a redelivery)."""
    granted = draw(st.sampled_from(["0", "50000", "200000"]))
    return b.pledge_decided(
        granted,
        draw(st.integers(0, 24 * 30)),
        draw(st.sampled_from(SHIPMENTS)),
        draw(st.none() | st.sampled_from(PledgeCode)),
        draw(st.sampled_from(["own_pledge", "later_pledge"])),
        draw(st.integers(0, 2)),
    )


story_inputs: st.SearchStrategy[EngineInput] = st.one_of(
    inputs,
    inputs,
    inputs,
    facility_update(),
    pledge_decision(),
    st.builds(
        b.booking,
        st.sampled_from(SHIPMENTS),
        st.sampled_from(["1000", "200000", "900000"]),
        st.sampled_from(["EUR", "USD"]),
    ),
    st.builds(
        shock,
        st.integers(0, 24 * 30),
        st.sampled_from([2.0, 7.5, 12.0]),
        st.sampled_from(SHIPMENTS),
    ),
)


def stories() -> st.SearchStrategy[list[EngineInput]]:
    return st.builds(
        lambda options, departed, story: [
            b.facility(**options),
            b.booking(b.SHP),
            b.booking(b.SHP2),
            b.eur_usd(),
            *departed,
            *story,
        ],
        terms,
        st.lists(
            st.builds(
                b.milestone,
                st.just(Milestone.DEPARTED_ORIGIN),
                st.integers(0, 5),
                st.just(True),
                st.sampled_from([b.SHP, b.SHP2]),
            ),
            max_size=2,
        ),
        st.lists(story_inputs, min_size=1, max_size=30),
    )


EXAMPLES = settings(
    max_examples=int(os.environ.get("FINANCE_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@EXAMPLES
@given(stories())
def test_in_place_equals_the_copying_apply_and_the_table_reads_back_the_same(
    items: list[EngineInput],
) -> None:
    reference = new_state(b.FAC)
    fast = new_state(b.FAC)
    table: dict[bytes, bytes] = {}
    store = FacilityStore()
    for item in items:
        reference, expected = apply(reference, item)
        outputs = apply_in_place(fast, item)
        assert outputs == expected
        assert dump_state(fast) == dump_state(reference)
        store.save(table, KEY, fast, touched(item, len(outputs.entries), outputs.events))
        read_back = FacilityStore().load(table, KEY)
        assert read_back is not None
        assert dump_state(read_back) == dump_state(reference)


@EXAMPLES
@given(stories())
def test_apply_leaves_its_input_alone(items: list[EngineInput]) -> None:
    state = new_state(b.FAC)
    for item in items:
        before = dump_state(state)
        following, _ = apply(state, item)
        assert dump_state(state) == before
        state = following


def _message(item: EngineInput) -> bytes:
    if isinstance(item, ShipmentEvent):
        return EVENT + item.model_dump_json().encode()
    if isinstance(item, PledgeDecided):
        return PLEDGE + item.model_dump_json().encode()
    command = FinanceCommand(
        id=derive_id("test-command", pledge_engine.input_key(item)),
        source="/tests",
        type=finance_command_type(item.kind),  # type: ignore[union-attr]
        subject=b.FAC,
        time=datetime.fromisoformat("2026-03-02T08:00:00+00:00"),
        data=item,  # type: ignore[arg-type]
    )
    return COMMAND + command.model_dump_json().encode()


def _registry(item: EngineInput) -> bool:
    return isinstance(item, Facility | ShipmentBooking | FxRate)


@EXAMPLES
@given(stories(), st.booleans(), st.integers(0, 40))
def test_the_shell_sends_the_reference_outputs_and_keeps_the_reference_state(
    items: list[EngineInput], old_layout: bool, restart_at: int
) -> None:
    """Registry records reach the shell through its sync (as the agent's registries do),
    everything else as routed messages; a restart midway (a new shell, same table) reads
    the state back from the table. The table may start with a state in the old layout."""
    reference = new_state(b.FAC)
    table: dict[bytes, bytes] = {}
    head = 0
    if old_layout:
        # The first registry records were applied by the old code, which wrote one document.
        while head < len(items) and _registry(items[head]):
            reference, _ = apply(reference, items[head])
            head += 1
        table[KEY] = dump_state(reference).encode()
    shell = PledgeShell()
    pending: list[EngineInput] = []
    handled = 0
    for n, item in enumerate(items[head:]):
        if n == restart_at:
            shell = PledgeShell()
        if _registry(item):
            pending.append(item)
            continue
        expected: list[tuple[str, bytes, bytes]] = []
        for step in [*pending, item]:
            reference, out = apply(reference, step)
            expected += [("events", KEY, e.model_dump_json().encode()) for e in out.events]
            expected += [("ledger", KEY, e.model_dump_json().encode()) for e in out.entries]
        prior, pending = pending, []
        sent = shell.handle(table, KEY, _message(item), lambda _item, prior=prior: prior)
        handled += 1
        assert sent == expected
        read_back = FacilityStore().load(table, KEY)
        assert read_back is not None
        assert dump_state(read_back) == dump_state(reference)
    if handled:
        assert table[KEY].startswith(LAYOUT)


def test_an_old_layout_state_loads_and_is_rewritten_as_segments() -> None:
    state, _ = pledge_engine.run(
        new_state(b.FAC), [*b.setup(), b.milestone(Milestone.DEPARTED_ORIGIN, 1)]
    )
    table = {KEY: dump_state(state).encode()}
    store = FacilityStore()
    loaded = store.load(table, KEY)
    assert loaded is not None
    assert dump_state(loaded) == dump_state(state)
    assert store.save(table, KEY, loaded, set())  # the first save writes every segment
    assert table[KEY].startswith(LAYOUT)
    assert shipment_key(KEY, b.SHP) in table
    again = FacilityStore().load(table, KEY)
    assert again is not None
    assert dump_state(again) == dump_state(state)
    assert load_state(dump_state(again)) == state


def test_a_step_that_changes_nothing_writes_nothing() -> None:
    state, _ = pledge_engine.run(new_state(b.FAC), b.setup())
    table: dict[bytes, bytes] = {}
    store = FacilityStore()
    store.save(table, KEY, state, None)
    written = dict(table)
    assert not store.save(table, KEY, state, {b.SHP})
    assert table == written


def test_a_shipment_booked_after_the_collateral_was_valued_takes_its_place_in_line() -> None:
    """The worker keeps the facility's collateral valued line by line and re-values only the
    shipment an input concerns; a pledged shipment booked later (whose id sorts first) must
    appear where a full valuation puts it, in every later borrowing-base change."""
    items: list[EngineInput] = [
        b.facility(pledged_shipments=["shp-0", b.SHP, b.SHP2]),
        b.booking(b.SHP),
        b.eur_usd(),
        b.milestone(Milestone.DEPARTED_ORIGIN, 1, True, b.SHP),
        b.booking("shp-0"),
        b.milestone(Milestone.DEPARTED_ORIGIN, 2, True, "shp-0"),
        b.booking(b.SHP2),
        b.milestone(Milestone.DEPARTED_ORIGIN, 3, True, b.SHP2),
    ]
    reference, fast = new_state(b.FAC), new_state(b.FAC)
    changes = 0
    for item in items:
        reference, expected = apply(reference, item)
        assert apply_in_place(fast, item) == expected
        changes += sum(e.data.kind == "borrowing_base_changed" for e in expected.events)
    assert changes == 3  # each departure moved the base, with every line in order


def test_steps_that_post_drawdowns_and_repayments_write_back_what_they_changed() -> None:
    """Shipment events whose steps post ledger entries (drawdowns at departure, repayments
    from a delivered shipment's proceeds) leave a table that reads back as the reference."""
    items: list[EngineInput] = [
        *b.setup(),
        b.milestone(Milestone.DEPARTED_ORIGIN, 1, True, b.SHP),
        b.milestone(Milestone.DEPARTED_ORIGIN, 2, True, b.SHP2),
        b.milestone(Milestone.ENTERED_BONDED_WAREHOUSE, 30, True, b.SHP),
        b.milestone(Milestone.DELIVERED, 60, True, b.SHP2),
        b.milestone(Milestone.DELIVERED, 90, True, b.SHP),
    ]
    reference, fast = new_state(b.FAC), new_state(b.FAC)
    table: dict[bytes, bytes] = {}
    store = FacilityStore()
    repaid = 0
    for item in items:
        reference, expected = apply(reference, item)
        outputs = apply_in_place(fast, item)
        assert outputs == expected
        repaid += sum(e.data.kind == "repayment_applied" for e in outputs.events)
        store.save(table, KEY, fast, touched(item, len(outputs.entries), outputs.events))
        read_back = FacilityStore().load(table, KEY)
        assert read_back is not None
        assert dump_state(read_back) == dump_state(reference)
    assert repaid >= 1  # the story did exercise the waterfall
