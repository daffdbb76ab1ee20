"""Assets of the synthetic population: real estate, vehicles, forest rights, subsidies.

Each agency draws from its own seeded stream (``rng_for(agency, id)``), so its answers do not
depend on any other agency's. Hit rates are set to resemble the seed report's proportions.
Every record is in the agency's own vocabulary (``mocks.records``), as its stand-in serves it;
an empty list (or listing) means the agency holds nothing for the subject.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta
from functools import cache, lru_cache

from mocks import places
from mocks.people import Kind, address_in, area_of, person, rng_for, village, weighted
from mocks.records import (
    CertificateEntry,
    EncumbranceEntry,
    Ownership,
    PaymentEntry,
    PropertyEntry,
    SubsidyListings,
    VehicleEntry,
)

#: (persons, organisations) share holding anything at this agency
REALESTATE_HIT = (0.45, 0.60)
VEHICLE_HIT = (0.55, 0.70)
#: forest rights and subsidies go to rural people: (rural, urban) share
FORESTRY_HIT = (0.06, 0.015)
SUBSIDY_HIT = (0.44, 0.08)
SUBSIDY_YEARS = range(2020, 2025)
#: yuan per mu by subsidy kind (rough Jilin figures), varied a little by year
SUBSIDY_RATES = {"耕地地力保护补贴": 75.0, "玉米生产者补贴": 80.0, "大豆生产者补贴": 250.0}
_VIN_WMI = {
    "一汽-大众": "LFV",
    "一汽丰田": "LFM",
    "红旗": "LFP",
    "比亚迪": "LGX",
    "上汽通用五菱": "LZW",
    "长城": "LGW",
    "一汽解放": "LFN",
    "五羊-本田": "LWB",
    "东方红": "LYD",
}


def _home(id_number: str, kind: Kind, rng: random.Random) -> places.Area:
    return area_of(id_number[2:8] if kind == "organisation" else id_number[:6], rng)


def _day(rng: random.Random, first_year: int, last_year: int) -> date:
    start = date(first_year, 1, 1)
    return start + timedelta(days=rng.randint(0, (date(last_year, 12, 31) - start).days))


# --- real estate (不动产) --------------------------------------------------------------------


def realestate(id_number: str, kind: Kind) -> list[PropertyEntry]:
    """The registry's properties for the subject, in certificate order; [] for none."""
    rng = rng_for("realestate", id_number)
    if rng.random() >= REALESTATE_HIT[kind == "organisation"]:
        return []
    home = _home(id_number, kind, rng)
    count = weighted(rng, ((1, 60), (2, 28), (3, 9), (4, 3)))
    return [_property(rng, home, kind) for _ in range(count)]


def _property(rng: random.Random, home: places.Area, kind: Kind) -> PropertyEntry:
    area = home if rng.random() < 0.8 else area_of("", rng)
    use = weighted(rng, places.PROPERTY_USES)
    low, high = {"住宅": (45, 140), "商业服务": (30, 300), "车库": (12, 40), "工业": (300, 3000)}[
        use
    ]
    year = rng.randint(2016, 2024)
    registry = "四平市" if area.urban else area.name
    ownership: Ownership
    share: str | None = None
    if kind == "organisation" or rng.random() < 0.55:
        ownership = "单独所有"
    elif rng.random() < 0.8:
        ownership = "共同共有"
    else:
        ownership, share = "按份共有", rng.choice(("1/2", "1/3", "2/3", "1/4"))
    encumbrances: list[EncumbranceEntry] = []
    if rng.random() < 0.30:
        bank = rng.choice(places.BANKS)
        encumbrances.append(
            {"type": "抵押", "holder": bank, "registered": _day(rng, year, 2024).isoformat()}
        )
    if rng.random() < 0.08:
        court = rng.choice(places.COURTS)
        sealed = _day(rng, max(year, 2020), 2025).isoformat()
        encumbrances.append({"type": "查封", "holder": court, "registered": sealed})
    if rng.random() < 0.02:
        objected = _day(rng, year, 2025).isoformat()
        encumbrances.append({"type": "异议", "holder": "利害关系人", "registered": objected})
    return {
        "certificate_no": f"吉({year}){registry}不动产权第{rng.randint(1, 9999999):07d}号",
        "location": address_in(area, rng),
        "area": round(rng.uniform(low, high), 2),
        "purpose": use,
        "ownership": ownership,
        "share": share,
        "encumbrances": encumbrances,
    }


# --- vehicles (车管所) -----------------------------------------------------------------------


def vehicles(id_number: str, kind: Kind) -> list[VehicleEntry]:
    """The office's vehicles for the subject, in order of registration; [] for none."""
    rng = rng_for("vehicle", id_number)
    if rng.random() >= VEHICLE_HIT[kind == "organisation"]:
        return []
    if kind == "organisation":
        count = rng.randint(1, 8)
    else:
        count = weighted(rng, ((1, 70), (2, 22), (3, 8)))
    found = [_vehicle(rng) for _ in range(count)]
    return sorted(found, key=lambda v: (v["registered"], v["plate"]))


def _vehicle(rng: random.Random) -> VehicleEntry:
    vehicle_type, brand, model = weighted(
        rng, tuple(((t, b, m), w) for t, b, m, w in places.VEHICLE_MODELS)
    )
    letters = rng.choice((0, 1, 1, 2))
    tail = [rng.choice(places.PLATE_LETTERS) for _ in range(letters)]
    tail += [str(rng.randint(0, 9)) for _ in range(5 - letters)]
    plate = "吉C" + "".join(tail)
    return {
        "plate": plate,
        "vehicle_type": vehicle_type,
        "brand": brand,
        "model": model,
        "vin": _vin(brand, plate, f"{rng.randint(0, 999999):06d}"),
        "registered": _day(rng, 2005, 2024).isoformat(),
        "status": weighted(rng, places.VEHICLE_STATUSES),
    }


def _vin(brand: str, plate: str, serial: str) -> str:
    """17 characters: the maker's WMI, 8 derived from the plate, a 6-digit serial."""
    middle = hashlib.blake2b(plate.encode(), digest_size=4).hexdigest().upper()
    return _VIN_WMI.get(brand, "LSV") + middle + serial


# --- forest rights (林权) --------------------------------------------------------------------


def forestry(id_number: str, kind: Kind) -> list[CertificateEntry]:
    """The bureau's certificates for the subject, in issue order; [] for none."""
    if kind != "person":
        return []
    rng = rng_for("forestry", id_number)
    home = person(id_number).area
    if rng.random() >= FORESTRY_HIT[home.urban]:
        return []
    count = weighted(rng, ((1, 80), (2, 17), (3, 3)))
    return [_certificate(rng, home) for _ in range(count)]


def _certificate(rng: random.Random, home: places.Area) -> CertificateEntry:
    county = home if not home.urban else rng.choice(places.RURAL_AREAS)
    start = date(rng.randint(1998, 2015), rng.randint(1, 12), rng.randint(1, 28))
    years = rng.choice((30, 50, 70))
    end = date(start.year + years, start.month, start.day) - timedelta(days=1)
    short = county.name[:2]
    return {
        "Number": f"{short}林证字({start.year})第{rng.randint(1, 999999):06d}号",
        "Location": (
            f"{county.name}{rng.choice(county.places)}{village(rng)}"
            f"{rng.randint(1, 80)}林班{rng.randint(1, 30)}小班"
        ),
        "AreaMu": f"{rng.uniform(3, 150):.1f}",
        "Species": rng.choice(places.TREE_SPECIES),
        "RightType": rng.choice(places.FOREST_RIGHTS),
        "TermStart": start.isoformat(),
        "TermEnd": end.isoformat(),
    }


# --- subsidies (直补粮补) --------------------------------------------------------------------


@cache
def townships() -> tuple[tuple[str, str], ...]:
    """(code, name) of every township office the subsidy platform lists, in its order."""
    return tuple((code, f"{county}{town}") for code, county, town in places.TOWNSHIPS)


@lru_cache(maxsize=65536)
def subsidy(id_number: str, kind: Kind) -> SubsidyListings:
    """Township code -> that township's payments to the person (by year, kind, amount).
    Kept for the person's next question: a subsidy inquiry asks a page of each of a dozen
    townships, and working the listings out anew for each page made the stand-in spend a
    fifth of its time here. Callers only read what it returns."""
    if kind != "person":
        return {}
    rng = rng_for("subsidy", id_number)
    home = person(id_number).area
    if rng.random() >= SUBSIDY_HIT[home.urban]:
        return {}
    local = [t for t in places.TOWNSHIPS if t[0].startswith(home.code)] or list(places.TOWNSHIPS)
    chosen = {rng.choice(local)}
    extra = weighted(rng, ((0, 75), (1, 20), (2, 5)))
    while len(chosen) < 1 + extra:
        chosen.add(rng.choice(places.TOWNSHIPS))
    listings: SubsidyListings = {}
    for code, _county, _town in sorted(chosen):
        payments = _township_payments(rng, code)
        listings[code] = sorted(payments, key=lambda p: (p["year"], p["kind"], p["amount"]))
    return listings


def _township_payments(rng: random.Random, code: str) -> list[PaymentEntry]:
    mu = rng.randint(8, 60)
    bank = places.RURAL_BANKS.get(code[:6], places.BANKS[0])
    account = "62" + "".join(str(rng.randint(0, 9)) for _ in range(17))
    out: list[PaymentEntry] = []
    for year in SUBSIDY_YEARS:
        for kind, share in (
            ("耕地地力保护补贴", 0.9),
            ("玉米生产者补贴", 0.6),
            ("大豆生产者补贴", 0.15),
        ):
            if rng.random() < share:
                rate = SUBSIDY_RATES[kind] * (1 + (year - 2022) * 0.03)
                amount = round(mu * rate, 2)
                out.append(
                    {"year": year, "kind": kind, "amount": amount, "bank": bank, "account": account}
                )
    return out
