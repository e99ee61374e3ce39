"""Exports: a shipment's track and readings, a facility's ledger, as files.

``GET /api/v1/shipments/{id}/export?format=gpx|geojson|csv`` and
``GET /api/v1/facilities/{id}/ledger/export?format=csv|bundle``. The format is a query
parameter rather than content negotiation: an export link works as it is in a browser, curl or
a spreadsheet's "import from URL", and the answer's ``Content-Type`` still names the media
type (``application/gpx+xml``, ``application/geo+json``, ``text/csv``, ``application/json``).
Tenancy is the shipment and facility routes' own (``api/access.py``): what a key may not see
answers 404, as if it did not exist.

Thin shells: the formats are :mod:`api.exports` and :mod:`finance.ledger_export`; readings
stream from InfluxDB (:mod:`api.export_reads`) in chunks of about 64 KiB; the ledger is read
from Kafka in the finance read worker, as ``/ledger`` is, within the same entry cap.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response, StreamingResponse

from api.access import can_see_shipment
from api.deps import PrincipalDep, StateDep
from api.export_reads import stream_readings
from api.exports import ExportReading, GeoJson, Gpx, ReadingsCsv, Writer
from api.problems import problem_responses
from api.routes_finance import finance_read, seen_facility, within_cap
from finance.ledger_export import bundle_bytes, chain, ledger_csv

router = APIRouter(prefix="/api/v1", tags=["exports"])
CHUNK_CHARS = 64 * 1024
ShipmentFormat = Literal["gpx", "geojson", "csv"]
LedgerFormat = Literal["csv", "bundle"]
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _media(*types: str) -> dict[int | str, dict[str, Any]]:
    ok: dict[int | str, dict[str, Any]] = {
        200: {"content": {t: {"schema": {"type": "string"}} for t in types}}
    }
    return ok | problem_responses(401, 404, 422, 429, 503)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{_SAFE.sub("_", name)}"'}


async def _chunks(
    writer: Writer, first: ExportReading | None, rest: AsyncGenerator[ExportReading, None]
) -> AsyncIterator[str]:
    """The document in chunks of about :data:`CHUNK_CHARS` (one send per reading is slow);
    the readings' stream is closed however this ends (a client that left included)."""
    parts = [writer.start()]
    size = len(parts[0])
    try:
        if first is not None:
            parts.append(writer.add(first))
            async for reading in rest:
                text = writer.add(reading)
                parts.append(text)
                size += len(text)
                if size >= CHUNK_CHARS:
                    yield "".join(parts)
                    parts, size = [], 0
    finally:
        await rest.aclose()
    parts.append(writer.end())
    yield "".join(parts)


@router.get(
    "/shipments/{shipment_id}/export",
    response_class=StreamingResponse,
    responses=_media("application/gpx+xml", "application/geo+json", "text/csv"),
)
async def export_shipment(
    shipment_id: str,
    api: StateDep,
    principal: PrincipalDep,
    format: Annotated[ShipmentFormat, Query(description="gpx, geojson or csv")] = "geojson",
    start: Annotated[datetime | None, Query(description="Default: the first reading")] = None,
    stop: Annotated[datetime | None, Query(description="Default: after the last")] = None,
) -> StreamingResponse:
    """Every stored reading of the shipment (InfluxDB, not downsampled), in time order: the
    track as GPX 1.1 or GeoJSON (with its milestones), or the readings as CSV."""
    view = api.model.shipments.get(shipment_id)
    if view is None or not can_see_shipment(principal, api.model, shipment_id):
        raise HTTPException(404, f"no shipment {shipment_id!r} visible to this key")
    if (start and start.tzinfo is None) or (stop and stop.tzinfo is None):
        raise HTTPException(422, "start and stop need a time zone, e.g. 2026-11-01T00:00:00Z")
    if start and stop and stop <= start:
        raise HTTPException(422, "stop must be after start")
    if api.history is None:
        raise HTTPException(503, "no InfluxDB configured for history")
    milestones = dict(view.milestones)
    writer: Writer = (
        Gpx(shipment_id, milestones)
        if format == "gpx"
        else GeoJson(shipment_id, milestones)
        if format == "geojson"
        else ReadingsCsv()
    )
    history = api.history
    rest = stream_readings(history.client, history.settings.bucket, shipment_id, start, stop)
    try:  # the first record before the answer starts: a dead InfluxDB is a 503, not a cut body
        first = await anext(rest, None)
    except Exception as exc:  # the client, aiohttp or a timeout
        raise HTTPException(503, f"InfluxDB did not answer: {type(exc).__name__}") from exc
    return StreamingResponse(
        _chunks(writer, first, rest),
        media_type=writer.media_type,
        headers=_attachment(f"{shipment_id}.{writer.suffix}"),
    )


@router.get(
    "/facilities/{facility_id}/ledger/export",
    response_class=Response,
    responses=_media("text/csv", "application/json"),
)
async def export_ledger(
    facility_id: str,
    api: StateDep,
    principal: PrincipalDep,
    format: Annotated[LedgerFormat, Query(description="csv or bundle")] = "bundle",
) -> Response:
    """The facility's ledger from ``finance.ledger``: CSV (one row per posting) or the signed
    bundle (entries, latest signed checkpoint, head) a bank verifies offline with the public
    key (`tradelane ledger verify --file`)."""
    seen_facility(api, principal, facility_id)
    stored = await finance_read(api, lambda finance: finance.stored(facility_id))
    within_cap(api, len(stored.entries), "`tradelane export ledger` or `tradelane export bundle`")
    if format == "csv":
        rows: Iterator[str] = ledger_csv(chain(stored.entries))
        headers = _attachment(f"{facility_id}-ledger.csv")
        return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=headers)
    body = bundle_bytes(facility_id, stored.entries, stored.checkpoints)
    headers = _attachment(f"{facility_id}-ledger-bundle.json")
    return Response(body, media_type="application/json", headers=headers)
