"""The insurance agent's per-message work: what it writes to its table and sends."""

from __future__ import annotations

from finance.insurance import apply
from finance.insurance.state import InsuranceState
from finance.shell import EVENT, InsuranceShell
from tests.unit.finance.insurance import builders as b
from tradelane.contracts import ShipmentEvent

KEY = b.SHIPMENT.encode()


class Recording(dict[bytes, bytes]):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)


def _message(event: ShipmentEvent) -> bytes:
    return EVENT + event.model_dump_json().encode()


def test_an_event_that_changes_nothing_writes_nothing_and_the_state_stays_exact() -> None:
    table = Recording()
    shell = InsuranceShell()
    prior = [b.policy(), b.shipment_booking()]
    shell.handle(table, KEY, _message(b.shock(12.0)), lambda: prior)
    assert table.writes == [KEY]
    again = shell.handle(table, KEY, _message(b.shock(12.0)), list)
    # the same reading reported weaker (a shock at another time is a sighting of its own)
    weaker = shell.handle(table, KEY, _message(b.shock(3.0)), list)
    assert again == weaker == []
    assert table.writes == [KEY]
    state = InsuranceState()
    for item in [*prior, b.shock(12.0), b.shock(12.0), b.shock(3.0)]:
        state, _ = apply(state, item)
    assert table[KEY] == state.model_dump_json().encode()
    shell.handle(table, KEY, _message(b.shock(15.0, at_min=80)), list)
    assert table.writes == [KEY, KEY]
    state, _ = apply(state, b.shock(15.0, at_min=80))
    assert table[KEY] == state.model_dump_json().encode()
