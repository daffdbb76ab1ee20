"""Ground truth for tests: what the gateway must record for a subject, from the agency's words.

The stand-ins serve records in each agency's own vocabulary (``mocks.records``). The gateway's
record for the same subject is the one documented in README.md and docs/agencies.md (the field
tables): English field names, ISO dates, 'mortgage' for 抵押, 'female' for xb 2. This module
states that translation a second time, by hand, from the documents and the code standards,
without looking at the connectors: the tables below are deliberately *not* imported from
``connectors``, so a connector that maps a code wrongly disagrees with this truth instead of
agreeing with itself. ``tests/integration/connectors/test_wire_fixtures.py`` checks both against
hand-written fixtures.

``expected(agency, id_number, kind, case_number=...)`` is the record as the gateway stores it
(``Found.to_json()``), or None when the agency holds nothing for the subject. For household,
``items`` are the parts the officer asked for (README: ``household_items``): a part not asked
for is null in the record.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date
from typing import Any

from mocks import assets, people
from mocks.records import CertificateEntry, IdentityData, PaymentEntry, PropertyEntry, VehicleEntry

Json = dict[str, Any]

#: GB/T 2261.1-2003 人的性别代码
SEX: dict[str, str] = {"1": "male", "2": "female"}
#: GB 3304-1991 中国各民族名称的罗马字母拼写法和代码: the five the population uses
ETHNICITY: dict[str, str] = {
    "01": "汉族",
    "02": "蒙古族",
    "03": "回族",
    "10": "朝鲜族",
    "11": "满族",
}
#: GB/T 4761-2008 家庭关系代码: the seven the population uses
RELATION: dict[str, str] = {
    "02": "户主",
    "10": "配偶",
    "20": "子",
    "30": "女",
    "51": "父亲",
    "52": "母亲",
    "99": "其他",
}
#: 不动产登记: 共有情况 and 权利限制 as the README words them
OWNERSHIP: dict[str, str] = {"单独所有": "sole", "共同共有": "joint", "按份共有": "by_share"}
ENCUMBRANCE: dict[str, str] = {"抵押": "mortgage", "查封": "seal", "异议": "objection"}
#: 机动车状态
VEHICLE_STATUS: dict[str, str] = {
    "正常": "normal",
    "抵押": "mortgaged",
    "查封": "seized",
    "报废": "scrapped",
}


def _iso(day: str) -> str:
    """``19650412`` or ``1965-04-12`` -> ``1965-04-12``."""
    digits = day.replace("-", "")
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:])).isoformat()


#: the identity fields of the household record, null when only the photo was asked for
HOUSEHOLD_IDENTITY_FIELDS = (
    "name",
    "sex",
    "birth_date",
    "ethnicity",
    "address",
    "household_head",
    "relation_to_head",
)


def household_parts(record: Json, items: tuple[str, ...]) -> Json:
    """The household record holding only the parts asked for (both when ``items`` is empty)."""
    kept = dict(record)
    if items and "identity" not in items:
        kept.update(dict.fromkeys(HOUSEHOLD_IDENTITY_FIELDS))
    if items and "photo" not in items:
        kept["photo"] = None
    return kept


def household(identity: IdentityData, photo: bytes) -> Json:
    return {
        "name": identity["xm"],
        "sex": SEX[identity["xb"]],
        "birth_date": _iso(identity["csrq"]),
        "ethnicity": ETHNICITY[identity["mz"]],
        "address": identity["hjdz"],
        "household_head": identity["hzxm"],
        "relation_to_head": RELATION[identity["yhzgx"]],
        "photo": {
            "content_type": "image/png",
            "size_bytes": len(photo),
            "sha256": hashlib.sha256(photo).hexdigest(),
            "data_base64": base64.b64encode(photo).decode("ascii"),
        },
    }


def realestate(properties: list[PropertyEntry]) -> Json:
    return {
        "properties": [
            {
                "certificate_number": p["certificate_no"],
                "address": p["location"],
                "area_m2": float(p["area"]),
                "use": p["purpose"],
                "ownership": OWNERSHIP[p["ownership"]],
                "share": p["share"],
                "encumbrances": [
                    {
                        "kind": ENCUMBRANCE[e["type"]],
                        "holder": e["holder"],
                        "registered_on": _iso(e["registered"]),
                    }
                    for e in p["encumbrances"]
                ],
            }
            for p in properties
        ]
    }


def vehicle(vehicles: list[VehicleEntry]) -> Json:
    return {
        "vehicles": [
            {
                "plate": v["plate"],
                "vehicle_type": v["vehicle_type"],
                "brand_model": v["brand"] + " " + v["model"],
                "vin_last6": v["vin"][-6:],
                "registered_on": _iso(v["registered"]),
                "status": VEHICLE_STATUS[v["status"]],
            }
            for v in vehicles
        ]
    }


def forestry(certificates: list[CertificateEntry]) -> Json:
    return {
        "certificates": [
            {
                "certificate_number": c["Number"],
                "location": c["Location"],
                "area_mu": float(c["AreaMu"]),
                "species": c["Species"],
                "right_type": c["RightType"],
                "term_start": _iso(c["TermStart"]),
                "term_end": _iso(c["TermEnd"]),
            }
            for c in certificates
        ]
    }


def subsidy(listings: dict[str, list[PaymentEntry]], townships: dict[str, str]) -> Json:
    """Every township's listing merged, ordered by township code, year, kind, amount."""
    payments: list[Json] = [
        {
            "township_code": code,
            "township": townships[code],
            "year": p["year"],
            "kind": p["kind"],
            "amount": float(p["amount"]),
            "bank": p["bank"],
            "account": p["account"],
        }
        for code, listing in listings.items()
        for p in listing
    ]
    payments.sort(key=lambda p: (p["township_code"], p["year"], p["kind"], p["amount"]))
    return {"payments": payments}


def expected(
    agency: str,
    id_number: str,
    kind: people.Kind,
    *,
    case_number: str | None = None,
    items: tuple[str, ...] = (),
) -> Json | None:
    """The gateway's record for this subject at this agency, or None (``NotFound``);
    ``items``: household's parts asked for (empty: all)."""
    if agency == "household":
        identity = people.household(id_number, kind)
        if identity is None:
            return None
        return household_parts(household(identity, people.photo_png(id_number)), items)
    if agency == "realestate":
        properties = assets.realestate(id_number, kind)
        return realestate(properties) if properties else None
    if agency == "vehicle":
        vehicles = assets.vehicles(id_number, kind)
        return vehicle(vehicles) if vehicles else None
    if agency == "forestry":
        certificates = assets.forestry(id_number, kind)
        return forestry(certificates) if certificates else None
    if agency == "subsidy":
        listings = assets.subsidy(id_number, kind)
        paid = any(listings.values())
        return subsidy(listings, dict(assets.townships())) if paid else None
    if agency == "police":
        if case_number is None:
            raise ValueError("police truth needs case_number: the ack number depends on it")
        answer = people.police(id_number, kind)
        if answer is None:
            return None
        whereabouts = answer["whereabouts"]
        return {
            "ack_number": people.police_ack(id_number, case_number),
            "status": answer["status"],  # the station's words are ours: accepted, dispatched
            "police_station": whereabouts["station"],
            "registered_address": whereabouts["registered_address"],
            "last_known_address": whereabouts["last_known_address"],
            "last_seen_on": _iso(whereabouts["last_seen"]),
        }
    raise ValueError(f"unknown agency {agency!r}")
