"""Tests for gateway.identifiers: resident IDs, credit codes, case numbers, masking."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidComponent

from gateway.core.identifiers import (
    CASE_TYPES,
    CaseNumber,
    InvalidCaseNumber,
    InvalidIdentifier,
    classify_identifier,
    mask_id,
    mask_name,
    parse_case_number,
    validate_credit_code,
    validate_resident_id,
)

TODAY = date(2026, 6, 1)
#: the case types of the Supreme People's Court's numbering rules (2015), as the errors list them
TYPES = "执、执他、执保、执协、执复、执异、执恢、执监"


def resident_id(area: str, birth: str, seq: str = "001") -> str:
    """A resident ID with the right check character, computed by stdnum."""
    body = area + birth + seq
    return body + ric.calc_check_digit(body + "0")


def resident_id_ending_x() -> str:
    for n in range(1000):
        number = resident_id("220302", "19650315", f"{n:03d}")
        if number.endswith("X"):
            return number
    raise AssertionError("no sequence gives check character X")


def credit_code(body: str) -> str:
    return body + uscc.calc_check_digit(body + "0")


def wrong_check(number: str) -> str:
    return number[:-1] + ("1" if number[-1] != "1" else "2")


SIPING_1965 = resident_id("220302", "19650315")  # code exists since 1983
GONGZHULING_1970 = resident_id("220381", "19700101")  # code existed 1989-2020
VALID_CREDIT = credit_code("91220300MA0Y12345")
ALL_DIGIT_CREDIT = credit_code("91220300123456789")
PUBLIC_INSTITUTION = credit_code("12220300412345678")


# --- resident identity numbers ------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        resident_id("110101", "19900307"),
        resident_id("220303", "20010228", "124"),
        resident_id("220302", "20000229"),  # leap day
        resident_id("220302", "19000101"),
        SIPING_1965,
        GONGZHULING_1970,
        resident_id_ending_x(),
    ],
)
def test_valid_resident_id(number: str) -> None:
    assert validate_resident_id(number, today=TODAY) == number


def test_domain_trap_area_code_newer_than_birth_is_accepted() -> None:
    # stdnum rejects it because 220302 only exists since 1983; the holder got it when issued.
    with pytest.raises(InvalidComponent):
        ric.validate(SIPING_1965)
    assert validate_resident_id(SIPING_1965) == SIPING_1965


def test_domain_trap_abolished_area_code_is_accepted() -> None:
    with pytest.raises(InvalidComponent):
        ric.validate(GONGZHULING_1970)  # 1970 is before 220381 existed (1989-2020)
    assert validate_resident_id(GONGZHULING_1970) == GONGZHULING_1970
    born_2022 = resident_id("220381", "20220101")  # after abolition: still held by someone
    assert validate_resident_id(born_2022, today=TODAY) == born_2022


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        (resident_id_ending_x()[:-1] + "x", resident_id_ending_x()),
        (" 220302 19650315 " + SIPING_1965[-4:] + " ", SIPING_1965),
        ("".join(chr(ord(c) + 0xFEE0) for c in SIPING_1965), SIPING_1965),  # full-width
    ],
)
def test_resident_id_is_normalised(raw: str, canonical: str) -> None:
    assert validate_resident_id(raw) == canonical


INVALID_RESIDENT_IDS = [
    ("", "must be 18 characters"),
    (SIPING_1965[:17], "must be 18 characters"),
    (SIPING_1965 + "1", "must be 18 characters"),
    ("220302650315001", "must be 18 characters"),  # old 15-digit number
    ("22030219650315A01X", "must be 17 digits followed by a digit or X"),
    ("X20302196503150011", "must be 17 digits followed by a digit or X"),
    (wrong_check(SIPING_1965), "check character is wrong"),
    (resident_id("220302", "19650230"), "birth date is not a real date"),
    (resident_id("220302", "19651301"), "birth date is not a real date"),
    (resident_id("220302", "18991231"), "birth date is before 1900"),
    (resident_id("220302", "20260602"), "birth date is in the future"),
    (resident_id("999999", "19650315"), "area code is unknown"),
    (resident_id("229999", "19650315"), "area code is unknown"),
]


@pytest.mark.parametrize(("number", "problem"), INVALID_RESIDENT_IDS)
def test_invalid_resident_id(number: str, problem: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        validate_resident_id(number, today=TODAY)
    assert caught.value.problem == problem
    assert str(caught.value) == problem
    assert isinstance(caught.value, ValueError)


def test_future_birth_date_uses_current_date_by_default() -> None:
    with pytest.raises(InvalidIdentifier, match="in the future"):
        validate_resident_id(resident_id("220302", "29991231"))


# --- credit codes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        (VALID_CREDIT, VALID_CREDIT),
        (VALID_CREDIT.lower(), VALID_CREDIT),
        (f" {VALID_CREDIT[:8]} {VALID_CREDIT[8:]} ", VALID_CREDIT),
        (ALL_DIGIT_CREDIT, ALL_DIGIT_CREDIT),
        ("91110000600037341L", "91110000600037341L"),
    ],
)
def test_valid_credit_code(raw: str, canonical: str) -> None:
    assert validate_credit_code(raw) == canonical


INVALID_CREDIT_CODES = [
    ("", "must be 18 characters"),
    (VALID_CREDIT[:17], "must be 18 characters"),
    (wrong_check(VALID_CREDIT), "check character is wrong"),
    (
        "A1110000600037341L",
        "must be 8 digits followed by 10 digits or capital letters other than I, O, S, V, Z",
    ),
    (
        "91220300MA0Y1234IL",
        "must be 8 digits followed by 10 digits or capital letters other than I, O, S, V, Z",
    ),
]


@pytest.mark.parametrize(("code", "problem"), INVALID_CREDIT_CODES)
def test_invalid_credit_code(code: str, problem: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        validate_credit_code(code)
    assert caught.value.problem == problem


# --- classification -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (SIPING_1965, ("person", SIPING_1965)),
        (resident_id_ending_x().lower(), ("person", resident_id_ending_x())),
        (VALID_CREDIT, ("organisation", VALID_CREDIT)),
        (VALID_CREDIT.lower(), ("organisation", VALID_CREDIT)),
        (ALL_DIGIT_CREDIT, ("organisation", ALL_DIGIT_CREDIT)),  # starts 91: not a province
        # public institution (12 = Tianjin as a province prefix): no real area code or date
        (PUBLIC_INSTITUTION, ("organisation", PUBLIC_INSTITUTION)),
        # Feb 30 cannot be a person; this one happens to be a valid credit code
        ("22030219650230001X", ("organisation", "22030219650230001X")),
    ],
)
def test_classify(value: str, expected: tuple[str, str]) -> None:
    assert classify_identifier(value, today=TODAY) == expected


INVALID_CLASSIFY = [
    ("", "must be 18 characters"),
    ("220302650315001", "must be 18 characters"),
    (wrong_check(SIPING_1965), "check character is wrong"),
    (resident_id("220302", "19650230", "002"), "birth date is not a real date"),
    (resident_id("229999", "19650315"), "area code is unknown"),
    (wrong_check(VALID_CREDIT), "check character is wrong"),
    (wrong_check(ALL_DIGIT_CREDIT), "check character is wrong"),
    (wrong_check(PUBLIC_INSTITUTION), "check character is wrong"),
    ("22030219650315-01X", "must contain only digits and capital letters"),
]


def test_classify_never_reinterprets_a_plausible_person() -> None:
    # A typo'd resident ID that happens to pass the credit-code check stays a person's problem.
    for seq in range(200):
        typo = wrong_check(resident_id("220302", "19650315", f"{seq:03d}"))
        if uscc.is_valid(typo):
            break
    else:
        pytest.skip("no collision found")
    with pytest.raises(InvalidIdentifier, match="check character is wrong"):
        classify_identifier(typo, today=TODAY)


@pytest.mark.parametrize(("value", "problem"), INVALID_CLASSIFY)
def test_classify_reports_most_useful_problem(value: str, problem: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        classify_identifier(value, today=TODAY)
    assert caught.value.problem == problem


# --- case numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("（2022）吉03执123号", CaseNumber(2022, "吉", "03", "执", 123)),
        ("(2024)吉0302执恢45号", CaseNumber(2024, "吉", "0302", "执恢", 45)),
        ("（2023）吉0303执保7号", CaseNumber(2023, "吉", "0303", "执保", 7)),
        ("  (2022）吉03执异1号\n", CaseNumber(2022, "吉", "03", "执异", 1)),
        ("（２０２２）吉０３执１２３号", CaseNumber(2022, "吉", "03", "执", 123)),
        ("（1990）京0105执复10号", CaseNumber(1990, "京", "0105", "执复", 10)),
        ("（2027）兵0101执监2号", CaseNumber(2027, "兵", "0101", "执监", 2)),
        ("（2021）粤010执协3号", CaseNumber(2021, "粤", "010", "执协", 3)),
        ("（2021）川01执他30号", CaseNumber(2021, "川", "01", "执他", 30)),
    ],
)
def test_valid_case_number(raw: str, expected: CaseNumber) -> None:
    assert parse_case_number(raw, today=TODAY) == expected


def test_case_number_canonical_uses_full_width_brackets() -> None:
    parsed = parse_case_number("(2024)吉0302执恢45号")
    assert parsed.canonical == "（2024）吉0302执恢45号"
    assert str(parsed) == parsed.canonical
    assert parse_case_number(parsed.canonical) == parsed


def test_all_case_types_parse() -> None:
    for case_type in CASE_TYPES:
        assert parse_case_number(f"（2022）吉03{case_type}1号").case_type == case_type


INVALID_CASE_NUMBERS = [
    ("", "case number is empty"),
    ("   ", "case number is empty"),
    ("吉03执123号", "brackets and year are missing"),
    ("2022吉03执123号", "year must be in brackets"),
    ("（22）吉03执123号", "year must be 4 digits"),
    ("（2022吉03执123号", "closing bracket after the year is missing"),
    ("（1980）吉03执1号", "year is out of range"),
    ("（1989）吉03执1号", "year is out of range"),
    ("（2028）吉03执1号", "year is out of range"),
    ("（2022）03执123号", "province abbreviation is missing"),
    ("（2022）美03执123号", "unknown province abbreviation"),
    ("（2022）吉执123号", "court code must be 2 to 4 digits"),
    ("（2022）吉3执123号", "court code must be 2 to 4 digits"),
    ("（2022）吉03021执123号", "court code must be 2 to 4 digits"),
    ("（2022）吉03民123号", f"case type is not an enforcement case type ({TYPES})"),
    ("（2022）吉03张三丰123号", f"case type is not an enforcement case type ({TYPES})"),
    ("（2022）吉03执字123号", f"unknown case type (one of {TYPES})"),
    ("（2022）吉03执X123号", f"unknown case type (one of {TYPES})"),
    ("（2022）吉03执恢复123号", f"unknown case type (one of {TYPES})"),
    ("（2022）吉03执行案件第123号", f"unknown case type (one of {TYPES})"),
    ("（2022）吉03号", "case type is missing"),
    ("（2022）吉03123号", "court code must be 2 to 4 digits"),
    ("（2022）吉03执号", "serial number is missing"),
    ("（2022）吉03执0号", "serial number must be a positive integer without leading zeros"),
    ("（2022）吉03执007号", "serial number must be a positive integer without leading zeros"),
    ("（2022）吉03执123", "must end with 号"),
    ("（2022）吉03执123号之一", "unexpected text after 号"),
]


@pytest.mark.parametrize(("raw", "problem"), INVALID_CASE_NUMBERS)
def test_invalid_case_number(raw: str, problem: str) -> None:
    with pytest.raises(InvalidCaseNumber) as caught:
        parse_case_number(raw, today=TODAY)
    assert caught.value.problem == problem
    assert isinstance(caught.value, ValueError)


# --- problems never carry the value -------------------------------------------------------


def _leaks(value: str, problem: str) -> bool:
    stripped = "".join(value.split())
    return any(v and v in problem for v in (value, value.strip(), stripped, stripped.upper()))


@pytest.mark.parametrize(
    ("func", "value"),
    [(validate_resident_id, v) for v, _ in INVALID_RESIDENT_IDS]
    + [(validate_credit_code, v) for v, _ in INVALID_CREDIT_CODES]
    + [(classify_identifier, v) for v, _ in INVALID_CLASSIFY]
    + [(parse_case_number, v) for v, _ in INVALID_CASE_NUMBERS],
)
def test_problem_never_contains_value(func: Callable[..., object], value: str) -> None:
    with pytest.raises((InvalidIdentifier, InvalidCaseNumber)) as caught:
        func(value, **({} if func is validate_credit_code else {"today": TODAY}))
    assert not _leaks(value, caught.value.problem)
    assert not any(_leaks(value, str(arg)) for arg in caught.value.args)
    if len(value) >= 6 and value[:6].isdigit():
        assert value[:6] not in caught.value.problem


# --- masking ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (SIPING_1965, "220302***********" + SIPING_1965[-1]),
        (VALID_CREDIT, "912203***********" + VALID_CREDIT[-1]),
        ("220302650315001", "220302********1"),
        ("1234567", "*******"),
        ("", ""),
    ],
)
def test_mask_id(value: str, masked: str) -> None:
    assert mask_id(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [("张三丰", "张**"), ("张三", "张*"), ("欧阳娜娜", "欧***"), ("张", "*"), ("", "")],
)
def test_mask_name(value: str, masked: str) -> None:
    assert mask_name(value) == masked


def test_mask_id_keeps_no_birth_date() -> None:
    assert "19650315" not in mask_id(SIPING_1965)
