"""Generated hostile payloads for the fuzz tests (and the atheris harness): random bytes,
random JSON, and valid payloads of each contract with one part replaced by something nasty
(a 5,000-digit number, NaN, nesting deeper than the parser recurses, a lone surrogate, a
wrong version, a field removed or added), so that generation reaches past the first
``json.loads`` into the adapters' and the engines' own code."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from finance.event_json import event_json
from tests.samples import booking
from tests.unit.finance import builders as fin
from tests.unit.finance.insurance import builders as ins
from tradelane.contracts import (
    ClaimDecision,
    Decision,
    DeviceStatus,
    FinanceCommand,
    Gps,
    IngestedReading,
    IngestedStatus,
    Milestone,
    TrackerReading,
)
from tradelane.contracts.finance import finance_command_type

TOTAL = int(os.environ.get("TRADELANE_FUZZ_EXAMPLES", "1500"))
"""Generated payloads per target family (spread over the family's targets). `make test` runs
the default; ``TRADELANE_FUZZ_EXAMPLES=100000`` runs the full count (docs/ingest.md)."""


def per_target(targets: int) -> settings:
    """Hypothesis settings for one target of a family of ``targets``: the family's total
    spread evenly, no deadline (a 60 kB payload may take a while), no example database (the
    full run would fill it)."""
    return settings(
        max_examples=-(-TOTAL // targets),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


NASTY: list[str] = [
    "9" * 5000,
    "-" + "9" * 5000,
    "1" + "0" * 400 + ".5",
    "1e999",
    "-1e999",
    "1e-999",
    "NaN",
    "Infinity",
    "-Infinity",
    "-0",
    "2147483648",
    "18446744073709551616",
    "-9223372036854775809",
    "0.1",
    "true",
    "null",
    '""',
    '"x"',
    '"%d%s%n"',
    '"\\ud800"',
    '"\\u0000"',
    '"' + "a" * 5000 + '"',
    '"2026-13-45T99:99:99Z"',
    '"2026-11-24T12:00:00"',
    '"9999-12-31T23:59:59Z"',
    '"0001-01-01T00:00:00Z"',
    "[]",
    "{}",
    "[1, 2]",
    '{"a": {"b": [1, {"c": null}]}}',
    "[" * 3000 + "]" * 3000,
    '{"a":' * 1200 + "1" + "}" * 1200,
    "[" * 900 + "]" * 900,
    '{"a":' * 900 + "1" + "}" * 900,
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
replacements = st.sampled_from(NASTY) | json_values.map(json.dumps)

_HOLE = "\u0000fuzz-hole\u0000"
_HOLE_JSON = json.dumps(_HOLE)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _set(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {**node, head: _set(node[head], rest, value)}
    copy = list(node)
    copy[head] = _set(copy[head], rest, value)
    return copy


def _delete(node: Any, path: tuple[Any, ...]) -> Any:
    if len(path) == 1:
        if isinstance(node, dict):
            return {k: v for k, v in node.items() if k != path[0]}
        return [v for i, v in enumerate(node) if i != path[0]]
    head = path[0]
    if isinstance(node, dict):
        return {**node, head: _delete(node[head], path[1:])}
    copy = list(node)
    copy[head] = _delete(copy[head], path[1:])
    return copy


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Any]) -> bytes:
    """One of ``seeds`` (JSON documents) with one part replaced, removed or added to."""
    seed = draw(st.sampled_from(seeds))
    paths = _paths(seed)
    path = draw(st.sampled_from(paths))
    operation = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    if operation == "delete" and path:
        text = json.dumps(_delete(seed, path))
    elif operation == "add":
        holder = draw(st.sampled_from([p for p in paths if _is_dict(seed, p)] or [()]))
        key = draw(st.text(max_size=12) | st.sampled_from(["schema_version", "extra", "_type"]))
        text = json.dumps(_set(seed, holder, {**_get(seed, holder), key: _HOLE}))
        text = text.replace(_HOLE_JSON, draw(replacements))
    else:
        text = json.dumps(_set(seed, path, _HOLE)).replace(_HOLE_JSON, draw(replacements))
    raw = text.encode("utf-8", "surrogatepass")
    cut = draw(st.none() | st.integers(0, len(raw)))
    return raw if cut is None or draw(st.booleans()) else raw[:cut]


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


def _is_dict(node: Any, path: tuple[Any, ...]) -> bool:
    return isinstance(_get(node, path), dict)


def payloads(seeds: list[Any]) -> st.SearchStrategy[bytes]:
    """Hostile payloads around ``seeds``: mostly mutations, some random JSON and bytes."""
    return st.one_of(
        mutated(seeds),
        mutated(seeds),
        mutated(seeds),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=512),
        st.sampled_from(NASTY).map(str.encode),
    )


# --- seeds: a valid payload of each kind ----------------------------------------------------

T0 = datetime(2026, 11, 24, 12, tzinfo=UTC)


def _doc(model: Any) -> Any:
    return json.loads(model.model_dump_json())


def native_seeds() -> list[Any]:
    reading = TrackerReading(
        device_id="trk-1",
        seq=7,
        ts=T0 - timedelta(minutes=1),
        gps=Gps(lat=51.9, lon=4.1, speed_kmh=12, heading_deg=90, hdop=0.9),
        temperature_c=4.5,
        humidity_pct=60,
        shock_g=0.3,
        light_lux=1,
        battery_pct=80,
    )
    return [_doc(reading), {"device_id": "trk-1", "seq": 1, "ts": "2026-11-24T11:00:00Z"}]


def owntracks_seeds() -> list[Any]:
    return [
        {
            "_type": "location",
            "tst": 1764000000,
            "lat": 51.9,
            "lon": 4.1,
            "acc": 5,
            "vel": 12,
            "cog": 270,
            "batt": 77,
            "alt": 3,
            "tid": "ph",
        },
        {"_type": "lwt", "tst": 1764000000},
    ]


def ttn_seeds() -> list[Any]:
    return [
        {
            "end_device_ids": {"device_id": "dev-1", "application_ids": {"application_id": "app"}},
            "received_at": "2026-11-24T11:59:00Z",
            "uplink_message": {
                "f_cnt": 42,
                "received_at": "2026-11-24T11:59:00Z",
                "decoded_payload": {
                    "temperature": 4.2,
                    "humidity": 55,
                    "battery": 90,
                    "shock_g": 0.2,
                    "lux": 3,
                    "tamper": False,
                    "gps_1": {"latitude": 51.9, "longitude": 4.1, "altitude": 2},
                },
                "locations": {"frm-payload": {"latitude": 51.9, "longitude": 4.1}},
                "last_battery_percentage": {"value": 88},
            },
        }
    ]


def status_seeds() -> list[Any]:
    return [{"device_id": "trk-1", "state": "offline", "ts": "2026-11-24T11:00:00Z"}]


def finance_command() -> FinanceCommand:
    data = fin.repayment("1000.00", 3)
    return FinanceCommand(
        id="cmd-1",
        source="/tradelane/test",
        type=finance_command_type(data.kind),
        subject=data.facility_id,
        time=data.at,
        data=data,
    )


def kafka_seeds() -> dict[str, list[Any]]:
    """Valid values of the Kafka topics consumers decode, by topic (events and ledger entries
    as the pledge engine makes them)."""
    reading = IngestedReading(
        reading=TrackerReading.model_validate(native_seeds()[0]),
        received_at=T0,
        mqtt_topic="tradelane/v1/trackers/trk-1/readings",
    )
    status = IngestedStatus(
        status=DeviceStatus.model_validate(status_seeds()[0]),
        received_at=T0,
        mqtt_topic="tradelane/v1/trackers/trk-1/status",
    )
    departed = fin.milestone(Milestone.DEPARTED_ORIGIN, 2)
    _, outputs = fin.play([*fin.setup(), departed])
    events = [e for out in outputs for e in out.events]
    entries = [e for out in outputs for e in out.entries]
    decision = ClaimDecision(
        command_id="dec-1",
        decision=Decision.APPROVE,
        claim_id="0123456789abcdef0123456789abcdef",
        policy_id="pol-1",
        shipment_id="shp-1",
        insurer_id="ins-1",
        share=Decimal("0.5"),
        at=T0,
    )
    return {
        "tracker.readings": [_doc(reading)],
        "tracker.status": [_doc(status)],
        "shipments.registry": [_doc(booking("shp-1", ["trk-1"]))],
        "shipments.events": [_doc(departed)],
        "finance.facilities": [_doc(fin.facility())],
        "finance.events": [json.loads(event_json(e)) for e in events],
        "finance.ledger": [_doc(e) for e in entries],
        "finance.commands": [_doc(finance_command())],
        "insurance.policies": [_doc(ins.policy())],
        "insurance.commands": [_doc(decision)],
        "fx.rates": [_doc(fin.eur_usd())],
    }
