"""What shipments carry: a small cargo catalogue with HS codes, condition profiles and parties.

Values are Decimal in the consignee's currency (never float), drawn per shipment from a range
per unit; the FX rates below only turn the catalogue's USD unit values into plausible amounts in
other currencies and are not market data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from tradelane.contracts import Cargo, ConditionProfile, Money, ProfileKind


@dataclass(frozen=True, slots=True)
class CargoType:
    description: str
    hs_code: str
    unit: str
    quantity: tuple[int, int]
    unit_value_usd: tuple[float, float]
    air_ok: bool = False
    """Light or valuable enough to fly."""


CATALOGUE: dict[ProfileKind, tuple[CargoType, ...]] = {
    ProfileKind.CHILLED: (
        CargoType("Fresh table grapes", "080610", "cartons", (1800, 2600), (14.0, 22.0)),
        CargoType(
            "Vaccines (human medicine)",
            "300241",
            "shippers",
            (40, 160),
            (2500.0, 9000.0),
            air_ok=True,
        ),
        CargoType(
            "Fresh salmon fillets", "030441", "boxes", (900, 1400), (60.0, 95.0), air_ok=True
        ),
        CargoType("Cheese (fresh and processed)", "040690", "cartons", (1200, 2000), (35.0, 60.0)),
    ),
    ProfileKind.FROZEN: (
        CargoType("Frozen shrimps and prawns", "030617", "cartons", (1500, 2400), (45.0, 80.0)),
        CargoType("Frozen boneless beef cuts", "020230", "cartons", (1100, 1700), (90.0, 140.0)),
        CargoType("Frozen chicken cuts", "020714", "cartons", (1600, 2500), (25.0, 40.0)),
    ),
    ProfileKind.AMBIENT: (
        CargoType("Cotton T-shirts", "610910", "cartons", (800, 1400), (60.0, 120.0)),
        CargoType("Laptops", "847130", "cartons", (300, 700), (600.0, 1400.0), air_ok=True),
        CargoType("Lithium-ion battery packs", "850760", "pallets", (20, 40), (8000.0, 15000.0)),
        CargoType("Wooden furniture", "940360", "pieces", (150, 400), (120.0, 380.0)),
        CargoType("Green coffee beans", "090111", "bags", (300, 330), (250.0, 420.0)),
        CargoType("Toys", "950300", "cartons", (900, 1600), (40.0, 90.0)),
    ),
    ProfileKind.FRAGILE: (
        CargoType("Glass drinking vessels", "701337", "cartons", (700, 1200), (30.0, 70.0)),
        CargoType("LCD monitors", "852852", "cartons", (400, 800), (150.0, 400.0), air_ok=True),
        CargoType("Porcelain tableware", "691110", "cartons", (600, 1000), (40.0, 110.0)),
        CargoType("Wine in bottles", "220421", "cases", (1000, 1300), (60.0, 180.0)),
    ),
}

PROFILES: dict[ProfileKind, ConditionProfile] = {
    ProfileKind.CHILLED: ConditionProfile(
        kind=ProfileKind.CHILLED, temp_min_c=2.0, temp_max_c=8.0, humidity_max_pct=98.0
    ),
    ProfileKind.FROZEN: ConditionProfile(kind=ProfileKind.FROZEN, temp_max_c=-18.0),
    ProfileKind.AMBIENT: ConditionProfile(kind=ProfileKind.AMBIENT, humidity_max_pct=90.0),
    ProfileKind.FRAGILE: ConditionProfile(kind=ProfileKind.FRAGILE, shock_max_g=5.0),
}

SETPOINT_C: dict[ProfileKind, float] = {ProfileKind.CHILLED: 5.0, ProfileKind.FROZEN: -20.0}
"""Reefer setpoints; profiles without one ride in dry containers at ambient temperature."""

_FX_PER_USD: dict[str, Decimal] = {
    "USD": Decimal(1),
    "EUR": Decimal("0.92"),
    "GBP": Decimal("0.79"),
    "JPY": Decimal(150),
    "CNY": Decimal("7.2"),
    "SGD": Decimal("1.35"),
    "AED": Decimal("3.6725"),
}
_CURRENCY_BY_COUNTRY = {
    "GB": "GBP",
    "DE": "EUR",
    "NL": "EUR",
    "BE": "EUR",
    "FR": "EUR",
    "ES": "EUR",
    "GR": "EUR",
    "IT": "EUR",
    "LU": "EUR",
    "JP": "JPY",
    "CN": "CNY",
    "SG": "SGD",
    "AE": "AED",
}

SHIPPERS: dict[str, tuple[str, ...]] = {
    "east-asia": (
        "Yangtze Delta Garments Co.",
        "Pearl River Electronics Ltd.",
        "Zhejiang Home Furnishings",
        "Busan Fresh Marine Co.",
        "Formosa Display Corp.",
        "Kanto Precision Trading",
    ),
    "southeast-asia": ("Straits Cold Chain Pte.", "Selangor Rubber & Latex Sdn Bhd"),
    "south-asia": ("Konkan Seafoods Pvt Ltd", "Maharashtra Textiles Export"),
    "middle-east": ("Gulf Date & Produce LLC", "Jebel Ali Re-Export Trading"),
    "europe-north": (
        "Rhein-Ruhr Maschinenbau GmbH",
        "Scheldt Chemicals NV",
        "Holland Flower & Produce BV",
    ),
    "mediterranean": ("Aegean Olive Co-op", "Andalucia Vinos SA"),
    "na-east": ("Garden State Pharma Inc.", "Savannah Forest Products"),
    "na-west": ("Pacific Northwest Berries", "Central Valley Almonds"),
    "latam": ("Santos Coffee Exporters Ltda", "Colima Avocado Growers"),
    "africa": ("KwaZulu Citrus Exporters",),
}
CONSIGNEES: dict[str, tuple[str, ...]] = {
    "east-asia": ("Shanghai Import Foods", "Tokyo Gourmet Distribution KK"),
    "southeast-asia": ("Lion City Retail Pte.", "Klang Valley Supermarkets"),
    "south-asia": ("Mumbai Retail Holdings",),
    "middle-east": ("Emirates Hypermarkets LLC",),
    "europe-north": (
        "Nordsee Retail GmbH",
        "Albion Home Stores plc",
        "Benelux Fashion BV",
        "Hanse Electronics Vertrieb",
    ),
    "mediterranean": ("Piraeus Wholesale SA", "Maghreb Distribution SARL"),
    "na-east": ("Atlantic Seaboard Retail Inc.", "Peach State Distributors"),
    "na-west": ("West Coast Outfitters", "Inland Empire Fulfilment LLC", "Cascadia Grocers"),
    "latam": ("Mercado Central Importaciones", "Bahia Foods SA"),
    "africa": ("Durban Wholesale Holdings",),
}


def currency_for(locode: str) -> str:
    return _CURRENCY_BY_COUNTRY.get(locode[:2], "USD")


def draw_cargo(rng: random.Random, kind: ProfileKind, currency: str, air: bool) -> Cargo:
    """A cargo of profile ``kind``; ``air`` restricts to goods that plausibly fly."""
    choices = [c for c in CATALOGUE[kind] if c.air_ok or not air] or list(CATALOGUE[kind])
    ctype = rng.choice(choices)
    quantity = rng.randint(*ctype.quantity)
    if air:
        quantity = max(1, quantity // 10)
    unit_usd = Decimal(str(round(rng.uniform(*ctype.unit_value_usd), 2)))
    amount = unit_usd * quantity * _FX_PER_USD[currency]
    exponent = Decimal(1) if currency == "JPY" else Decimal("0.01")
    amount = amount.quantize(exponent, rounding=ROUND_HALF_EVEN)
    return Cargo(
        description=ctype.description,
        hs_code=ctype.hs_code,
        quantity=quantity,
        unit=ctype.unit,
        value=Money(amount=amount, currency=currency),
    )
