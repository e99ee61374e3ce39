"""Convert Natural Earth 110m land (TopoJSON, from the npm package ``world-atlas``) into the
compact ring list the dashboard draws: ``api/static/world-110m.json``.

    npm pack world-atlas && tar xzf world-atlas-*.tgz
    python scripts/world_coastline.py package/land-110m.json api/static/world-110m.json

Natural Earth data is in the public domain; world-atlas (ISC) only repackages it. Each ring is
a flat ``[lon, lat, lon, lat, ...]`` list rounded to 0.01 degree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """Quantised, delta-encoded TopoJSON arcs → absolute (lon, lat) lists."""
    scale_x, scale_y = topology["transform"]["scale"]
    shift_x, shift_y = topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * scale_x + shift_x, y * scale_y + shift_y))
        arcs.append(points)
    return arcs


def ring(arcs: list[list[tuple[float, float]]], indexes: list[int]) -> list[float]:
    """Join a ring's arcs (a negative index ~i is arc i reversed), dropping shared ends."""
    points: list[tuple[float, float]] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else list(reversed(arcs[~index]))
        points.extend(arc if not points else arc[1:])
    return [round(v, 2) for point in points for v in point]


def main(source: Path, target: Path) -> None:
    topology = json.loads(source.read_text())
    arcs = decode_arcs(topology)
    rings: list[list[float]] = []
    for geometry in topology["objects"]["land"]["geometries"]:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        for polygon in polygons:
            rings.extend(ring(arcs, r) for r in polygon)
    out = {
        "source": "Natural Earth 110m land (public domain), via npm world-atlas 2.0.2",
        "rings": rings,
    }
    target.write_text(json.dumps(out, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
