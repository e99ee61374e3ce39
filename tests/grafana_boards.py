"""Reading the provisioned Grafana dashboards (config/grafana) for the unit and integration tests.

No Grafana runs here, so the dashboards are checked by what they say: their JSON against
Grafana's schema (tests/grafana_schema.py), the data sources they name against the provisioning,
and the queries they run against what the processes really write (InfluxDB's measurement and
fields, Prometheus' metric names)."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
GRAFANA = ROOT / "config" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
DATASOURCES = GRAFANA / "provisioning" / "datasources"
PROVIDERS = GRAFANA / "provisioning" / "dashboards"

Board = dict[str, Any]


@dataclass(frozen=True)
class Query:
    """One query a dashboard runs: a panel's target or a template variable's query."""

    board: str
    where: str  # panel title or "variable NAME"
    datasource_uid: str
    text: str


def boards() -> dict[str, Board]:
    """Every dashboard JSON by file name."""
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def provisioned_datasources() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(DATASOURCES.glob("*.yml")):
        found += yaml.safe_load(path.read_text())["datasources"]
    return found


def panels(board: Board) -> Iterator[dict[str, Any]]:
    """Every panel, rows and the panels inside collapsed rows included."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def _uid(ref: dict[str, Any] | None, default: str) -> str:
    return str(ref["uid"]) if ref and "uid" in ref else default


def queries(name: str, board: Board) -> list[Query]:
    """The text of every query in ``board``: panels' targets (Flux ``query``, PromQL ``expr``)
    and query variables."""
    found: list[Query] = []
    for var in board["templating"].get("list", []):
        if var["type"] == "query":
            uid = _uid(var.get("datasource"), "")
            found.append(Query(name, f"variable {var['name']}", uid, str(var["query"])))
    for panel in panels(board):
        default = _uid(panel.get("datasource"), "")
        for target in panel.get("targets", []):
            text = target.get("query") or target.get("expr")
            uid = _uid(target.get("datasource"), default)
            found.append(Query(name, panel.get("title", ""), uid, str(text)))
    return found


def all_queries(datasource_uid: str) -> list[Query]:
    return [
        q for n, b in boards().items() for q in queries(n, b) if q.datasource_uid == datasource_uid
    ]


def datasource_uid(kind: str) -> str:
    """The uid of the one provisioned data source of type ``kind``."""
    (uid,) = [str(d["uid"]) for d in provisioned_datasources() if d["type"] == kind]
    return uid


_MEASUREMENT = re.compile(r'r\._measurement\s*==\s*"([^"]+)"')
_FIELD = re.compile(r'r\._field\s*==\s*"([^"]+)"')
_METRIC = re.compile(r"\b(tradelane_[a-z0-9_]+)")
_HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")


def flux_measurements(text: str) -> set[str]:
    return set(_MEASUREMENT.findall(text))


def flux_fields(text: str) -> set[str]:
    return set(_FIELD.findall(text))


def series_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects, as Prometheus stores them."""
    return set(_METRIC.findall(expr))


def render(values: list[str], fmt: str) -> str:
    """A variable's value as Grafana formats it: ``${x:json}`` a JSON list, ``${x:regex}`` an
    escaped alternation (one value: just that value escaped), ``${x}`` the value itself."""
    if fmt == "json":
        return json.dumps(values)
    if fmt == "regex":
        escaped = [re.escape(v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    assert len(values) == 1, f"${{…}} of {values}: Grafana would need a format"
    return values[0]


_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}")


def substitute_flux(text: str, variables: dict[str, list[str]], start: str, stop: str) -> str:
    """``text`` as Grafana would send it: ``${name}`` and ``${name:format}`` replaced, and the
    ``v`` record Grafana defines (time range and window) set after the imports."""
    text = _VARIABLE.sub(lambda m: render(variables[m[1]], m[2] or ""), text)
    lines = text.splitlines()
    imports = [ln for ln in lines if ln.startswith("import ")]
    body = [ln for ln in lines if not ln.startswith("import ")]
    option = f"option v = {{timeRangeStart: {start}, timeRangeStop: {stop}, windowPeriod: 1h}}"
    return "\n".join([*imports, option, *body])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback http
        body = json.load(resp)
    assert body["status"] == "success", body
    return body["data"]


def family(series: str) -> str:
    """The metric a series belongs to as the documentation names it (a histogram's
    ``x_seconds_bucket`` → ``x_seconds``; counters keep ``_total``)."""
    for suffix in _HISTOGRAM_SERIES:
        if series.endswith(suffix):
            return series.removesuffix(suffix)
    return series


def metadata_family(series: str) -> str:
    """The metric family as Prometheus' metadata names it (``x_total`` → ``x``)."""
    return family(series).removesuffix("_total")


def unseen_dashboard_series(prometheus: str, since: float) -> set[str]:
    """The Tradelane series the Prometheus dashboard queries that ``prometheus`` does not know:
    neither stored (``/api/v1/label/__name__/values``) nor announced by a target it scrapes now
    (``/api/v1/metadata``: a labelled family with no sample yet, e.g. dead letters by reason
    before the first one, has only its HELP/TYPE). Only samples since ``since`` (Unix time)
    count, so names an earlier run left in Prometheus do not. Call it while the processes run."""
    stored = set(_get(f"{prometheus}/api/v1/label/__name__/values?start={since:.3f}"))
    announced = set(_get(f"{prometheus}/api/v1/metadata"))
    wanted = set().union(*(series_names(q.text) for q in all_queries(datasource_uid("prometheus"))))
    return {s for s in wanted if s not in stored and metadata_family(s) not in announced}
