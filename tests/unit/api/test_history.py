"""History queries: resolutions parse strictly and are coarsened to a bounded point count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.history import MAX_POINTS, effective_resolution, parse_resolution


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("2d", 172800)]
)
def test_resolutions(text: str, seconds: int) -> None:
    assert parse_resolution(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "0h", "1w", "h", "1.5h", "-1h", "1h; drop"])
def test_bad_resolutions_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="resolution"):
        parse_resolution(text)


def test_a_fine_resolution_over_a_long_range_is_coarsened() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    stop = start + timedelta(days=365)
    every = effective_resolution(start, stop, timedelta(seconds=30))
    assert (stop - start) / every <= MAX_POINTS
    assert effective_resolution(start, start + timedelta(days=1), timedelta(hours=1)) == (
        timedelta(hours=1)
    )
