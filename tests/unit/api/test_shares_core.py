"""The pure parts of shipment shares: tokens and their hashes, expiry, who may manage a
share, the fold of ``api.shares``, and what a link holder's view holds (and never holds)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.auth import Principal
from api.projection import ReadModel, apply
from api.shares.models import TrackPoint
from api.shares.redact import redact
from api.shares.rules import (
    EXPIRES_IN_S_MAX,
    EXPIRES_IN_S_MIN,
    creator_of,
    expiry,
    is_live,
    may_manage,
    newer,
    revoked,
)
from api.shares.store import ShareBook
from api.shares.tokens import matches, new_token, share_id_for, token_sha256, well_formed
from api.shares.view import shared_view, voyage
from tests.strategies import shipment_shares
from tests.unit.api import records
from tradelane.contracts.shares import ShareStatus, ShipmentShare

T0 = datetime(2026, 11, 21, tzinfo=UTC)
OPS = Principal(name="ops", role="operator")
BANK_A = Principal(name="bank a", role="bank", party="bank-a")
BANK_B = Principal(name="bank b", role="bank", party="bank-b")


def share(token: str = "", **update: Any) -> ShipmentShare:
    digest = token_sha256(token or new_token())
    fields: dict[str, Any] = {
        "share_id": share_id_for(digest),
        "shipment_id": "shp-a",
        "token_sha256": digest,
        "creator_role": "bank",
        "creator_party": "bank-a",
        "creator_name": "bank a",
        "created_at": T0,
        "expires_at": T0 + timedelta(days=7),
        "updated_at": T0,
    }
    return ShipmentShare.model_validate(fields | update)


# --- tokens -------------------------------------------------------------------------------


def test_a_token_carries_256_random_bits_and_is_url_safe() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert re.fullmatch(r"tlshr_[A-Za-z0-9_-]{43}", token)  # 43 * 6 bits >= 256
        assert well_formed(token)


def test_only_the_hash_is_stored_and_it_matches_only_its_token() -> None:
    token, other = new_token(), new_token()
    digest = token_sha256(token)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert token not in digest
    assert matches(digest, token)
    assert not matches(digest, other)
    assert not matches(digest, token[:-1] + ("A" if token[-1] != "A" else "B"))


@pytest.mark.parametrize("bad", ["", "tlshr_", "tl_abc", "tlshr_" + "a" * 42, "x" * 10_000])
def test_malformed_tokens_never_match(bad: str) -> None:
    assert not well_formed(bad)
    assert not matches(token_sha256(bad), bad)


def test_the_share_id_is_derived_from_the_hash_not_the_token() -> None:
    token = new_token()
    sid = share_id_for(token_sha256(token))
    assert sid == share_id_for(token_sha256(token))
    assert re.fullmatch(r"shr_[0-9a-f]{32}", sid)
    assert token.removeprefix("tlshr_") not in sid


# --- expiry and management ------------------------------------------------------------------


def test_expiry_is_bounded() -> None:
    assert expiry(T0, 7 * 86_400) == T0 + timedelta(days=7)
    assert expiry(T0, EXPIRES_IN_S_MAX) == T0 + timedelta(days=90)
    for bad in (EXPIRES_IN_S_MIN - 1, EXPIRES_IN_S_MAX + 1, 0, -5):
        with pytest.raises(ValueError, match="expires_in_s"):
            expiry(T0, bad)


@given(st.integers(EXPIRES_IN_S_MIN, EXPIRES_IN_S_MAX), st.integers(-(10**7), 10**8))
def test_a_share_is_live_exactly_before_it_expires(lifetime_s: int, offset_s: int) -> None:
    s = share(expires_at=expiry(T0, lifetime_s))
    now = T0 + timedelta(seconds=offset_s)
    assert is_live(s, now) == (offset_s < lifetime_s)
    assert not is_live(revoked(s, T0), now)


def test_revocation_is_final_and_idempotent() -> None:
    s = share()
    gone = revoked(s, T0 + timedelta(hours=1))
    assert (gone.status, gone.revoked_at) == (ShareStatus.REVOKED, T0 + timedelta(hours=1))
    assert revoked(gone, T0 + timedelta(hours=2)) is gone
    assert not newer(gone, s.model_copy(update={"updated_at": T0 + timedelta(days=1)}))
    assert newer(s, gone)


def test_only_the_creators_party_or_an_operator_manage_a_share() -> None:
    s = share()
    assert may_manage(OPS, s)
    assert may_manage(Principal(name="another desk of bank a", role="bank", party="bank-a"), s)
    assert not may_manage(BANK_B, s)
    assert not may_manage(Principal(name="i", role="insurer", party="bank-a"), s)
    ops_share = share(creator_role="operator", creator_party=None, creator_name="ops")
    assert not may_manage(BANK_A, ops_share)


def test_the_creator_is_rebuilt_and_an_unknown_role_fails_closed() -> None:
    assert creator_of(share()) == BANK_A
    assert creator_of(share(creator_role="auditor")) is None


# --- the fold ------------------------------------------------------------------------------


def _wire(s: ShipmentShare) -> tuple[bytes, bytes]:
    return s.share_id.encode(), s.model_dump_json().encode()


def test_the_book_finds_a_share_by_its_token_and_folds_revocation() -> None:
    token = new_token()
    s = share(token)
    book = ShareBook()
    book.apply(*_wire(s))
    assert book.by_token(token) == s
    assert book.by_token(new_token()) is None
    book.apply(*_wire(revoked(s, T0 + timedelta(hours=1))))
    book.apply(*_wire(s))  # a late copy of the active record
    found = book.by_token(token)
    assert found is not None
    assert found.status is ShareStatus.REVOKED


def test_unreadable_records_are_counted_and_fail_closed() -> None:
    token = new_token()
    s = share(token)
    book = ShareBook()
    book.apply(*_wire(s))
    book.apply(s.share_id.encode(), b'{"schema_version": 1, "share_id": "nonsense"}')
    assert book.unreadable == 1
    assert book.by_token(token) is None
    book.apply(b"shr_" + b"0" * 32, s.model_dump_json().encode())  # key and id disagree
    assert book.unreadable == 2
    assert book.by_token(token) is None


@given(st.lists(shipment_shares(), min_size=1, max_size=8), st.randoms())
def test_the_fold_ends_the_same_in_any_order(shares: list[ShipmentShare], rnd: Any) -> None:
    """Versions of one share reaching a process in any order leave it revoked if any version
    is, else at its latest version (a restart re-reads them in yet another order)."""
    first = shares[0]
    versions = [
        s.model_copy(update={"share_id": first.share_id, "token_sha256": first.token_sha256})
        for s in shares
    ]
    rnd.shuffle(versions)
    book = ShareBook()
    for version in versions:
        book.put(version)
    held = book.shares[first.share_id]
    if any(v.status is ShareStatus.REVOKED for v in versions):
        assert held.status is ShareStatus.REVOKED
    else:
        assert held.updated_at == max(v.updated_at for v in versions)
    assert book.by_hash == {first.token_sha256: first.share_id}


# --- the holder's view ------------------------------------------------------------------------

FINANCE_WORDS = re.compile(
    r"facilit|amount|value|bank|pledg|claim|polic|insur|borrow|currency|money|drawdown|"
    r"outstanding|ledger|limit|advance|interest|cargo|shipper|consignee|price|cost|paid|payout",
    re.IGNORECASE,
)


def _keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in _keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in _keys(v)}
    return set()


def _fleet_model() -> ReadModel:
    model = ReadModel()
    for topic, value in records.fleet():
        apply(model, topic, value)
    return model


def test_the_shared_view_holds_track_condition_milestones_and_status() -> None:
    model = _fleet_model()
    view = model.shipments["shp-a"]
    track = [TrackPoint(time=T0, lat=31.0, lon=121.0)]
    out = shared_view(view, share(), track, 3600).model_dump(mode="json")
    assert out["shipment_id"] == "shp-a"
    assert out["status"] == view.status
    assert set(out["milestones"]) == set(view.milestones)
    assert out["milestones"]
    assert out["position"]["lat"] == 31.0
    assert out["track"] == [{"time": "2026-11-21T00:00:00Z", "lat": 31.0, "lon": 121.0}]
    assert out["condition"]["breached"] is True
    assert out["condition"]["excursions"] == {"breach_started": 1}
    assert out["condition"]["latest"]["temperature_c"] == 5
    assert out["link_expires_at"] == "2026-11-28T00:00:00Z"


def test_the_shared_view_holds_no_finance_at_all() -> None:
    """shp-a is pledged to fac-a of bank-a, drawn on, insured and claimed on: none of it may
    reach a link holder, neither as a key nor as a value."""
    model = _fleet_model()
    assert model.shipment_facilities.get("shp-a")  # the fixture does pledge it
    out = shared_view(model.shipments["shp-a"], share(), None, None).model_dump(mode="json")
    leaked = {k for k in _keys(out) if FINANCE_WORDS.search(k)}
    assert not leaked, leaked
    text = json.dumps(out)
    booking = model.shipments["shp-a"].booking
    assert booking is not None
    hidden = ("fac-a", "bank-a", "ins-a", "pol-shp-a", "seller-a", booking.shipper)
    for secret in (*hidden, str(booking.cargo.value.amount), "250000", "75000", "USD"):
        assert secret not in text, secret


def test_a_view_without_booking_has_no_window_and_no_band() -> None:
    model = ReadModel()
    topic, value = records.reading("dev-x", 1, 0, 1.0, 2.0)
    apply(model, topic, value)
    apply(model, *records.departed("shp-x"))
    view = model.shipments["shp-x"]
    assert voyage(view) is None
    out = shared_view(view, share(shipment_id="shp-x"), None, None)
    assert out.condition.temp_min_c is None
    assert out.condition.latest_in_band is None


def test_tokens_are_redacted_from_access_log_lines() -> None:
    token = new_token()
    line = f'127.0.0.1:5000 - "GET /api/v1/shared/{token}?x=1 HTTP/1.1" 200'
    assert token not in redact(line)
    assert "/api/v1/shared/***?x=1" in redact(line)
    assert redact("GET /api/v1/shipments/shp-a") == "GET /api/v1/shipments/shp-a"
