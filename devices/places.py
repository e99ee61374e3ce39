"""The bundled table of real places shipments move between.

Major container ports and cargo airports with their UN/LOCODE and coordinates, plus inland
warehouses, factories and bonded zones near them. UN/LOCODEs name a location (a city or a port
area), not a facility, so a port and an airport of the same city share one code, as they do in
the UN/LOCODE list (function 1 = port, 4 = airport); the table's keys tell them apart.

Coordinates are the terminal or cargo area, to a few hundred metres, good enough for geofences
of ``radius_km``. The table is data, not configuration: tests pin it, and scenario outcomes are
stated in terms of its keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from tradelane.contracts import Place, PlaceKind
from tradelane.geo import LatLon, distance_km

Region = str
"""Trade region a place belongs to (lanes are drawn between regions)."""


@dataclass(frozen=True, slots=True)
class SimPlace:
    """A place of the table: the wire :class:`Place` plus what the simulator needs about it."""

    key: str
    place: Place
    region: Region
    hub: bool = False
    """A transshipment hub (seaports) or cargo-airline hub (airports)."""

    @property
    def pos(self) -> LatLon:
        return (self.place.lat, self.place.lon)

    @property
    def kind(self) -> PlaceKind:
        return self.place.kind


def _p(
    key: str,
    locode: str,
    name: str,
    kind: PlaceKind,
    lat: float,
    lon: float,
    region: Region,
    radius_km: float,
    hub: bool = False,
) -> SimPlace:
    place = Place(locode=locode, name=name, kind=kind, lat=lat, lon=lon, radius_km=radius_km)
    return SimPlace(key=key, place=place, region=region, hub=hub)


_S, _A = PlaceKind.SEAPORT, PlaceKind.AIRPORT
_W, _B, _F = PlaceKind.WAREHOUSE, PlaceKind.BONDED_ZONE, PlaceKind.FACTORY

_TABLE: tuple[SimPlace, ...] = (
    # --- Seaports (key = LOCODE) --------------------------------------------------------------
    _p("CNSHA", "CNSHA", "Shanghai (Yangshan)", _S, 30.62, 122.07, "east-asia", 8),
    _p("CNNGB", "CNNGB", "Ningbo-Zhoushan (Beilun)", _S, 29.93, 121.87, "east-asia", 8),
    _p("CNYTN", "CNYTN", "Shenzhen Yantian", _S, 22.57, 114.27, "east-asia", 5),
    _p("HKHKG", "HKHKG", "Hong Kong (Kwai Tsing)", _S, 22.34, 114.12, "east-asia", 5, hub=True),
    _p("TWKHH", "TWKHH", "Kaohsiung", _S, 22.57, 120.29, "east-asia", 6),
    _p("KRPUS", "KRPUS", "Busan New Port", _S, 35.07, 128.82, "east-asia", 8, hub=True),
    _p("JPYOK", "JPYOK", "Yokohama", _S, 35.45, 139.66, "east-asia", 6),
    _p(
        "SGSIN",
        "SGSIN",
        "Singapore (Pasir Panjang)",
        _S,
        1.27,
        103.77,
        "southeast-asia",
        8,
        hub=True,
    ),
    _p("MYTPP", "MYTPP", "Tanjung Pelepas", _S, 1.36, 103.55, "southeast-asia", 5, hub=True),
    _p("MYPKG", "MYPKG", "Port Klang (Westport)", _S, 2.99, 101.31, "southeast-asia", 6, hub=True),
    _p("LKCMB", "LKCMB", "Colombo", _S, 6.95, 79.84, "south-asia", 5, hub=True),
    _p("INNSA", "INNSA", "Nhava Sheva (JNPT)", _S, 18.95, 72.95, "south-asia", 6),
    _p("AEJEA", "AEJEA", "Jebel Ali", _S, 25.01, 55.06, "middle-east", 8, hub=True),
    _p("EGPSD", "EGPSD", "Port Said", _S, 31.26, 32.31, "mediterranean", 6, hub=True),
    _p("GRPIR", "GRPIR", "Piraeus", _S, 37.94, 23.62, "mediterranean", 5, hub=True),
    _p("ESALG", "ESALG", "Algeciras", _S, 36.13, -5.44, "mediterranean", 5, hub=True),
    _p("MAPTM", "MAPTM", "Tanger Med", _S, 35.89, -5.50, "mediterranean", 5, hub=True),
    _p("NLRTM", "NLRTM", "Rotterdam (Maasvlakte)", _S, 51.95, 4.05, "europe-north", 10),
    _p("BEANR", "BEANR", "Antwerp", _S, 51.28, 4.33, "europe-north", 8),
    _p("DEHAM", "DEHAM", "Hamburg", _S, 53.53, 9.93, "europe-north", 8),
    _p("GBFXT", "GBFXT", "Felixstowe", _S, 51.95, 1.32, "europe-north", 4),
    _p("USNYC", "USNYC", "New York / New Jersey (Port Elizabeth)", _S, 40.68, -74.15, "na-east", 6),
    _p("USSAV", "USSAV", "Savannah (Garden City)", _S, 32.13, -81.14, "na-east", 5),
    _p("USLAX", "USLAX", "Los Angeles (San Pedro)", _S, 33.74, -118.27, "na-west", 6),
    _p("USOAK", "USOAK", "Oakland", _S, 37.80, -122.32, "na-west", 4),
    _p("USSEA", "USSEA", "Seattle", _S, 47.58, -122.35, "na-west", 4),
    _p("CAVAN", "CAVAN", "Vancouver (Centerm)", _S, 49.29, -123.10, "na-west", 4),
    _p("MXZLO", "MXZLO", "Manzanillo (Mexico)", _S, 19.06, -104.30, "latam", 4),
    _p("PABLB", "PABLB", "Balboa", _S, 8.95, -79.57, "latam", 4, hub=True),
    _p("PAMIT", "PAMIT", "Manzanillo (Colón)", _S, 9.36, -79.88, "latam", 4, hub=True),
    _p("BRSSZ", "BRSSZ", "Santos", _S, -23.98, -46.30, "latam", 6),
    _p("ZADUR", "ZADUR", "Durban", _S, -29.87, 31.03, "africa", 5),
    # --- Cargo airports (key = IATA code; LOCODE of the location they serve) --------------------
    _p("PVG", "CNSHA", "Shanghai Pudong International Airport", _A, 31.14, 121.81, "east-asia", 5),
    _p(
        "HKG",
        "HKHKG",
        "Hong Kong International Airport",
        _A,
        22.31,
        113.92,
        "east-asia",
        5,
        hub=True,
    ),
    _p(
        "ICN", "KRINC", "Incheon International Airport", _A, 37.46, 126.44, "east-asia", 5, hub=True
    ),
    _p("NRT", "JPNRT", "Narita International Airport", _A, 35.77, 140.39, "east-asia", 5),
    _p("SIN", "SGSIN", "Singapore Changi Airport", _A, 1.36, 103.99, "southeast-asia", 5),
    _p("DXB", "AEDXB", "Dubai International Airport", _A, 25.25, 55.36, "middle-east", 5, hub=True),
    _p("DOH", "QADOH", "Hamad International Airport", _A, 25.27, 51.61, "middle-east", 5, hub=True),
    _p("FRA", "DEFRA", "Frankfurt Airport", _A, 50.03, 8.57, "europe-north", 5),
    _p("AMS", "NLAMS", "Amsterdam Schiphol", _A, 52.31, 4.76, "europe-north", 5),
    _p("LHR", "GBLHR", "London Heathrow", _A, 51.47, -0.45, "europe-north", 5),
    _p("LUX", "LULUX", "Luxembourg Findel", _A, 49.63, 6.21, "europe-north", 4),
    _p("JFK", "USNYC", "New York JFK", _A, 40.64, -73.78, "na-east", 5),
    _p("MEM", "USMEM", "Memphis International", _A, 35.04, -89.98, "na-east", 5),
    _p("ORD", "USCHI", "Chicago O'Hare", _A, 41.98, -87.90, "na-east", 5),
    _p(
        "ANC",
        "USANC",
        "Ted Stevens Anchorage International",
        _A,
        61.17,
        -150.00,
        "na-west",
        5,
        hub=True,
    ),
    _p("LAX", "USLAX", "Los Angeles International", _A, 33.94, -118.41, "na-west", 5),
    # --- Warehouses, factories, bonded zones near them ------------------------------------------
    _p("wgq-ftz", "CNSHA", "Waigaoqiao Free Trade Zone", _B, 31.35, 121.60, "east-asia", 3),
    _p("beilun-bonded", "CNNGB", "Ningbo Beilun Bonded Zone", _B, 29.90, 121.83, "east-asia", 2),
    _p(
        "dongguan-factory",
        "CNDGG",
        "Dongguan electronics factory",
        _F,
        22.97,
        113.75,
        "east-asia",
        1,
    ),
    _p(
        "qianhai-bonded",
        "CNSZX",
        "Shenzhen Qianhai bonded port zone",
        _B,
        22.52,
        113.89,
        "east-asia",
        2,
    ),
    _p(
        "kaohsiung-epz",
        "TWKHH",
        "Kaohsiung Export Processing Zone",
        _B,
        22.60,
        120.30,
        "east-asia",
        2,
    ),
    _p("busan-distripark", "KRPUS", "Busan New Port Distripark", _B, 35.09, 128.78, "east-asia", 2),
    _p(
        "yokohama-dc",
        "JPYOK",
        "Yokohama Daikoku distribution centre",
        _W,
        35.46,
        139.68,
        "east-asia",
        1,
    ),
    _p("jurong-dc", "SGSIN", "Jurong logistics hub", _W, 1.33, 103.70, "southeast-asia", 2),
    _p("klang-ftz", "MYPKG", "Port Klang Free Zone", _B, 2.97, 101.33, "southeast-asia", 2),
    _p("bhiwandi-dc", "INBOM", "Bhiwandi warehousing cluster", _W, 19.30, 73.06, "south-asia", 3),
    _p("jafza", "AEJEA", "Jebel Ali Free Zone", _B, 25.00, 55.10, "middle-east", 3),
    _p("thriasio-dc", "GRPIR", "Thriasio logistics centre", _W, 38.05, 23.58, "mediterranean", 2),
    _p(
        "tanger-med-zone",
        "MAPTM",
        "Tanger Med logistics zone",
        _B,
        35.85,
        -5.55,
        "mediterranean",
        2,
    ),
    _p(
        "maasvlakte-distripark",
        "NLRTM",
        "Maasvlakte Distripark",
        _B,
        51.94,
        4.08,
        "europe-north",
        2,
    ),
    _p("duisburg-logport", "DEDUI", "Duisburg logport", _W, 51.38, 6.70, "europe-north", 2),
    _p("antwerp-dc", "BEANR", "Antwerp bonded warehouse", _B, 51.24, 4.40, "europe-north", 1),
    _p(
        "billbrook-dc",
        "DEHAM",
        "Hamburg Billbrook distribution centre",
        _W,
        53.53,
        10.08,
        "europe-north",
        1,
    ),
    _p(
        "birmingham-dc",
        "GBBHM",
        "Birmingham distribution centre",
        _W,
        52.48,
        -1.90,
        "europe-north",
        2,
    ),
    _p("cargocity-sued", "DEFRA", "Frankfurt CargoCity Süd", _B, 50.04, 8.59, "europe-north", 1),
    _p("newark-dc", "USEWR", "Newark distribution centre", _W, 40.72, -74.17, "na-east", 1),
    _p(
        "pooler-dc", "USSAV", "Savannah Pooler distribution centre", _W, 32.11, -81.25, "na-east", 2
    ),
    _p("memphis-dc", "USMEM", "Memphis distribution centre", _W, 35.05, -89.95, "na-east", 2),
    _p(
        "inland-empire-dc",
        "USONT",
        "Inland Empire distribution centre (Ontario, CA)",
        _W,
        34.06,
        -117.60,
        "na-west",
        3,
    ),
    _p("oakland-bonded", "USOAK", "Oakland bonded warehouse", _B, 37.78, -122.28, "na-west", 1),
    _p(
        "kent-valley-dc",
        "USSEA",
        "Kent Valley distribution centre",
        _W,
        47.40,
        -122.24,
        "na-west",
        2,
    ),
    _p(
        "richmond-dc",
        "CAVAN",
        "Richmond (Vancouver) distribution centre",
        _W,
        49.17,
        -123.08,
        "na-west",
        2,
    ),
    _p("manzanillo-yard", "MXZLO", "Manzanillo bonded yard", _B, 19.08, -104.28, "latam", 1),
    _p("colon-ftz", "PAONX", "Colón Free Trade Zone", _B, 9.35, -79.89, "latam", 2),
    _p("santos-bonded", "BRSSZ", "Santos bonded warehouse", _B, -23.95, -46.33, "latam", 1),
    _p("durban-dc", "ZADUR", "Durban distribution centre", _W, -29.86, 30.98, "africa", 2),
)

PLACES: dict[str, SimPlace] = {p.key: p for p in _TABLE}
"""Every place by key: LOCODE for seaports, IATA code for airports, a slug for the rest."""

SEAPORTS: tuple[str, ...] = tuple(p.key for p in _TABLE if p.kind is PlaceKind.SEAPORT)
AIRPORTS: tuple[str, ...] = tuple(p.key for p in _TABLE if p.kind is PlaceKind.AIRPORT)
FACILITIES: tuple[str, ...] = tuple(
    p.key for p in _TABLE if p.kind not in (PlaceKind.SEAPORT, PlaceKind.AIRPORT)
)
"""Where shipments start and end: warehouses, factories and bonded zones."""


@cache
def gateway(facility: str, kind: PlaceKind) -> str:
    """The nearest seaport or airport to a facility: where its road leg goes."""
    here = PLACES[facility].pos
    pool = SEAPORTS if kind is PlaceKind.SEAPORT else AIRPORTS
    return min(pool, key=lambda k: distance_km(here, PLACES[k].pos))


def facilities_in(region: Region) -> tuple[str, ...]:
    return tuple(k for k in FACILITIES if PLACES[k].region == region)


def nearest_place_km(p: LatLon) -> float:
    """Distance to the nearest place of the table (safe zones for theft stops)."""
    return min(distance_km(p, sp.pos) - sp.place.radius_km for sp in _TABLE)
