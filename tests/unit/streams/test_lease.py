"""The worker lease fold: at most one group holds it at any time, a record of another group
while it is held changes nothing, and it frees when the holder's members release it or their
renewals lapse."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.lease import Holding, fold
from tradelane.contracts import WorkerLease

TERM_MS = 30_000


def lease(app: str, member: str, state: str = "held") -> WorkerLease:
    return WorkerLease(app_id=app, member=member, state=state, term_s=TERM_MS / 1000)


def test_the_first_group_holds_and_a_second_groups_record_is_void() -> None:
    holding = fold([(0, lease("a", "a1")), (1_000, lease("b", "b1"))])
    assert holding.holder(2_000) == "a"
    assert holding.holder(TERM_MS + 1) is None  # a's renewal lapsed; b's record was void


def test_a_group_keeps_the_lease_while_any_member_renews() -> None:
    records = [
        (0, lease("a", "a1")),
        (1_000, lease("a", "a2")),
        (2_000, lease("a", "a1", "released")),
    ]
    holding = fold(records)
    assert holding.holder(3_000) == "a"  # a2 still holds it
    holding = fold([(4_000, lease("a", "a2", "released"))], holding)
    assert holding.holder(4_001) is None
    holding = fold([(5_000, lease("b", "b1"))], holding)
    assert holding.holder(5_001) == "b"


def test_a_lapsed_lease_goes_to_the_next_group_and_the_old_one_is_refused() -> None:
    records = [
        (0, lease("a", "a1")),
        (TERM_MS + 1, lease("b", "b1")),
        (TERM_MS + 2, lease("a", "a1")),
    ]
    assert fold(records).holder(TERM_MS + 3) == "b"


def test_a_release_by_another_group_changes_nothing() -> None:
    records = [(0, lease("a", "a1")), (1, lease("b", "b1", "released"))]
    assert fold(records).holder(2) == "a"


events = st.lists(
    st.tuples(
        st.integers(0, 5_000),  # gap since the previous record, ms
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["1", "2"]),
        st.sampled_from(["held", "released"]),
    ),
    max_size=60,
)


@given(events)
def test_one_holder_at_a_time_and_only_from_its_own_records(
    steps: list[tuple[int, str, str, str]],
) -> None:
    ts = 0
    holding = Holding()
    for gap, app, member, state in steps:
        ts += gap * 10
        before = holding.holder(ts)
        holding = fold([(ts, lease(app, app + member, state))], holding)
        after = holding.holder(ts)
        if before is not None and before != app:
            assert after == before  # another group's record is void while the lease is held
        if after is not None:
            assert after in (app, before)
    # folding everything at once reaches the same holding as folding record by record
    ts = 0
    records = []
    for gap, app, member, state in steps:
        ts += gap * 10
        records.append((ts, lease(app, app + member, state)))
    assert fold(records) == holding


def test_a_lease_that_ran_out_unreleased_is_lapsed_and_a_released_one_is_free() -> None:
    """What a newcomer must watch for a term before taking over (the holder may only be cut
    off by a broker restart) and what it may take at once (a clean release)."""
    ran_out = fold([(0, lease("a", "a1"))])
    assert ran_out.lapsed(TERM_MS - 1) is None  # still held
    assert ran_out.lapsed(TERM_MS + 1) == "a"
    released = fold([(0, lease("a", "a1")), (1_000, lease("a", "a1", "released"))])
    assert released.holder(2_000) is None
    assert released.lapsed(TERM_MS + 1) is None
    taken = fold([(TERM_MS + 5, lease("b", "b1"))], ran_out)
    assert taken.holder(TERM_MS + 6) == "b"
    assert taken.lapsed(TERM_MS + 6) is None
