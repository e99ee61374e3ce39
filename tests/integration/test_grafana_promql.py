"""Every PromQL query of the Pipeline health dashboard, with Grafana's interval variables
substituted, is accepted and evaluated by the real Prometheus (a typo, a missing bracket or a
`by` on a non-aggregation is a 400 there). Whether the series exist is checked where the
processes run: test_prometheus.py."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.grafana_boards import all_queries, datasource_uid

pytestmark = pytest.mark.integration

GRAFANA_INTERVALS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


def substitute(expr: str) -> str:
    for name, value in GRAFANA_INTERVALS.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"an unsubstituted variable in {expr}"
    return expr


def test_every_promql_query_is_accepted_by_prometheus(prometheus_url: str) -> None:
    exprs = all_queries(datasource_uid("prometheus"))
    assert len(exprs) >= 20
    for q in exprs:
        url = (
            f"{prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': substitute(q.text)})}"
        )
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback http
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{q.where}: {q.text}: {exc.read().decode()}") from exc
        assert body["status"] == "success", (q.where, body)
