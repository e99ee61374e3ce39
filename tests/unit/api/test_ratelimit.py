"""The token bucket: never more than burst + rate × time, waits that are exactly long enough,
and 429 with Retry-After from the API, per key and per address without a valid key."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from api.app import create_app
from api.auth import KeyRing
from api.hub import Hub
from api.ratelimit import Bucket, Limit, RateLimiter, retry_after, take
from api.service import ApiState
from api.settings import ApiSettings
from tests.unit.api.conftest import BANK_A, KEYS, OPS

limits = st.builds(
    Limit,
    rate=st.floats(min_value=0.01, max_value=1000, allow_nan=False),
    burst=st.integers(min_value=1, max_value=1000),
)
gaps = st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), min_size=1, max_size=300)


@given(limits, gaps)
def test_never_more_than_burst_plus_rate_times_elapsed(limit: Limit, gaps: list[float]) -> None:
    bucket, now, allowed = limit.full(0.0), 0.0, 0
    for gap in gaps:
        now += gap
        bucket, wait = take(limit, bucket, now)
        allowed += wait == 0.0
        assert allowed <= limit.burst + limit.rate * now + 1e-6
        assert 0.0 <= bucket.tokens <= limit.burst


@given(limits, st.integers(min_value=0, max_value=50))
def test_a_refusal_says_exactly_how_long_to_wait(limit: Limit, extra: int) -> None:
    bucket = limit.full(0.0)
    for _ in range(limit.burst + extra):
        bucket, _ = take(limit, bucket, 0.0)
    refused, wait = take(limit, bucket, 0.0)
    assert wait > 0
    assert take(limit, refused, wait * (1 - 1e-6))[1] > 0
    assert take(limit, refused, wait * (1 + 1e-9) + 1e-9)[1] == 0.0


@given(limits)
def test_a_burst_is_served_at_once(limit: Limit) -> None:
    bucket = limit.full(5.0)
    for _ in range(limit.burst):
        bucket, wait = take(limit, bucket, 5.0)
        assert wait == 0.0


def test_a_clock_going_back_adds_nothing() -> None:
    limit = Limit(rate=1.0, burst=2)
    bucket, _ = take(limit, Bucket(0.5, 10.0), 3.0)
    assert bucket.tokens == 0.5


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after(w) for w in (0.01, 1.0, 1.2, 30.0)] == ["1", "1", "2", "30"]


def test_the_limiter_forgets_the_least_recent_names_beyond_its_bound() -> None:
    clock = [0.0]
    limiter = RateLimiter(Limit(rate=0.001, burst=1), max_names=2, clock=lambda: clock[0])
    assert limiter.take("a") == 0.0
    assert limiter.take("b") == 0.0
    assert limiter.take("a") > 0  # a is empty and now the most recent
    assert limiter.take("c") == 0.0  # b forgotten
    assert limiter.wait("a") > 0
    assert limiter.wait("b") == 0.0


def _client(state: ApiState, **settings: float) -> TestClient:
    return TestClient(
        create_app(
            ApiState(
                settings=ApiSettings.model_validate(settings),
                keys=KeyRing(KEYS),
                model=state.model,
                hub=Hub(state.model, 50),
                history=None,
                finance=None,
                loopback=True,
            )
        )
    )


def test_a_key_over_its_rate_gets_429_with_retry_after(state: ApiState) -> None:
    with _client(state, rate_per_key=0.01, burst_per_key=3) as client:
        assert [client.get("/api/v1/me", headers=BANK_A).status_code for _ in range(3)] == [200] * 3
        refused = client.get("/api/v1/me", headers=BANK_A)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        assert client.get("/api/v1/me", headers=OPS).status_code == 200  # its own bucket


def test_attempts_without_a_valid_key_are_limited_per_address(state: ApiState) -> None:
    with _client(state, rate_unauthenticated=0.01, burst_unauthenticated=2) as client:
        wrong = {"X-API-Key": "wrong-key-000"}
        assert [client.get("/api/v1/me", headers=wrong).status_code for _ in range(2)] == [401] * 2
        refused = client.get("/api/v1/me", headers=wrong)
        assert refused.status_code == 429
        assert "retry-after" in refused.headers
        assert client.get("/api/v1/me").status_code == 429  # no key at all: same address
        with client.websocket_connect("/api/v1/live/ws?key=wrong-key-000") as ws:
            assert ws.receive()["code"] == 4429
        # a key verified before is not held up by others' attempts from the same address
        assert client.get("/api/v1/me", headers=OPS).status_code == 200
