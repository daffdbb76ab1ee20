"""Resident identity numbers, credit codes and enforcement case numbers: validation, masking.

Pure functions (python-stdnum reads its bundled area-code table once). The ``problem`` of
:class:`InvalidIdentifier` / :class:`InvalidCaseNumber` is a short English phrase safe to show
and to log: it never contains the value.

Area codes: ``stdnum.cn.ric.validate()`` rejects a number whose area code did not yet exist in the
holder's birth year. Numbers carry the code of the place of registration when *issued* (a Siping
resident born 1965 holds ``220302...``, a 1983 code) and abolished codes (``220381``) stay valid,
so we accept any code that has *ever* existed in stdnum's ``cn/loc`` table (``stdnum.numdb``),
whatever the validity years on its county entry (``[1989-2020]公主岭市``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Literal

from stdnum import numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError

from gateway.core.text import NOT_ALLOWED, has_disallowed_characters

IdentifierKind = Literal["person", "organisation"]

MIN_BIRTH_DATE = date(1900, 1, 1)
MIN_CASE_YEAR = 1990
#: a court numbers its cases per year and type: nine digits are far more than any court needs
MAX_SERIAL_DIGITS = 9

#: Provincial abbreviations used in case numbers; 兵 = Xinjiang Production and Construction Corps.
PROVINCES = frozenset("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼兵")

#: Enforcement case types: 执 first enforcement, 执恢 resumed, 执保 preservation, 执异 objection,
#: 执复 review, 执监 supervision, 执协 assisted enforcement (for another court), 执他 other.
CASE_TYPES = frozenset({"执", "执恢", "执保", "执异", "执复", "执监", "执协", "执他"})

CHECK_WRONG = "check character is wrong"
_RESIDENT_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_ALNUM_18 = re.compile(r"[0-9A-Z]{18}")


class InvalidIdentifier(ValueError):
    """An identifier is malformed; ``problem`` is safe to show and to log."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class InvalidCaseNumber(ValueError):
    """A case number is malformed; ``problem`` is safe to show and to log."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _normalise(value: object) -> str:
    """Full-width to ASCII (NFKC), drop all whitespace, upper-case."""
    if not isinstance(value, str):
        raise InvalidIdentifier("must be text")
    if value.isascii():  # as nearly every list writes it: NFKC would change nothing
        text = "".join(value.split()).upper()
    else:
        text = "".join(unicodedata.normalize("NFKC", value).split()).upper()
    if has_disallowed_characters(text):  # control/format characters, lone surrogates
        raise InvalidIdentifier(NOT_ALLOWED)
    return text


@functools.cache
def _area_codes() -> frozenset[str]:
    """Every 6-digit area code in stdnum's table (a province's two digits, then a county's
    four), whatever its validity years: read once, as its look-up scans the table."""
    return frozenset(
        province + county
        for _, province, _, _, counties in numdb.get("cn/loc").prefixes
        for _, county, _, props, _ in counties
        if props.get("county")
    )


def _area_code_ever_existed(code: str) -> bool:
    """True if the 6-digit area code appears in stdnum's table, whatever its validity years."""
    return code in _area_codes()


@functools.cache
def _province_prefix(prefix: str) -> bool:
    return any(props.get("province") for _, props in numdb.get("cn/loc").info(prefix))


def _is_province_prefix(code: str) -> bool:
    return _province_prefix(code[:2])


def _birth_date(number: str) -> date | None:
    """The birth date in digits 7-14, or None when it is not a real date. (What stdnum's
    ``ric.get_birth_date`` does, without cleaning the number again: intake checks 100,000
    numbers in a list.)"""
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def validate_resident_id(value: str, *, today: date | None = None) -> str:
    """Return the canonical 18-character resident identity number or raise InvalidIdentifier.

    ``today`` (default: the current date) bounds the birth date, for tests.
    """
    return _resident_id(_normalise(value), today)


def _resident_id(number: str, today: date | None) -> str:
    """``validate_resident_id`` of a value already normalised."""
    if len(number) != 18:
        raise InvalidIdentifier("must be 18 characters")
    if not _RESIDENT_SHAPE.fullmatch(number):
        raise InvalidIdentifier("must be 17 digits followed by a digit or X")
    return _shaped_resident_id(number, today)


def _shaped_resident_id(number: str, today: date | None) -> str:
    """``_resident_id`` of a value already of its shape (17 digits, then a digit or X)."""
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidIdentifier(CHECK_WRONG)
    birth = _birth_date(number)
    if birth is None:
        raise InvalidIdentifier("birth date is not a real date")
    if birth < MIN_BIRTH_DATE:
        raise InvalidIdentifier("birth date is before 1900")
    if birth > (today or date.today()):
        raise InvalidIdentifier("birth date is in the future")
    if not _area_code_ever_existed(number[:6]):
        raise InvalidIdentifier("area code is unknown")
    return number


def validate_credit_code(value: str) -> str:
    """Return the canonical unified social credit code or raise InvalidIdentifier."""
    return _credit_code(_normalise(value))


def _credit_code(code: str) -> str:
    try:
        return str(uscc.validate(code))
    except InvalidLength:
        raise InvalidIdentifier("must be 18 characters") from None
    except InvalidChecksum:
        raise InvalidIdentifier(CHECK_WRONG) from None
    except ValidationError:
        raise InvalidIdentifier(
            "must be 8 digits followed by 10 digits or capital letters other than I, O, S, V, Z"
        ) from None


def classify_identifier(value: str, *, today: date | None = None) -> tuple[IdentifierKind, str]:
    """Tell a resident identity number from a credit code by shape; return kind and value.

    17 digits then a digit or X is a resident identity number, except that about a quarter of
    credit codes are all digits too: such a value is a credit code if it validates as one and
    could not be a person's (no province prefix, impossible birth date, unknown area code). A
    plausible person's number is never reinterpreted: its typo is reported as the person's.
    """
    text = _normalise(value)
    if len(text) != 18:
        raise InvalidIdentifier("must be 18 characters")
    if _RESIDENT_SHAPE.fullmatch(text):
        try:
            return "person", _shaped_resident_id(text, today)
        except InvalidIdentifier as person_error:
            if _plausible_person(text, today):
                raise
            try:
                return "organisation", _credit_code(text)
            except InvalidIdentifier:
                if not _is_province_prefix(text):
                    raise
                raise person_error from None
    if not _ALNUM_18.fullmatch(text):
        raise InvalidIdentifier("must contain only digits and capital letters")
    return "organisation", _credit_code(text)


def _plausible_person(number: str, today: date | None) -> bool:
    """Area code and birth date could be a person's, whatever the check character."""
    birth = _birth_date(number)
    if birth is None:
        return False
    if not MIN_BIRTH_DATE <= birth <= (today or date.today()):
        return False
    return _area_code_ever_existed(number[:6])


@dataclass(frozen=True, slots=True)
class CaseNumber:
    """An enforcement case number such as （2022）吉03执123号."""

    year: int
    province: str
    court_code: str
    case_type: str
    number: int

    @property
    def canonical(self) -> str:
        return f"（{self.year}）{self.province}{self.court_code}{self.case_type}{self.number}号"

    def __str__(self) -> str:
        return self.canonical


_CASE_HEAD = re.compile(r"[(（]([0-9]*)([)）]?)")
# province, court code, case type, serial number, rest: every group may be empty
_CASE_TAIL = re.compile(r"([^0-9]?)([0-9]*)([^0-9号]*)([0-9]*)(.*)", re.DOTALL)
_TYPE_LIST = "、".join(sorted(CASE_TYPES, key=lambda t: (len(t), t)))


def parse_case_number(value: object, *, today: date | None = None) -> CaseNumber:
    """Parse an enforcement case number or raise InvalidCaseNumber with a specific problem.

    Full-width or ASCII brackets, surrounding whitespace allowed. Year 1990..next year; court
    code 2 to 4 digits (higher people's courts, which have none, are out of scope here).
    """
    if not isinstance(value, str):
        raise InvalidCaseNumber("must be text")
    text = unicodedata.normalize("NFKC", value).strip()  # full-width digits and brackets
    if not text:
        raise InvalidCaseNumber("case number is empty")
    head = _CASE_HEAD.match(text)
    if head is None:
        if text[:4].isascii() and text[:4].isdigit():
            raise InvalidCaseNumber("year must be in brackets")
        raise InvalidCaseNumber("brackets and year are missing")
    year_text, close = head.groups()
    if len(year_text) != 4:
        raise InvalidCaseNumber("year must be 4 digits")
    if not close:
        raise InvalidCaseNumber("closing bracket after the year is missing")
    year = int(year_text)
    if not MIN_CASE_YEAR <= year <= (today or date.today()).year + 1:
        raise InvalidCaseNumber("year is out of range")
    tail = _CASE_TAIL.fullmatch(text, head.end())
    assert tail is not None  # every group is optional
    province, court_code, case_type, serial, rest = tail.groups()
    if not province:
        raise InvalidCaseNumber("province abbreviation is missing")
    if province not in PROVINCES:
        raise InvalidCaseNumber("unknown province abbreviation")
    if not 2 <= len(court_code) <= 4:
        raise InvalidCaseNumber("court code must be 2 to 4 digits")
    if not case_type:
        raise InvalidCaseNumber("case type is missing")
    if case_type not in CASE_TYPES:
        # Named, never echoed: what stands there may be a person's name typed in the wrong
        # field, and the problem goes into the audit log, which keeps it for good.
        if not case_type.startswith("执"):
            raise InvalidCaseNumber(f"case type is not an enforcement case type ({_TYPE_LIST})")
        raise InvalidCaseNumber(f"unknown case type (one of {_TYPE_LIST})")
    if not serial:
        raise InvalidCaseNumber("serial number is missing")
    if serial.startswith("0"):
        raise InvalidCaseNumber("serial number must be a positive integer without leading zeros")
    if len(serial) > MAX_SERIAL_DIGITS:
        raise InvalidCaseNumber("serial number is too long")
    if rest != "号":
        if rest.startswith("号"):
            raise InvalidCaseNumber("unexpected text after 号")
        raise InvalidCaseNumber("must end with 号")
    return CaseNumber(year, province, court_code, case_type, int(serial))


def mask_id(value: str) -> str:
    """Mask an identifier for logs: first 6 and last character kept, "220302***********X".

    Values shorter than 15 characters are masked entirely (keeping 7 would reveal too much).
    """
    text = value.strip()
    if len(text) < 15:
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 7) + text[-1]


def mask_name(value: str) -> str:
    """Mask a personal name for logs: first character kept, "张**". A 1-character name is "*"."""
    text = value.strip()
    if len(text) <= 1:
        return "*" * len(text)
    return text[0] + "*" * (len(text) - 1)
