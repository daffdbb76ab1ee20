"""The synthetic population: valid identifiers, determinism, consistency, realistic hit rates."""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.cn import ric, uscc

from connectors.registry import AGENCIES
from mocks import people, places
from mocks.population import kind_of, police_ack, record, sample_ids, truth

SAMPLE_2000 = sample_ids(2000, seed=0)
PERSONS = [i for _, i in SAMPLE_2000 if kind_of(i) == "person"]
ORGS = [i for _, i in SAMPLE_2000 if kind_of(i) == "organisation"]
#: measured hit rates on PERSONS must fall in these bands (the brief's targets, with slack)
HIT_BANDS = {
    "household": (0.95, 0.99),
    "realestate": (0.40, 0.50),
    "vehicle": (0.50, 0.60),
    "forestry": (0.025, 0.06),
    "subsidy": (0.26, 0.34),
    "police": (0.87, 0.93),
}


def test_identifiers_are_valid_and_distinct() -> None:
    assert len({i for _, i in SAMPLE_2000}) == 2000
    assert 30 < len(ORGS) < 100
    for id_number in PERSONS:
        assert ric.calc_check_digit(id_number) == id_number[-1]
        born = ric.get_birth_date(id_number)
        assert date(1950, 1, 1) <= born <= date(2004, 12, 31)
        assert id_number[:6] in places.AREA_BY_CODE
    assert sum(ric.get_birth_date(i).year <= 1995 for i in PERSONS) / len(PERSONS) > 0.85
    assert all(uscc.is_valid(code) for code in ORGS)
    assert sample_ids(50, seed=4) == sample_ids(50, seed=4) != sample_ids(50, seed=5)


def test_names_match_the_household_record() -> None:
    for name, id_number in SAMPLE_2000[:300]:
        found = truth("household", id_number, kind_of(id_number) or "person")
        if found is not None:
            assert found["name"] == name
            assert found["birth_date"] == ric.get_birth_date(id_number).isoformat()
            assert found["sex"] == ("male" if int(id_number[16]) % 2 else "female")
            assert 2 <= len(name) <= 3


@pytest.mark.parametrize("agency", AGENCIES)
def test_hit_rates(agency: str) -> None:
    hits = sum(truth(agency, i, "person", case_number="c") is not None for i in PERSONS)
    low, high = HIT_BANDS[agency]
    assert low <= hits / len(PERSONS) <= high


def test_organisations_hold_only_property_and_vehicles() -> None:
    held = {
        agency: sum(truth(agency, c, "organisation", case_number="c") is not None for c in ORGS)
        for agency in AGENCIES
    }
    assert held["realestate"] > len(ORGS) / 2 and held["vehicle"] > len(ORGS) / 2
    assert held["household"] == held["forestry"] == held["subsidy"] == held["police"] == 0


def test_same_identifier_same_answer_and_police_consistency() -> None:
    id_number = PERSONS[0]
    for agency in AGENCIES:
        assert truth(agency, id_number, case_number="c") == truth(
            agency, id_number, case_number="c"
        )
    for id_number in PERSONS[:300]:
        police = truth("police", id_number, case_number="(2024)吉03执1号")
        if police is not None:
            identity = record("household", id_number)
            assert identity is not None
            assert police["registered_address"] == identity["hjdz"]
            assert police["ack_number"] == police_ack(id_number, "(2024)吉03执1号")
    with pytest.raises(ValueError, match="case_number"):
        truth("police", id_number)


def test_records_are_in_the_agencies_own_words() -> None:
    """The stand-ins hold codes and field names as the agencies send them, never ours."""
    codes: dict[str, set[str]] = {"xb": set(), "mz": set(), "yhzgx": set()}
    ownership: set[str] = set()
    encumbrances: set[str] = set()
    statuses: set[str] = set()
    for id_number in PERSONS[:600] + ORGS:
        kind = kind_of(id_number) or "person"
        identity = record("household", id_number, kind)
        for field, seen in codes.items():
            if identity is not None:
                seen.add(identity[field])
        for prop in record("realestate", id_number, kind):
            ownership.add(prop["ownership"])
            encumbrances |= {e["type"] for e in prop["encumbrances"]}
        statuses |= {v["status"] for v in record("vehicle", id_number, kind)}
    assert codes["xb"] == {"1", "2"}
    assert codes["mz"] <= {"01", "02", "03", "10", "11"} and "11" in codes["mz"]
    assert codes["yhzgx"] == {"02", "10", "20", "30", "51", "52", "99"}
    assert ownership == {"单独所有", "共同共有", "按份共有"}
    assert encumbrances == {"抵押", "查封", "异议"}
    assert statuses == {"正常", "抵押", "查封", "报废"}
    with pytest.raises(ValueError, match="unknown agency"):
        record("court", PERSONS[0])


def test_validation_helpers() -> None:
    id_number = PERSONS[0]
    assert people.is_person_id(id_number)
    wrong = id_number[:-1] + ("0" if id_number[-1] != "0" else "1")
    assert kind_of(wrong) is None
    assert kind_of(id_number[:10] + "1399" + id_number[14:]) is None
    assert kind_of("x" * 18) is None and kind_of(ORGS[0]) == "organisation"
