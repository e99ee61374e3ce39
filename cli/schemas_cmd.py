"""``tradelane schemas export DIR``: JSON Schema of every wire contract and the AsyncAPI
document."""

from __future__ import annotations

import argparse
from pathlib import Path

from tradelane.schemas import export


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("schemas", help="export the JSON Schemas of every contract")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    exp = actions.add_parser(
        "export",
        help="write one JSON Schema per contract, index.json and asyncapi.json into DIR",
        description="Write {contract}.json for every MQTT payload and Kafka topic value, and "
        "index.json mapping each topic to its schema, and asyncapi.json: the AsyncAPI 3 "
        "document of every MQTT, Kafka and webhook channel. Output is stable: re-exporting an "
        "unchanged contract rewrites identical bytes.",
    )
    exp.add_argument("directory", type=Path, metavar="DIR", help="created if missing")
    exp.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    written = export(args.directory)
    for path in written:
        print(path)
    print(f"{len(written)} files written to {args.directory}")
    return 0
