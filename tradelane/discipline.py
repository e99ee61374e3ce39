"""The engines' one state discipline: a step mutates a state its caller owns.

An engine's rules are written once, as an *in-place step* ``step(state, item) -> outputs``:
``state`` itself becomes the next state. That is what the hot path needs - the worker keeps
one state per facility and applies thousands of inputs a second to it; copying a facility of
1,000 shipments for every input cost more than the rules themselves - and it is the only
form of the rules an engine writes.

The pure form ``apply(state, item) -> (next_state, outputs)`` that tests, replays and
rebuilds want is derived from the step here, once, for every engine: copy the state, run the
in-place step on the copy, return both (:func:`on_a_copy`). The copy is the only difference
between the two, so no engine keeps a hand-written copying twin of its rules that could drift
from the in-place one. A fold over many inputs (:func:`fold`) copies once, not per input.

The contract of an in-place step:

* it is a function of (state, item) alone: time from the item, ids derived from inputs;
* the caller owns ``state``: nothing else may hold on to it while the step runs;
* if it raises, ``state`` may be half updated and must be discarded (the worker reads it
  again from its table).

Engines under this discipline: the shipment rules (:mod:`streams.core`: ``apply_in_place``
on the worker's table states, ``apply`` derived here), the pledge engine
(:mod:`finance.pledge_engine`: the worker's fast step and the reference step that revalues
everything, one function) and the insurance
engine (:mod:`finance.insurance.engine`: the step updates the state's maps; the records in
them are immutable values it replaces).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

S = TypeVar("S")
I = TypeVar("I")  # noqa: E741 - the input, as in ``apply(state, item)``
O = TypeVar("O")  # noqa: E741 - what one step emitted


def on_a_copy(step: Callable[[S, I], O], copy: Callable[[S], S], state: S, item: I) -> tuple[S, O]:
    """The pure form of an in-place ``step``: the next state of a copy of ``state`` and the
    outputs. ``state`` is not modified (``copy`` must share nothing the step mutates)."""
    working = copy(state)
    return working, step(working, item)


def fold(
    step: Callable[[S, I], O], copy: Callable[[S], S], state: S, items: Iterable[I]
) -> tuple[S, list[O]]:
    """``items`` folded through the pure form of ``step``: one copy, then every step in place
    on it (equal to :func:`on_a_copy` input after input, without a copy per input)."""
    working = copy(state)
    return working, [step(working, item) for item in items]
