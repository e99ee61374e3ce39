"""The engines' state discipline: the pure form of an in-place step differs only by a copy."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tradelane.discipline import fold, on_a_copy


def _push(state: list[int], item: int) -> int:
    """A toy in-place step: append the item, emit the running total."""
    state.append(item)
    return sum(state)


@given(st.lists(st.integers()), st.lists(st.integers(), max_size=20))
def test_the_pure_form_equals_the_in_place_step_and_leaves_its_input_alone(
    start: list[int], items: list[int]
) -> None:
    owned = list(start)
    state = list(start)
    for item in items:
        before = list(state)
        following, out = on_a_copy(_push, list, state, item)
        assert state == before
        assert out == _push(owned, item)
        assert following == owned
        state = following


@given(st.lists(st.integers()), st.lists(st.integers(), max_size=20))
def test_a_fold_copies_once_and_equals_the_pure_form_input_after_input(
    start: list[int], items: list[int]
) -> None:
    copies: list[list[int]] = []

    def copy(state: list[int]) -> list[int]:
        copies.append(list(state))
        return list(state)

    folded, outputs = fold(_push, copy, start, items)
    state, expected = start, []
    for item in items:
        state, out = on_a_copy(_push, list, state, item)
        expected.append(out)
    assert (folded, outputs) == (state, expected)
    assert copies == [start]  # one copy, and the caller's state untouched
