"""Sea lanes: a graph of open-water waypoints (chokepoints, capes, approaches) and land masks.

Container ships do not sail straight lines between ports: they thread Malacca, Bab-el-Mandeb,
Suez, Gibraltar, the Channel, Panama, or round the Cape. A sea leg is therefore the shortest
path through this hand-made graph, each edge a great circle that stays on water. ``LAND_BOXES``
are conservative rectangles inside continents and big islands: the property tests sample every
edge and every interpolated sea position against them, which catches a mistyped waypoint that
would send a ship across Arabia or the Andes.

Ports connect to the graph through an approach chain (pilot station, river mouth, canal), and a
port is only ever an endpoint of a path, never a waypoint through which another route passes.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from functools import lru_cache

from tradelane.geo import Box, LatLon, distance_km

# name: (lat, lon, coastal). Coastal nodes have mobile coverage nearby (straits, approaches);
# an edge between two coastal nodes counts as covered along its whole length.
NODES: dict[str, tuple[float, float, bool]] = {
    # --- East Asia
    "ecs-n": (30.6, 123.0, True),
    "zhoushan-e": (29.8, 122.9, True),
    "ecs-s": (27.5, 122.0, False),
    "jeju-s": (32.7, 126.5, False),
    "busan-off": (34.95, 128.9, True),
    "sea-of-japan-s": (35.7, 130.5, False),
    "tsugaru-w": (41.3, 139.9, True),
    "tsugaru-mouth": (41.32, 140.28, True),
    "tsugaru-c": (41.62, 140.85, True),
    "tsugaru-e": (41.55, 141.8, True),
    "osumi-strait": (30.75, 130.65, True),
    "shiono-s": (33.2, 135.8, True),
    "sagami-off": (34.8, 139.8, True),
    "uraga": (35.2, 139.75, True),
    "japan-e": (35.0, 143.0, False),
    "taiwan-strait-n": (25.2, 120.4, True),
    "taiwan-strait-s": (22.9, 119.2, True),
    "kaohsiung-off": (22.45, 120.1, True),
    "luzon-strait": (21.3, 120.6, True),
    "philippine-sea": (24.0, 130.0, False),
    "hk-s": (22.05, 114.2, True),
    "mirs-bay": (22.45, 114.38, True),
    "mirs-bay-s": (22.2, 114.45, True),
    "scs-n": (19.5, 115.5, False),
    "scs-c": (13.5, 112.0, False),
    "vietnam-se": (10.0, 109.8, False),
    "scs-s": (4.5, 105.6, False),
    # --- Singapore, Malacca, Indian Ocean
    "singapore-e": (1.40, 104.55, True),
    "singapore-strait": (1.18, 103.95, True),
    "singapore-strait-w": (1.2, 103.55, True),
    "malacca-se": (1.55, 102.95, True),
    "malacca-s": (2.2, 101.9, True),
    "klang-off": (2.85, 101.05, True),
    "malacca-c": (3.3, 100.6, True),
    "malacca-n": (4.4, 99.6, True),
    "malacca-nw": (5.9, 97.2, True),
    "dondra": (5.55, 80.6, True),
    "colombo-off": (6.9, 79.65, True),
    "eight-degree": (7.7, 73.2, False),
    "mumbai-off": (18.85, 72.6, True),
    "ras-al-hadd-e": (22.8, 60.3, True),
    "madrakah-e": (18.8, 58.6, False),
    "gulf-of-oman": (24.9, 57.4, True),
    "hormuz": (26.55, 56.5, True),
    "gulf-w": (26.1, 55.7, True),
    "jebel-ali-off": (25.15, 54.95, True),
    "socotra-n": (13.3, 53.6, False),
    "aden-e": (12.7, 49.0, False),
    "aden-w": (12.0, 45.5, True),
    "bab-el-mandeb": (12.55, 43.3, True),
    # --- Red Sea, Suez, Mediterranean
    "red-sea-s": (14.5, 42.0, False),
    "red-sea-c": (20.0, 38.6, False),
    "red-sea-n": (26.5, 35.0, False),
    "gubal": (27.6, 33.85, True),
    "suez-s": (29.88, 32.56, True),
    "port-said-off": (31.6, 32.35, True),
    "crete-s": (34.3, 25.0, False),
    "antikythera": (35.8, 23.35, True),
    "hydra-e": (37.2, 23.8, True),
    "saronic": (37.75, 23.7, True),
    "malta-channel": (36.3, 14.6, True),
    "sicily-channel": (37.4, 11.7, True),
    "algerian-basin": (37.6, 5.0, False),
    "alboran": (36.0, -2.5, True),
    "gibraltar": (35.95, -5.6, True),
    # --- Atlantic Europe, North Sea
    "cape-st-vincent": (36.8, -9.5, True),
    "finisterre": (43.3, -10.0, True),
    "ushant": (48.7, -5.7, True),
    "channel-w": (50.1, -2.0, True),
    "dover-strait": (51.0, 1.45, True),
    "felixstowe-off": (51.9, 1.65, True),
    "north-hinder": (51.9, 2.8, True),
    "maas-off": (52.0, 3.8, True),
    "scheldt-mouth": (51.5, 3.35, True),
    "westerschelde": (51.38, 3.8, True),
    "bath": (51.40, 4.2, True),
    "texel-off": (53.2, 4.4, True),
    "german-bight": (54.0, 7.0, True),
    "elbe-1": (54.0, 8.1, True),
    "cuxhaven": (53.9, 8.7, True),
    "elbe-stade": (53.62, 9.5, True),
    # --- North Atlantic, US East, Caribbean, Panama
    "azores-s": (36.0, -25.0, False),
    "newfoundland-s": (43.0, -50.0, False),
    "nantucket-s": (40.3, -69.0, False),
    "ambrose": (40.45, -73.8, True),
    "verrazzano": (40.6, -74.05, True),
    "hatteras-e": (34.9, -74.5, False),
    "savannah-off": (31.95, -80.7, True),
    "bahamas-e": (24.0, -72.5, False),
    "inagua-e": (21.4, -72.7, True),
    "windward-passage": (19.9, -73.9, True),
    "jamaica-e": (17.5, -75.5, True),
    "colon-approach": (9.6, -79.9, True),
    "gatun": (9.27, -79.92, True),
    "gaillard": (9.05, -79.67, True),
    "panama-bay": (8.75, -79.5, True),
    "gulf-of-panama-s": (7.0, -79.6, True),
    # --- Pacific Americas
    "central-america-off": (12.0, -90.0, False),
    "acapulco-s": (15.8, -99.5, False),
    "michoacan-s": (17.3, -102.5, False),
    "manzanillo-mx-off": (18.85, -104.5, True),
    "cabo-san-lucas-s": (22.5, -109.9, True),
    "baja-off": (28.0, -116.2, False),
    "san-pedro-bay": (33.55, -118.25, True),
    "la-w": (33.3, -121.0, False),
    "santa-barbara-channel": (34.23, -119.8, True),
    "point-conception-w": (34.35, -120.8, True),
    "golden-gate-off": (37.7, -122.9, True),
    "golden-gate": (37.81, -122.48, True),
    "mendocino-w": (40.4, -125.0, False),
    "oregon-off": (44.0, -125.5, False),
    "juan-de-fuca-w": (48.45, -125.0, True),
    "juan-de-fuca-e": (48.25, -123.4, True),
    "admiralty-inlet": (48.05, -122.65, True),
    "haro-strait": (48.55, -123.2, True),
    "georgia-strait": (49.1, -123.4, True),
    "vancouver-off": (49.3, -123.3, True),
    # --- North Pacific
    "np-w": (40.0, 160.0, False),
    "np-c": (44.0, -175.0, False),
    "np-e": (40.0, -140.0, False),
    # --- Cape route, South Atlantic
    "io-c": (-12.0, 60.0, False),
    "madagascar-s": (-27.5, 46.0, False),
    "durban-off": (-30.0, 31.3, True),
    "transkei-off": (-32.6, 30.0, False),
    "pe-s": (-34.8, 26.0, False),
    "agulhas": (-36.0, 21.0, False),
    "cape-good-hope": (-34.8, 17.8, True),
    "namibia-off": (-22.0, 11.0, False),
    "gulf-of-guinea": (2.0, 0.0, False),
    "cape-palmas-s": (3.5, -8.0, False),
    "sierra-leone-off": (7.0, -15.0, False),
    "cape-verde-w": (15.0, -19.5, False),
    "canaries-w": (28.0, -19.0, False),
    "santos-off": (-24.3, -46.2, True),
    "cabo-frio-s": (-23.6, -41.8, False),
    "abrolhos-e": (-18.0, -37.0, False),
    "brazil-ne": (-5.5, -34.0, False),
}

EDGES: tuple[tuple[str, str], ...] = (
    # East Asia
    ("ecs-n", "zhoushan-e"),
    ("ecs-n", "ecs-s"),
    ("zhoushan-e", "ecs-s"),
    ("ecs-n", "jeju-s"),
    ("ecs-n", "osumi-strait"),
    ("jeju-s", "busan-off"),
    ("busan-off", "sea-of-japan-s"),
    ("sea-of-japan-s", "tsugaru-w"),
    ("tsugaru-w", "tsugaru-mouth"),
    ("tsugaru-mouth", "tsugaru-c"),
    ("tsugaru-c", "tsugaru-e"),
    ("tsugaru-e", "np-w"),
    ("osumi-strait", "shiono-s"),
    ("shiono-s", "sagami-off"),
    ("sagami-off", "japan-e"),
    ("japan-e", "np-w"),
    ("ecs-s", "taiwan-strait-n"),
    ("taiwan-strait-n", "taiwan-strait-s"),
    ("taiwan-strait-s", "kaohsiung-off"),
    ("taiwan-strait-s", "mirs-bay-s"),
    ("taiwan-strait-s", "scs-n"),
    ("kaohsiung-off", "luzon-strait"),
    ("hk-s", "mirs-bay-s"),
    ("hk-s", "scs-n"),
    ("mirs-bay-s", "scs-n"),
    ("scs-n", "luzon-strait"),
    ("luzon-strait", "philippine-sea"),
    ("philippine-sea", "japan-e"),
    ("philippine-sea", "np-w"),
    ("scs-n", "scs-c"),
    ("scs-c", "vietnam-se"),
    ("vietnam-se", "scs-s"),
    ("scs-s", "singapore-e"),
    # Singapore, Malacca, Indian Ocean
    ("singapore-e", "singapore-strait"),
    ("singapore-strait", "singapore-strait-w"),
    ("singapore-strait-w", "malacca-se"),
    ("malacca-se", "malacca-s"),
    ("malacca-s", "klang-off"),
    ("malacca-s", "malacca-c"),
    ("klang-off", "malacca-c"),
    ("malacca-c", "malacca-n"),
    ("malacca-n", "malacca-nw"),
    ("malacca-nw", "dondra"),
    ("dondra", "colombo-off"),
    ("colombo-off", "eight-degree"),
    ("dondra", "eight-degree"),
    ("eight-degree", "socotra-n"),
    ("eight-degree", "mumbai-off"),
    ("mumbai-off", "socotra-n"),
    ("mumbai-off", "ras-al-hadd-e"),
    ("ras-al-hadd-e", "gulf-of-oman"),
    ("gulf-of-oman", "hormuz"),
    ("hormuz", "gulf-w"),
    ("gulf-w", "jebel-ali-off"),
    ("ras-al-hadd-e", "madrakah-e"),
    ("madrakah-e", "socotra-n"),
    ("socotra-n", "aden-e"),
    ("aden-e", "aden-w"),
    ("aden-w", "bab-el-mandeb"),
    # Red Sea, Suez, Mediterranean
    ("bab-el-mandeb", "red-sea-s"),
    ("red-sea-s", "red-sea-c"),
    ("red-sea-c", "red-sea-n"),
    ("red-sea-n", "gubal"),
    ("gubal", "suez-s"),
    ("suez-s", "port-said-off"),
    ("port-said-off", "crete-s"),
    ("crete-s", "antikythera"),
    ("antikythera", "hydra-e"),
    ("hydra-e", "saronic"),
    ("crete-s", "malta-channel"),
    ("antikythera", "malta-channel"),
    ("malta-channel", "sicily-channel"),
    ("sicily-channel", "algerian-basin"),
    ("algerian-basin", "alboran"),
    ("alboran", "gibraltar"),
    # Atlantic Europe, North Sea
    ("gibraltar", "cape-st-vincent"),
    ("cape-st-vincent", "finisterre"),
    ("finisterre", "ushant"),
    ("ushant", "channel-w"),
    ("channel-w", "dover-strait"),
    ("dover-strait", "felixstowe-off"),
    ("dover-strait", "north-hinder"),
    ("dover-strait", "scheldt-mouth"),
    ("north-hinder", "scheldt-mouth"),
    ("north-hinder", "maas-off"),
    ("north-hinder", "felixstowe-off"),
    ("maas-off", "texel-off"),
    ("texel-off", "german-bight"),
    ("german-bight", "elbe-1"),
    # North Atlantic, US East, Caribbean, Panama
    ("ushant", "newfoundland-s"),
    ("newfoundland-s", "nantucket-s"),
    ("nantucket-s", "ambrose"),
    ("cape-st-vincent", "azores-s"),
    ("azores-s", "hatteras-e"),
    ("azores-s", "nantucket-s"),
    ("hatteras-e", "ambrose"),
    ("hatteras-e", "savannah-off"),
    ("hatteras-e", "bahamas-e"),
    ("savannah-off", "bahamas-e"),
    ("bahamas-e", "inagua-e"),
    ("inagua-e", "windward-passage"),
    ("windward-passage", "jamaica-e"),
    ("jamaica-e", "colon-approach"),
    ("colon-approach", "gatun"),
    ("gatun", "gaillard"),
    ("gaillard", "panama-bay"),
    ("panama-bay", "gulf-of-panama-s"),
    # Pacific Americas
    ("gulf-of-panama-s", "central-america-off"),
    ("central-america-off", "acapulco-s"),
    ("acapulco-s", "michoacan-s"),
    ("michoacan-s", "manzanillo-mx-off"),
    ("manzanillo-mx-off", "cabo-san-lucas-s"),
    ("cabo-san-lucas-s", "baja-off"),
    ("baja-off", "san-pedro-bay"),
    ("san-pedro-bay", "santa-barbara-channel"),
    ("santa-barbara-channel", "point-conception-w"),
    ("point-conception-w", "golden-gate-off"),
    ("golden-gate-off", "mendocino-w"),
    ("mendocino-w", "oregon-off"),
    ("oregon-off", "juan-de-fuca-w"),
    ("juan-de-fuca-w", "juan-de-fuca-e"),
    ("la-w", "san-pedro-bay"),
    ("la-w", "baja-off"),
    # North Pacific
    ("np-w", "np-c"),
    ("np-c", "np-e"),
    ("np-c", "juan-de-fuca-w"),
    ("np-e", "la-w"),
    ("np-e", "golden-gate-off"),
    ("np-e", "oregon-off"),
    # Cape route, South Atlantic
    ("dondra", "io-c"),
    ("io-c", "madagascar-s"),
    ("madagascar-s", "durban-off"),
    ("madagascar-s", "agulhas"),
    ("durban-off", "transkei-off"),
    ("transkei-off", "pe-s"),
    ("pe-s", "agulhas"),
    ("agulhas", "cape-good-hope"),
    ("cape-good-hope", "namibia-off"),
    ("cape-good-hope", "santos-off"),
    ("namibia-off", "gulf-of-guinea"),
    ("gulf-of-guinea", "cape-palmas-s"),
    ("cape-palmas-s", "sierra-leone-off"),
    ("sierra-leone-off", "cape-verde-w"),
    ("cape-verde-w", "canaries-w"),
    ("canaries-w", "cape-st-vincent"),
    ("canaries-w", "finisterre"),
    ("cape-verde-w", "brazil-ne"),
    ("brazil-ne", "abrolhos-e"),
    ("abrolhos-e", "cabo-frio-s"),
    ("cabo-frio-s", "santos-off"),
)

APPROACHES: dict[str, tuple[str, ...]] = {
    "CNSHA": ("ecs-n",),
    "CNNGB": ("zhoushan-e",),
    "CNYTN": ("mirs-bay", "mirs-bay-s"),
    "HKHKG": ("hk-s",),
    "TWKHH": ("kaohsiung-off",),
    "KRPUS": ("busan-off",),
    "JPYOK": ("uraga", "sagami-off"),
    "SGSIN": ("singapore-strait",),
    "MYTPP": ("singapore-strait-w",),
    "MYPKG": ("klang-off",),
    "LKCMB": ("colombo-off",),
    "INNSA": ("mumbai-off",),
    "AEJEA": ("jebel-ali-off",),
    "EGPSD": ("port-said-off",),
    "GRPIR": ("saronic",),
    "ESALG": ("gibraltar",),
    "MAPTM": ("gibraltar",),
    "NLRTM": ("maas-off",),
    "BEANR": ("bath", "westerschelde", "scheldt-mouth"),
    "DEHAM": ("elbe-stade", "cuxhaven", "elbe-1"),
    "GBFXT": ("felixstowe-off",),
    "USNYC": ("verrazzano", "ambrose"),
    "USSAV": ("savannah-off",),
    "USLAX": ("san-pedro-bay",),
    "USOAK": ("golden-gate", "golden-gate-off"),
    "USSEA": ("admiralty-inlet", "juan-de-fuca-e"),
    "CAVAN": ("vancouver-off", "georgia-strait", "haro-strait", "juan-de-fuca-e"),
    "MXZLO": ("manzanillo-mx-off",),
    "PABLB": ("panama-bay",),
    "PAMIT": ("colon-approach",),
    "BRSSZ": ("santos-off",),
    "ZADUR": ("durban-off",),
}
"""Seaport key -> approach nodes from the berth outwards; the last one joins the graph."""

CANALS: dict[str, frozenset[tuple[str, str]]] = {
    "suez": frozenset({("suez-s", "port-said-off")}),
    "panama": frozenset({("gatun", "gaillard")}),
}
"""Edges that a route can be told to avoid: a Red Sea diversion avoids both canals, which sends
Asia-Europe ships round the Cape of Good Hope."""

LAND_BOXES: tuple[Box, ...] = (
    Box("china", 27.0, 38.0, 112.0, 118.5),
    Box("china-west", 25.0, 45.0, 100.0, 112.0),
    Box("indochina", 14.0, 22.0, 98.0, 105.5),
    Box("india-deccan", 12.0, 22.0, 75.5, 79.5),
    Box("india-north", 23.5, 30.0, 74.0, 87.0),
    Box("arabia-west", 18.0, 29.0, 42.0, 48.0),
    Box("arabia-east", 17.5, 23.5, 47.0, 55.0),
    Box("iran", 29.5, 36.0, 52.0, 60.0),
    Box("pakistan", 27.0, 36.0, 62.0, 72.0),
    Box("sahara", 15.0, 29.0, -10.0, 30.0),
    Box("egypt-east", 24.0, 29.3, 29.0, 32.0),
    Box("sahel", 6.0, 15.0, -10.0, 35.0),
    Box("congo", -15.0, 4.0, 15.0, 35.0),
    Box("somalia", 4.5, 9.5, 41.0, 47.0),
    Box("southern-africa", -30.0, -15.0, 19.0, 30.0),
    Box("madagascar", -24.0, -14.0, 44.5, 49.0),
    Box("europe-central", 46.0, 53.0, 6.0, 20.0),
    Box("france", 44.0, 49.0, 0.0, 6.0),
    Box("iberia", 38.0, 43.0, -8.0, -1.0),
    Box("britain", 52.0, 55.0, -3.0, -0.5),
    Box("italy", 41.8, 43.5, 12.5, 13.5),
    Box("balkans", 41.5, 45.0, 20.0, 27.0),
    Box("anatolia", 37.5, 40.5, 28.0, 40.0),
    Box("russia", 45.0, 65.0, 40.0, 120.0),
    Box("us-interior", 32.5, 48.0, -116.0, -84.0),
    Box("us-east", 34.0, 42.0, -84.0, -78.0),
    Box("canada", 49.0, 55.0, -120.0, -96.0),
    Box("mexico", 18.5, 26.0, -103.5, -98.5),
    Box("brazil", -20.0, -3.0, -60.0, -42.0),
    Box("argentina", -38.0, -20.0, -68.0, -58.0),
    Box("australia", -31.0, -19.0, 117.0, 145.0),
    Box("borneo", -2.0, 4.0, 110.5, 116.5),
    Box("sumatra", -3.0, 0.0, 100.5, 103.0),
    Box("honshu", 35.3, 37.0, 137.0, 139.5),
    Box("korea", 35.5, 38.0, 127.0, 129.0),
    Box("taiwan", 22.8, 24.8, 120.5, 121.3),
    Box("sri-lanka", 6.5, 9.0, 80.2, 81.5),
    Box("cuba", 21.3, 22.0, -79.5, -77.5),
    Box("hispaniola", 18.5, 19.5, -72.5, -70.0),
)


def node_pos(name: str) -> LatLon:
    lat, lon, _ = NODES[name]
    return (lat, lon)


def on_land(p: LatLon, boxes: Iterable[Box] = LAND_BOXES) -> Box | None:
    """The land box containing ``p``, if any."""
    for box in boxes:
        if box.contains(p):
            return box
    return None


def edge_is_coastal(a: str, b: str) -> bool:
    """Both ends near a coast: the whole edge is inside mobile coverage (strait, canal, river)."""
    return a in NODES and b in NODES and NODES[a][2] and NODES[b][2]


def _adjacency(avoid: frozenset[tuple[str, str]]) -> dict[str, list[str]]:
    adj: dict[str, list[str]] = {}
    for a, b in EDGES:
        if (a, b) in avoid or (b, a) in avoid:
            continue
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    return adj


@lru_cache(maxsize=4096)
def sea_path(
    origin: str, destination: str, avoid: frozenset[str] = frozenset()
) -> tuple[tuple[str, ...], tuple[LatLon, ...]]:
    """Shortest lane path between two seaports (LOCODEs in :data:`APPROACHES`).

    Returns the node names passed (approach chains included) and the polyline from berth to
    berth. ``avoid`` names canals from :data:`CANALS`. Raises ``ValueError`` if unreachable.
    """
    from devices.places import PLACES  # local: places imports nothing from here at module level

    if origin == destination:
        raise ValueError("origin and destination are the same port")
    avoided: frozenset[tuple[str, str]] = frozenset().union(*(CANALS[c] for c in avoid))
    adj = _adjacency(avoided)
    o_chain, d_chain = APPROACHES[origin], APPROACHES[destination]
    start, goal = o_chain[-1], d_chain[-1]
    dist: dict[str, float] = {start: 0.0}
    prev: dict[str, str] = {}
    queue: list[tuple[float, str]] = [(0.0, start)]
    while queue:
        d, node = heapq.heappop(queue)
        if node == goal:
            break
        if d > dist.get(node, float("inf")):
            continue
        for nxt in adj.get(node, ()):
            nd = d + distance_km(node_pos(node), node_pos(nxt))
            if nd < dist.get(nxt, float("inf")):
                dist[nxt] = nd
                prev[nxt] = node
                heapq.heappush(queue, (nd, nxt))
    if goal not in dist:
        raise ValueError(f"no sea lane from {origin} to {destination} avoiding {sorted(avoid)}")
    middle = [goal]
    while middle[-1] != start:
        middle.append(prev[middle[-1]])
    middle.reverse()
    names = list(o_chain[:-1]) + middle + list(reversed(d_chain[:-1]))
    # Approach chains that share their outer node (Algeciras/Tanger Med) must not repeat it.
    dedup = [n for i, n in enumerate(names) if i == 0 or n != names[i - 1]]
    o_place, d_place = PLACES[origin].place, PLACES[destination].place
    points = [(o_place.lat, o_place.lon), *(node_pos(n) for n in dedup), (d_place.lat, d_place.lon)]
    return tuple(dedup), tuple(points)
