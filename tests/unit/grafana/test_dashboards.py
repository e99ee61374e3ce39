"""The provisioned dashboards, checked without a Grafana: each validates against Grafana's
dashboard JSON schema (generated from @grafana/schema by tools/grafana-schema, cached under
$TRADELANE_CACHE), names only provisioned data sources,
has unique panel ids, draws the bands the worker really applies, and queries only the
measurement and fields the sink writes."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
import pytest
import yaml

from devices.cargo import PROFILES
from ingest.points import MEASUREMENT, to_line
from streams.rules.settings import StreamRules
from tests.grafana_boards import (
    PROVIDERS,
    ROOT,
    Board,
    all_queries,
    boards,
    datasource_uid,
    family,
    flux_fields,
    flux_measurements,
    panels,
    provisioned_datasources,
    queries,
    series_names,
)
from tests.grafana_schema import dashboard_schema, schema_version
from tradelane.contracts import Gps, IngestedReading, ProfileKind, SourceFormat, TrackerReading
from tradelane.settings import ServicesSettings

BOARDS = boards()
# Grafana's own data sources a dashboard may name without provisioning them.
BUILT_IN = {"-- Grafana --", "grafana"}


@pytest.fixture(scope="session")
def schema() -> dict[str, Any]:
    """Generated once per machine and inputs (npm ci + ts-json-schema-generator, ~10 s), then
    read from the cache."""
    return dashboard_schema(ServicesSettings().cache.expanduser() / "grafana-schema")


@pytest.fixture(scope="session")
def validator(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for(schema)


def errors(validator: Any, board: Board) -> list[str]:
    return [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(board)]


def by_title(board: Board, title: str) -> dict[str, Any]:
    (panel,) = [p for p in panels(board) if p.get("title") == title]
    return panel


def threshold_values(panel: dict[str, Any]) -> list[float]:
    """The threshold lines a panel draws (the first step is Grafana's -Infinity base)."""
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[0]["value"] is None, "the base step is null, as Grafana exports -Infinity"
    return [float(s["value"]) for s in steps[1:]]


def test_there_are_the_two_dashboards() -> None:
    titles = {b["title"] for b in BOARDS.values()}
    assert titles == {"Fleet telemetry", "Pipeline health"}


def test_the_schema_is_the_pinned_grafana_release(schema: dict[str, Any]) -> None:
    assert schema["$comment"].startswith(f"Generated from @grafana/schema {schema_version()}:")
    assert schema["$ref"] == "#/definitions/Dashboard"


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_dashboard_validates_against_the_grafana_schema(validator: Any, name: str) -> None:
    assert errors(validator, BOARDS[name]) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["panels", 1, "gridPos", "w"], "12"),  # grid units are numbers
        (["templating", "list", 1, "includeAll"], True),  # not in this schema version
        (["templating", "list", 0, "type"], "dropdown"),  # not a variable type
        (["panels", 1, "fieldConfig", "defaults", "thresholds", "mode"], "relative"),
        (["panels", 1, "fieldConfig", "defaults", "thresholds", "steps", 1, "value"], "8"),
        (["panels", 1, "targets"], {"refId": "A"}),  # a list of queries
        (["refresh"], True),  # an interval or false
        (["schemaVersion"], None),
    ],
)
def test_the_schema_rejects_a_broken_dashboard(
    validator: Any, path: list[Any], value: object
) -> None:
    """The validation can fail: the schema is strict enough to catch a bad edit."""
    board = copy.deepcopy(BOARDS["fleet-telemetry.json"])
    node: Any = board
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert errors(validator, board)


def test_the_schema_rejects_a_panel_without_a_type(validator: Any) -> None:
    board = copy.deepcopy(BOARDS["pipeline-health.json"])
    del board["panels"][1]["type"]
    assert errors(validator, board)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_panel_ids_are_unique(name: str) -> None:
    ids = [p["id"] for p in panels(BOARDS[name])]
    assert len(ids) == len(set(ids)), ids


def test_dashboard_uids_are_unique_and_stable() -> None:
    uids = [b["uid"] for b in BOARDS.values()]
    assert len(uids) == len(set(uids))
    assert all(u.startswith("tradelane-") for u in uids)


def _referenced_uids(board: Board) -> set[str]:
    refs: set[str] = set()
    for var in board["templating"].get("list", []):
        if "datasource" in var:
            refs.add(var["datasource"]["uid"])
    for panel in panels(board):
        for ref in [
            panel.get("datasource"),
            *(t.get("datasource") for t in panel.get("targets", [])),
        ]:
            if ref:
                refs.add(ref["uid"])
    for annotation in board["annotations"].get("list", []):
        refs.add(annotation["datasource"]["uid"])
    return refs


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_datasource_uid_is_provisioned(name: str) -> None:
    provisioned = {d["uid"] for d in provisioned_datasources()}
    assert _referenced_uids(BOARDS[name]) - BUILT_IN <= provisioned


def test_every_query_names_a_datasource_of_its_language() -> None:
    types = {d["uid"]: d["type"] for d in provisioned_datasources()}
    for name, board in BOARDS.items():
        for query in queries(name, board):
            kind = types[query.datasource_uid]
            flux = "from(bucket:" in query.text or "schema." in query.text
            assert kind == ("influxdb" if flux else "prometheus"), query


def test_the_influxdb_source_speaks_flux_to_the_compose_influxdb() -> None:
    (influx,) = [d for d in provisioned_datasources() if d["type"] == "influxdb"]
    assert influx["jsonData"]["version"] == "Flux"
    assert influx["secureJsonData"]["token"] == "$TRADELANE_INFLUX_TOKEN"
    (prometheus,) = [d for d in provisioned_datasources() if d["type"] == "prometheus"]
    assert prometheus["url"] == "http://prometheus:9090"


def test_the_bucket_variable_is_the_bucket_the_sink_writes() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    bucket = compose["services"]["sink"]["environment"]["TRADELANE_INFLUX_BUCKET"]
    variables = BOARDS["fleet-telemetry.json"]["templating"]["list"]
    (constant,) = [v for v in variables if v["name"] == "bucket"]
    assert constant["query"] == bucket


def _sink_fields() -> set[str]:
    """The fields of a reading with every sensor present, as the sink writes it."""
    reading = TrackerReading(
        device_id="trk-1",
        seq=1,
        ts=datetime(2026, 11, 24, tzinfo=UTC),
        gps=Gps(lat=1.0, lon=2.0, hdop=0.9),
        temperature_c=4.0,
        humidity_pct=50.0,
        shock_g=0.1,
        light_lux=0.0,
        battery_pct=80.0,
    )
    record = IngestedReading(
        reading=reading,
        received_at=reading.ts,
        mqtt_topic="t",
        source_format=SourceFormat.NATIVE,
    )
    body = to_line(record, "shp-1").split(" ")[1]
    return {pair.split("=")[0] for pair in body.split(",")}


def test_flux_queries_name_the_sinks_measurement_and_fields() -> None:
    fields = _sink_fields()
    flux = all_queries(datasource_uid("influxdb"))
    assert flux
    for query in flux:
        assert flux_measurements(query.text) == {MEASUREMENT}, query
        assert flux_fields(query.text) <= fields, query


def test_the_temperature_bands_are_the_condition_profiles() -> None:
    panel = by_title(BOARDS["fleet-telemetry.json"], "Temperature against the cargo bands")
    bounds = {
        bound
        for profile in PROFILES.values()
        for bound in (profile.temp_min_c, profile.temp_max_c)
        if bound is not None
    }
    assert set(threshold_values(panel)) == bounds
    assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"


def test_the_shock_humidity_and_battery_lines_are_the_workers_limits() -> None:
    board = BOARDS["fleet-telemetry.json"]
    rules = StreamRules()
    fragile = PROFILES[ProfileKind.FRAGILE].shock_max_g
    assert threshold_values(by_title(board, "Shock")) == [fragile, rules.default_shock_limit_g]
    humidity = sorted(p.humidity_max_pct for p in PROFILES.values() if p.humidity_max_pct)
    assert threshold_values(by_title(board, "Humidity")) == humidity
    battery = [rules.battery_low_pct, rules.battery_ok_pct]
    assert threshold_values(by_title(board, "Battery")) == battery


def test_the_dashboard_provider_reads_the_directory_compose_mounts() -> None:
    (provider,) = yaml.safe_load((PROVIDERS / "tradelane.yml").read_text())["providers"]
    assert provider["type"] == "file"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./config/grafana/dashboards:{provider['options']['path']}:ro" in mounts


def documented_series() -> dict[str, set[str]]:
    """docs/operations.md's metric tables: each series (histograms by their family name) and
    the labels it documents."""
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    series: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 4 and cells[1].startswith("`tradelane_"):
            series[cells[1].strip("`")] = set(re.findall(r"`(\w+)`", cells[3]))
    return series


def test_the_documentation_lists_series() -> None:
    documented = documented_series()
    assert "tradelane_worker_events_total" in documented
    assert documented["tradelane_worker_events_total"] == {"topic", "kind"}


# Labels Prometheus adds to every series of the tradelane job (config/prometheus).
TARGET_LABELS = {"job", "instance", "service"}


def test_prometheus_queries_read_documented_series_by_documented_labels() -> None:
    documented = documented_series()
    for query in all_queries(datasource_uid("prometheus")):
        series = {family(s) for s in series_names(query.text)}
        assert series <= set(documented), (query.where, series - set(documented))
        labels = set().union(*(documented[s] for s in series)) | TARGET_LABELS | {"le"}
        used = set(re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", query.text))
        used_labels = {lbl.strip() for group in used for lbl in group.split(",")}
        used_labels |= set(re.findall(r"[{,]\s*(\w+)\s*(?:=~|!~|!=|=)", query.text))
        assert used_labels <= labels, (query.where, used_labels - labels)
