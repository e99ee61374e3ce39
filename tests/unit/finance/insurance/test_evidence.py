"""Anyone can re-check a claim's evidence: fetch the cited readings, recompute the digest."""

from __future__ import annotations

from finance.insurance import InsuranceState, apply, cited, verify
from tests.unit.finance.insurance.builders import STORE, breach, policy, shipment_booking
from tradelane.contracts import ClaimRaised


def _claim_evidence() -> ClaimRaised:
    state = InsuranceState()
    for item in [shipment_booking(), policy()]:
        state, _ = apply(state, item)
    _, out = apply(state, breach(45))
    raised = out[0].data
    assert isinstance(raised, ClaimRaised)
    return raised


def test_the_cited_readings_recompute_the_digest_from_a_larger_fetch() -> None:
    evidence = _claim_evidence().evidence[0]
    fetched = list(STORE.values())  # a wider fetch, with readings the claim does not cite
    assert len(cited(evidence, fetched)) == evidence.count < len(fetched)
    assert verify(evidence, fetched) == []
    assert verify(evidence, reversed(fetched)) == []  # order of the fetch does not matter


def test_a_changed_missing_or_extra_reading_is_caught() -> None:
    evidence = _claim_evidence().evidence[0]
    readings = cited(evidence, STORE.values())
    changed = [readings[0].model_copy(update={"temperature_c": 4.0}), *readings[1:]]
    assert verify(evidence, changed) == ["digest does not match the readings"]
    problems = verify(evidence, readings[1:])
    assert "1 cited readings not found (or with another time)" in problems
    assert "digest does not match the readings" in problems
    short = evidence.model_copy(update={"count": evidence.count + 1})
    assert verify(short, readings) == [
        f"evidence counts {evidence.count + 1}, {evidence.count} readings found"
    ]
