"""What each stand-in agency holds about a subject, in the agency's own words.

These are the agencies' records as they go over the wire: the household registry's
pinyin-initial field names and GB codes, the real-estate registry's 单独所有 / 抵押, the vehicle
office's 正常 / 查封, the forestry bureau's XML element names, the township listings. The
population (``mocks.people``, ``mocks.assets``) builds them and the stand-ins serve them as they
are. Nothing here knows the gateway's vocabulary: translating it is the connectors' job, and
``mocks.truth`` does the same translation independently for the tests.
"""

from __future__ import annotations

from typing import Literal, TypedDict

# --- household (户政) ------------------------------------------------------------------------


class IdentityData(TypedDict):
    """``data`` of a found identity answer; codes are GB/T 2261.1, GB 3304 and GB/T 4761."""

    gmsfhm: str  # 公民身份号码, echoed
    xm: str  # 姓名
    xb: str  # 性别 code: 1 男, 2 女
    csrq: str  # 出生日期 YYYYMMDD
    mz: str  # 民族 code
    hjdz: str  # 户籍地址
    hzxm: str  # 户主姓名
    yhzgx: str  # 与户主关系 code
    zpbh: str  # 照片编号, opaque


# --- real estate (不动产登记) ------------------------------------------------------------------

Ownership = Literal["单独所有", "共同共有", "按份共有"]
EncumbranceType = Literal["抵押", "查封", "异议"]


class EncumbranceEntry(TypedDict):
    type: EncumbranceType
    holder: str
    registered: str  # YYYY-MM-DD


class PropertyEntry(TypedDict):
    certificate_no: str
    location: str
    area: float  # m²
    purpose: str
    ownership: Ownership
    share: str | None  # a fraction under 按份共有
    encumbrances: list[EncumbranceEntry]


# --- vehicles (车管所) -----------------------------------------------------------------------

VehicleStatus = Literal["正常", "抵押", "查封", "报废"]


class VehicleEntry(TypedDict):
    plate: str
    vehicle_type: str
    brand: str
    model: str
    vin: str  # all 17 characters
    registered: str  # YYYY-MM-DD
    status: VehicleStatus


# --- forest rights (林权) --------------------------------------------------------------------


class CertificateEntry(TypedDict):
    """One ``<Certificate>``: element name -> text, in the bureau's element order."""

    Number: str
    Location: str
    AreaMu: str  # one decimal
    Species: str
    RightType: str
    TermStart: str  # YYYY-MM-DD
    TermEnd: str


# --- subsidies (直补粮补) --------------------------------------------------------------------


class PaymentEntry(TypedDict):
    """One line of a township's payment listing (the township is the listing's own)."""

    year: int
    kind: str
    amount: float
    bank: str
    account: str


#: township code -> that township's listing for one person, in listing order
SubsidyListings = dict[str, list[PaymentEntry]]


# --- police (派出所) -------------------------------------------------------------------------

PoliceStatus = Literal["accepted", "dispatched"]


class Whereabouts(TypedDict):
    station: str
    registered_address: str
    last_known_address: str
    last_seen: str  # YYYY-MM-DD


class PoliceEntry(TypedDict):
    """What the station answers once it has checked (the ack number is the request's)."""

    status: PoliceStatus
    whereabouts: Whereabouts
