"""The collateral register: one cargo secures its value once, across every facility.

Properties, for any sequence of steps (facilities pledging, re-pledging with other amounts and
dropping the shipment in any order, the cargo value moving, the same step delivered twice):

* the values the register grants never add up to more than the cargo value;
* what each pledging facility's engine believes it secures (the decisions it was sent, or its
  terms' pledge accepted in full when it was sent none) is what the register granted it;
* the same input twice changes nothing and sends nothing;
* the first pledge is never reduced by a later one;
* every decision has its own id (per facility), derived from the inputs alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from finance.collateral_register import Register, decide, grants, new_register, pledges_of
from tests.unit.finance import builders as b
from tradelane.contracts import Money
from tradelane.contracts.finance import PledgeCode, PledgeDecided

T0 = datetime(2026, 12, 1, tzinfo=UTC)
FACILITIES = ["fac-a", "fac-b", "fac-c", "fac-d"]
CARGO = Money(amount=Decimal(250_000), currency="USD")


def usd(amount: int | str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


amounts = st.none() | st.sampled_from([usd(0), usd(100_000), usd(150_000), usd(400_000)])
pledge_sets = st.dictionaries(st.sampled_from(FACILITIES), amounts, max_size=4)
cargo_values = st.sampled_from(
    [CARGO, CARGO, CARGO, usd(90_000), usd(300_000), Money(amount=Decimal(1), currency="EUR")]
)


def _want(requested: Money | None, cargo: Money) -> Decimal:
    if requested is None:
        return cargo.amount
    return requested.amount if requested.currency == cargo.currency else Decimal(0)


def _believed(
    beliefs: dict[str, Decimal], facility: str, requested: Money | None, cargo: Money
) -> Decimal:
    """What a facility's engine values its pledge at: the last grant it was told, else its
    terms' pledge, capped by the cargo value (as ``finance.collateral.secured_value``)."""
    value = min(cargo.amount, _want(requested, cargo))
    if facility in beliefs:
        value = min(value, beliefs[facility])
    return value


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(pledge_sets, cargo_values, st.booleans()), min_size=1, max_size=12))
def test_no_cargo_secures_more_than_its_value_whatever_the_order(
    steps: list[tuple[dict[str, Money | None], Money, bool]],
) -> None:
    register = new_register("shp-1")
    beliefs: dict[str, Decimal] = {}
    ids: set[tuple[str, str]] = set()
    for n, (pledges, cargo, twice) in enumerate(steps):
        at = T0 + timedelta(minutes=n)
        register, decisions = decide(register, pledges, cargo, at)
        for d in decisions:
            assert (d.decision_id, d.facility_id) not in ids, "a decision id used twice"
            ids.add((d.decision_id, d.facility_id))
            assert d.facility_id in pledges
            assert d.shipment_id == "shp-1"
            assert d.at == at
            if d.concerns == "own_pledge":
                beliefs[d.facility_id] = d.granted.amount
            else:  # told of a later pledge: it holds part of the cargo and keeps it
                assert d.code in (
                    PledgeCode.PLEDGE_CAPPED_TO_CARGO_VALUE,
                    PledgeCode.COLLATERAL_ALREADY_PLEDGED,
                )
                assert d.granted.amount > 0
        granted = grants(cargo, register.claims)
        assert sum(g for _, g in granted) <= max(cargo.amount, Decimal(0))
        believed = {
            f: _believed(beliefs, f, pledges[f], cargo) for f in pledges if cargo is not None
        }
        assert sum(believed.values()) <= cargo.amount
        assert believed == {
            c.facility_id: g for c, (_, g) in zip(register.claims, granted, strict=True)
        }
        if twice:  # the same input redelivered: nothing changes, nothing is sent
            again, repeated = decide(register, pledges, cargo, at)
            assert repeated == []
            assert again is register


@settings(max_examples=300, deadline=None)
@given(
    first=amounts,
    later=st.lists(st.tuples(pledge_sets, st.booleans()), min_size=1, max_size=10),
)
def test_the_first_pledge_is_never_reduced_by_a_later_one(
    first: Money | None, later: list[tuple[dict[str, Money | None], bool]]
) -> None:
    register, _ = decide(new_register("shp-1"), {"fac-0": first}, CARGO, T0)
    (held_code, held), *_ = grants(CARGO, register.claims)
    told_to_first: list[PledgeDecided] = []
    for n, (others, also_new) in enumerate(later):
        pledges = {**others, "fac-0": first}
        if also_new:  # a pledge seen in the same step as others sorts by facility id only
            pledges["fac-00-late"] = None
        register, decisions = decide(register, pledges, CARGO, T0 + timedelta(hours=n))
        assert grants(CARGO, register.claims)[0] == (held_code, held)
        told_to_first += [d for d in decisions if d.facility_id == "fac-0"]
    assert all(d.concerns == "later_pledge" and d.granted.amount == held for d in told_to_first)


def test_two_banks_one_cargo_the_second_is_capped_and_both_are_told() -> None:
    """The issue's case: a 250,000 USD cargo pledged 150,000 to one bank, then 150,000 to a
    second: the second secures the 100,000 left, and both banks see the code."""
    register, decisions = decide(new_register("shp-1"), {"fac-a": usd(150_000)}, CARGO, T0)
    assert decisions == []  # accepted in full: what the facility assumes, nothing to say
    pledges = {"fac-a": usd(150_000), "fac-b": usd(150_000)}
    register, decisions = decide(register, pledges, CARGO, T0 + timedelta(hours=1))
    capped = PledgeCode.PLEDGE_CAPPED_TO_CARGO_VALUE
    seen = [(d.facility_id, d.concerns, d.code, d.granted, d.pledged_elsewhere) for d in decisions]
    assert seen == [
        ("fac-b", "own_pledge", capped, usd(100_000), usd(150_000)),
        ("fac-a", "later_pledge", capped, usd(150_000), usd(100_000)),
    ]
    assert decisions[0].decision_id == decisions[1].decision_id
    assert decisions[1].requested == usd(150_000)  # fac-a's own terms, never fac-b's
    # a third pledge of the whole cargo finds nothing left
    register, decisions = decide(
        register, {**pledges, "fac-c": None}, CARGO, T0 + timedelta(hours=2)
    )
    assert [(d.facility_id, d.concerns, d.code) for d in decisions] == [
        ("fac-c", "own_pledge", PledgeCode.COLLATERAL_ALREADY_PLEDGED),
        ("fac-a", "later_pledge", PledgeCode.COLLATERAL_ALREADY_PLEDGED),
        ("fac-b", "later_pledge", PledgeCode.COLLATERAL_ALREADY_PLEDGED),
    ]
    assert decisions[0].granted == usd(0)


def test_a_released_pledge_frees_the_cargo_for_the_next_in_line() -> None:
    register, _ = decide(new_register("shp-1"), {"fac-a": None}, CARGO, T0)
    register, decisions = decide(register, {"fac-a": None, "fac-b": None}, CARGO, T0)
    assert [(d.facility_id, d.code) for d in decisions] == [
        ("fac-b", PledgeCode.COLLATERAL_ALREADY_PLEDGED),
        ("fac-a", PledgeCode.COLLATERAL_ALREADY_PLEDGED),
    ]
    register, decisions = decide(register, {"fac-b": None}, CARGO, T0 + timedelta(days=1))
    assert [(d.facility_id, d.code, d.granted) for d in decisions] == [
        ("fac-b", PledgeCode.PLEDGE_ACCEPTED, CARGO)
    ]
    # fac-a pledges again: a new pledge, behind fac-b; its engine still holds nothing to undo
    register, decisions = decide(register, {"fac-a": None, "fac-b": None}, CARGO, T0)
    assert [(d.facility_id, d.concerns, d.code) for d in decisions] == [
        ("fac-a", "own_pledge", PledgeCode.COLLATERAL_ALREADY_PLEDGED),
        ("fac-b", "later_pledge", PledgeCode.COLLATERAL_ALREADY_PLEDGED),
    ]


def test_a_facility_told_a_cap_is_told_again_when_it_pledges_anew() -> None:
    """fac-b was capped, then changed its amount (a new pledge) that now fits: its engine still
    holds the old cap, so it is told the new pledge is accepted."""
    register, _ = decide(new_register("shp-1"), {"fac-a": usd(200_000)}, CARGO, T0)
    register, decisions = decide(
        register, {"fac-a": usd(200_000), "fac-b": usd(100_000)}, CARGO, T0
    )
    assert decisions[0].granted == usd(50_000)
    register, decisions = decide(register, {"fac-a": usd(200_000), "fac-b": usd(50_000)}, CARGO, T0)
    assert [(d.facility_id, d.code, d.granted) for d in decisions] == [
        ("fac-b", PledgeCode.PLEDGE_ACCEPTED, usd(50_000))
    ]
    assert register.stale == []


def test_nothing_is_decided_before_the_cargo_value_is_known_and_order_is_kept() -> None:
    register, decisions = decide(new_register("shp-1"), {"fac-b": None}, None, T0)
    register, more = decide(register, {"fac-a": None, "fac-b": None}, None, T0)
    assert decisions == more == []
    assert [c.facility_id for c in register.claims] == ["fac-b", "fac-a"]  # first come
    _, decisions = decide(register, {"fac-a": None, "fac-b": None}, CARGO, T0)
    assert [(d.facility_id, d.concerns) for d in decisions] == [
        ("fac-a", "own_pledge"),
        ("fac-b", "later_pledge"),
    ]


def test_a_pledge_in_another_currency_secures_nothing_and_blames_no_one() -> None:
    _, decisions = decide(new_register("shp-1"), {"fac-a": None, "fac-b": b.eur(1000)}, CARGO, T0)
    assert [(d.facility_id, d.code) for d in decisions] == [
        ("fac-b", PledgeCode.PLEDGE_CURRENCY_MISMATCH)
    ]


def test_ids_derive_from_the_inputs_and_the_register_round_trips() -> None:
    pledges = {"fac-a": None, "fac-b": usd(10)}
    one = decide(new_register("shp-1"), pledges, CARGO, T0)
    two = decide(new_register("shp-1"), pledges, CARGO, T0)
    assert one == two
    raw = one[0].model_dump_json()
    assert Register.model_validate_json(raw) == one[0]


def test_pledges_are_read_from_the_facility_records() -> None:
    terms = {
        "fac-1": b.facility(pledged_shipments=["shp-1", "shp-2"], pledge_amounts={"shp-1": usd(5)}),
        "fac-2": b.facility(facility_id="fac-2", pledged_shipments=["shp-2"]),
    }
    assert pledges_of(terms, "shp-1") == {"fac-1": usd(5)}
    assert pledges_of(terms, "shp-2") == {"fac-1": None, "fac-2": None}
    assert pledges_of(terms, "shp-3") == {}
