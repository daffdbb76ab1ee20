"""People of the deterministic synthetic population of Siping.

The same identifier always yields the same person and the same assets: every fact is drawn
from ``random.Random`` seeded with a BLAKE2b hash of (purpose, identifier), one stream per
purpose, so adding a fact to one agency never shifts another agency's answers. Records are
built in each agency's own vocabulary (``mocks.records``): codes and field names as the agency
sends them. Assets live in ``mocks.assets``; this module holds identities, IDs, the household
registry's identity and the police record.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal, TypeVar

from stdnum.cn import ric, uscc

from mocks import places
from mocks.png import id_photo
from mocks.records import IdentityData, PoliceEntry, PoliceStatus, Whereabouts

Kind = Literal["person", "organisation"]
T = TypeVar("T")

#: hit rates (share of valid person IDs an agency knows); assets keep theirs in mocks.assets
HOUSEHOLD_HIT = 0.97
#: police know ~93% of registered people: ~90% of all IDs
POLICE_HIT_GIVEN_HOUSEHOLD = 0.93

_PERSON_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


def rng_for(purpose: str, identifier: str) -> random.Random:
    """An independent, reproducible random stream for one fact about one subject."""
    digest = hashlib.blake2b(f"{purpose}:{identifier}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def weighted(rng: random.Random, choices: tuple[tuple[T, int], ...]) -> T:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def birth_date_of(id_number: str) -> date | None:
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def is_person_id(value: str) -> bool:
    """Shape, birth date and check character; any area code (see the domain primer)."""
    return (
        _PERSON_SHAPE.fullmatch(value) is not None
        and birth_date_of(value) is not None
        and ric.calc_check_digit(value) == value[-1]
    )


def is_organisation_code(value: str) -> bool:
    return len(value) == 18 and uscc.is_valid(value)


def kind_of(value: str) -> Kind | None:
    """What an agency makes of an identifier: a person, an organisation, or garbage (None)."""
    if is_person_id(value):
        return "person"
    if is_organisation_code(value):
        return "organisation"
    return None


@dataclass(frozen=True, slots=True)
class Person:
    """Everything identity-related about one resident ID, registered or not."""

    id_number: str
    name: str
    sex_code: str  # GB/T 2261.1: 1 男, 2 女
    birth_date: date
    area: places.Area
    address: str
    ethnicity_code: str  # GB 3304
    household_head: str
    relation_code: str  # GB/T 4761


def _given_name(rng: random.Random, male: bool) -> str:
    pool = places.MALE_GIVEN if male else places.FEMALE_GIVEN
    return "".join(rng.choice(pool) for _ in range(1 if rng.random() < 0.35 else 2))


def random_name(rng: random.Random, male: bool, surname: str | None = None) -> str:
    return (surname or weighted(rng, places.SURNAMES)) + _given_name(rng, male)


def area_of(code: str, rng: random.Random) -> places.Area:
    """The Siping area for an area code; people registered elsewhere live somewhere in Siping."""
    area = places.AREA_BY_CODE.get(code)
    if area is not None:
        return area
    return rng.choices(places.AREAS, weights=[a.weight for a in places.AREAS])[0]


def address_in(area: places.Area, rng: random.Random) -> str:
    place = rng.choice(area.places)
    if area.urban:
        return (
            f"{places.PROVINCE_CITY}{area.name}{place}{rng.randint(1, 2999)}号"
            f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元"
            f"{rng.randint(1, 18)}0{rng.randint(1, 4)}室"
        )
    return f"{places.PROVINCE_CITY}{area.name}{place}{village(rng)}{rng.randint(1, 12)}组"


def village(rng: random.Random) -> str:
    return rng.choice(places.VILLAGE_STEMS) + "村"


@lru_cache(maxsize=65536)
def person(id_number: str) -> Person:
    rng = rng_for("person", id_number)
    male = int(id_number[16]) % 2 == 1
    born = birth_date_of(id_number) or date(1970, 1, 1)
    surname = weighted(rng, places.SURNAMES)
    name = random_name(rng, male, surname)
    area = area_of(id_number[:6], rng)
    eth_weights = [w * (4 if code == places.MANCHU and area.code == "220323" else 1)
                   for code, w in places.ETHNICITIES]  # fmt: skip
    eth_code, _ = rng.choices(places.ETHNICITIES, weights=eth_weights)[0]
    # GB/T 4761: 02 户主, 10 配偶, 20 子, 30 女, 51 父亲, 52 母亲, 99 其他
    roll = rng.random()
    if roll < 0.5:
        relation_code, head = "02", name
    elif roll < 0.75:
        relation_code, head = "10", random_name(rng, not male)
    elif roll < 0.93:
        relation_code, head = ("20" if male else "30"), random_name(rng, True, surname)
    elif roll < 0.97:
        relation_code, head = (
            ("51" if male else "52"),
            random_name(rng, rng.random() < 0.5, surname),
        )
    else:
        relation_code, head = "99", random_name(rng, rng.random() < 0.5)
    return Person(
        id_number=id_number,
        name=name,
        sex_code="1" if male else "2",
        birth_date=born,
        area=area,
        address=address_in(area, rng),
        ethnicity_code=eth_code,
        household_head=head,
        relation_code=relation_code,
    )


def organisation_name(code: str) -> str:
    rng = rng_for("organisation", code)
    return f"四平市{rng.choice(places.ORG_WORDS)}{rng.choice(places.ORG_TRADES)}"


def subject_name(id_number: str) -> str:
    return person(id_number).name if is_person_id(id_number) else organisation_name(id_number)


# --- household (户政) ------------------------------------------------------------------------


def is_registered(id_number: str) -> bool:
    return is_person_id(id_number) and rng_for("household", id_number).random() < HOUSEHOLD_HIT


def photo_ref(id_number: str) -> str:
    """An opaque photo number: the resident ID must not appear in photo URLs."""
    return "ZP" + hashlib.blake2b(f"photo-ref:{id_number}".encode(), digest_size=10).hexdigest()


@lru_cache(maxsize=4096)
def photo_png(id_number: str) -> bytes:
    seed = int.from_bytes(hashlib.blake2b(id_number.encode(), digest_size=8).digest(), "big")
    return id_photo(seed)


def household(id_number: str, kind: Kind = "person") -> IdentityData | None:
    """The registry's identity record (``data`` of its answer), or None if not registered."""
    if kind != "person" or not is_registered(id_number):
        return None
    p = person(id_number)
    return {
        "gmsfhm": id_number,
        "xm": p.name,
        "xb": p.sex_code,
        "csrq": f"{p.birth_date:%Y%m%d}",
        "mz": p.ethnicity_code,
        "hjdz": p.address,
        "hzxm": p.household_head,
        "yhzgx": p.relation_code,
        "zpbh": photo_ref(id_number),
    }


# --- police (派出所) -------------------------------------------------------------------------


def police_ack(id_number: str, case_number: str) -> str:
    """Stable per (case, person): refiling is idempotent, and truth can predict it."""
    digest = hashlib.blake2b(f"ack:{case_number}|{id_number}".encode(), digest_size=7)
    return "SPGA" + digest.hexdigest().upper()


def police(id_number: str, kind: Kind) -> PoliceEntry | None:
    """What the station answers once it has checked, or None (it answers ``no_record``)."""
    if kind != "person" or not is_registered(id_number):
        return None
    rng = rng_for("police", id_number)
    if rng.random() >= POLICE_HIT_GIVEN_HOUSEHOLD:
        return None
    p = person(id_number)
    town = rng.choice(p.area.places)
    if p.area.urban:
        station = f"四平市公安局{p.area.name}分局{town[:2]}派出所"
    else:
        station = f"{p.area.name}公安局{town}派出所"
    roll = rng.random()
    if roll < 0.6:
        last_known = p.address
    elif roll < 0.9:
        last_known = address_in(area_of("", rng), rng)
    else:
        street = rng.choice(("红旗街", "西安大路", "自由大路"))
        last_known = f"吉林省长春市朝阳区{street}{rng.randint(1, 999)}号"
    status: PoliceStatus = "accepted" if rng.random() < 0.8 else "dispatched"
    whereabouts: Whereabouts = {
        "station": station,
        "registered_address": p.address,
        "last_known_address": last_known,
        "last_seen": (date(2023, 1, 1) + timedelta(days=rng.randint(0, 900))).isoformat(),
    }
    return {"status": status, "whereabouts": whereabouts}


# --- synthetic identifiers -------------------------------------------------------------------


def make_person_id(area_code: str, born: date, sequence: int) -> str:
    body = f"{area_code}{born:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


def make_organisation_code(rng: random.Random, area_code: str) -> str:
    # 9 = registered with market regulation, 1 = enterprise; then area and organisation code.
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "91" + area_code + "".join(rng.choice(alphabet) for _ in range(9))
    return body + uscc.calc_check_digit(body)


def sample_ids(n: int, seed: int = 0, organisations: float = 0.03) -> list[tuple[str, str]]:
    """``n`` distinct (name, identifier) pairs: valid resident IDs of Siping people born mostly
    1950-1995, and a few (``organisations`` share) valid unified social credit codes."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    weights = [a.weight for a in places.AREAS]
    while len(out) < n:
        area = rng.choices(places.AREAS, weights=weights)[0]
        if rng.random() < organisations:
            identifier = make_organisation_code(rng, area.code)
        else:
            first = date(1950, 1, 1) if rng.random() < 0.9 else date(1996, 1, 1)
            span = (date(1995, 12, 31) if first.year == 1950 else date(2004, 12, 31)) - first
            born = first + timedelta(days=rng.randint(0, span.days))
            identifier = make_person_id(area.code, born, rng.randint(1, 999))
        if identifier not in seen:
            seen.add(identifier)
            out.append((subject_name(identifier), identifier))
    return out
