"""``tradelane export track|readings|ledger|bundle``: a shipment's track (GPX, GeoJSON) and
readings (CSV), a facility's ledger (CSV) and signed bundle (JSON), from the sources the API
exports from (api/routes_exports.py): InfluxDB for readings, the shipment's events on Kafka for
its milestones, ``finance.ledger`` and ``finance.checkpoints`` for the ledger."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # the kernel imports the features only lazily, inside the command
    from collections.abc import Iterator

    from api.exports import ExportReading, Writer

HELP = """\
Export what the API's /export routes serve, to a file (-o FILE) or stdout, for any shipment or
facility (this command reads as the Kafka admin and InfluxDB token of this machine; the API
applies each key's tenancy).

  track     the shipment's track as GeoJSON (a Point per reading with its values, a Point per
            milestone, the track as a LineString) or GPX 1.1 (--format, or from -o's suffix)
  readings  every stored reading of the shipment as CSV, one row per reading
  ledger    the facility's ledger as CSV, one row per posting (amounts as decimal strings)
  bundle    the facility's ledger as a signed JSON bundle: the entries, the latest signed
            checkpoint and the head; verify it offline with
            `tradelane ledger verify --facility ID --file BUNDLE --public-key KEY.pem`

Readings come from InfluxDB (every reading the sink stored, not downsampled), streamed to the
output; milestones from the shipment's records on shipments.registry and shipments.events.
Exit status: 0 written, 2 bad input or a service that did not answer.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "export",
        help="a shipment's track/readings or a facility's ledger/bundle as a file",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, what in (("track", "GPX or GeoJSON"), ("readings", "CSV")):
        p = kinds.add_parser(kind, help=f"a shipment's {kind} as {what}", description=HELP)
        p.add_argument("--shipment", required=True, metavar="ID", help="shipment id")
        if kind == "track":
            p.add_argument("--format", choices=("gpx", "geojson"), help="default: -o's suffix")
        p.add_argument("--start", type=_aware, help="first reading time (ISO 8601, with zone)")
        p.add_argument("--stop", type=_aware, help="readings before this time")
        p.add_argument("-o", "--out", type=Path, help="output file (default: stdout)")
        p.set_defaults(handler=_shipment)
    for kind, what in (("ledger", "CSV"), ("bundle", "a signed JSON bundle")):
        p = kinds.add_parser(kind, help=f"a facility's ledger as {what}", description=HELP)
        p.add_argument("--facility", required=True, metavar="ID", help="facility id")
        p.add_argument("-o", "--out", type=Path, help="output file (default: stdout)")
        p.set_defaults(handler=_facility)


def _aware(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2026-11-01T00:00:00Z")
    return when


@contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    try:
        with path.open("w", encoding="utf-8", newline="") as out:
            yield out
    except OSError as exc:
        from tradelane.errors import UsageError

        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc


def _track_format(args: argparse.Namespace) -> str:
    if args.kind == "readings":
        return "csv"
    if args.format:
        return str(args.format)
    return "gpx" if args.out is not None and args.out.suffix.lower() == ".gpx" else "geojson"


def _shipment(args: argparse.Namespace) -> int:
    from api.exports import GeoJson, Gpx, ReadingsCsv

    fmt = _track_format(args)
    milestones = {} if fmt == "csv" else _milestones(args.shipment)
    writer: Writer = (
        ReadingsCsv()
        if fmt == "csv"
        else Gpx(args.shipment, milestones)
        if fmt == "gpx"
        else GeoJson(args.shipment, milestones)
    )
    with _output(args.out) as out:
        count = asyncio.run(_write_readings(writer, args, out))
    print(f"exported {count} readings of {args.shipment} as {fmt}", file=sys.stderr)
    return 0


async def _write_readings(writer: Writer, args: argparse.Namespace, out: IO[str]) -> int:
    from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

    from api.export_reads import stream_readings
    from tradelane.errors import ServiceError
    from tradelane.settings import InfluxSettings

    settings = InfluxSettings()
    client = InfluxDBClientAsync(settings.url, settings.token.get_secret_value(), org=settings.org)
    try:
        readings = stream_readings(client, settings.bucket, args.shipment, args.start, args.stop)
        return await _drain(writer, readings, out)
    except (OSError, TimeoutError) as exc:
        raise ServiceError(f"InfluxDB ({settings.url}) did not answer: {exc}") from exc
    finally:
        await client.close()  # type: ignore[no-untyped-call]


async def _drain(writer: Writer, readings: AsyncIterator[ExportReading], out: IO[str]) -> int:
    out.write(writer.start())
    count = 0
    async for reading in readings:
        out.write(writer.add(reading))
        count += 1
    out.write(writer.end())
    return count


def _milestones(shipment_id: str) -> dict[str, datetime]:
    """The shipment's milestones as the API's read model folds them from its records."""
    from api.projection import ReadModel, apply
    from finance.rebuild import read_topic
    from tradelane.settings import KafkaSettings
    from tradelane.topics import SHIPMENTS_EVENTS, SHIPMENTS_REGISTRY

    async def read() -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        for topic in (SHIPMENTS_REGISTRY.name, SHIPMENTS_EVENTS.name):
            records = await read_topic(KafkaSettings(), topic, [shipment_id])
            out += [(topic, r.value) for r in records if r.value is not None]
        return out

    model = ReadModel()
    for topic, value in asyncio.run(read()):
        apply(model, topic, value)
    view = model.shipments.get(shipment_id)
    return {} if view is None else dict(view.milestones)


def _facility(args: argparse.Namespace) -> int:
    from finance.ledger_export import bundle_bytes, chain, ledger_csv
    from finance.ledger_store import LedgerStore
    from tradelane.settings import KafkaSettings

    stored = asyncio.run(LedgerStore(KafkaSettings()).read(args.facility))
    chunks: Iterable[str] = (
        ledger_csv(chain(stored.entries))
        if args.kind == "ledger"
        else [bundle_bytes(args.facility, stored.entries, stored.checkpoints).decode()]
    )
    with _output(args.out) as out:
        for chunk in chunks:
            out.write(chunk)
    for problem in stored.unreadable:
        print(f"skipped {problem}", file=sys.stderr)
    checkpoints = f" and the latest of {len(stored.checkpoints)} checkpoints"
    print(
        f"exported {len(stored.entries)} entries"
        f"{checkpoints if args.kind == 'bundle' else ''} of {args.facility} as {args.kind}",
        file=sys.stderr,
    )
    return 0
