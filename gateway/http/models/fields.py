"""Field types shared by the API models: checked text, identifiers, case numbers.

Each type validates with the gateway's own checks (``gateway.core``) and documents itself in
the JSON schema with a pattern and length, so a request generated from the OpenAPI document
is one the server accepts. The documented patterns are deliberately narrower than what the
server takes (it also accepts full-width digits, spaces inside identifiers, lower-case x).
A problem never repeats the value.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal
from typing import Annotated, Any, NamedTuple

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from connectors.household import ITEMS as HOUSEHOLD_ITEMS
from connectors.registry import AGENCIES
from gateway.core.identifiers import (
    CASE_TYPES,
    PROVINCES,
    IdentifierKind,
    InvalidCaseNumber,
    InvalidIdentifier,
    classify_identifier,
    parse_case_number,
)
from gateway.core.jsonvalues import as_object
from gateway.core.text import NOT_ALLOWED, has_disallowed_characters, normalise_name

#: the error type of every problem the gateway words itself (its message is the problem)
PROBLEM = "gateway"

MAX_NAME_LENGTH = 100
MAX_TEXT_LENGTH = 2000
#: characters the documented text patterns allow: CJK, Latin letters, digits, common
#: punctuation; the server accepts any printable text
_WORD = "0-9A-Za-z\u4e00-\u9fff"
_PUNCTUATION = "·.,:;!?()\\-（）《》，。、：；！？“”"


def problem(text: str) -> PydanticCustomError:
    """A problem worded by the gateway (its template has no placeholders to fill)."""
    return PydanticCustomError(PROBLEM, "{problem}", {"problem": text})


def text_pattern(max_length: int) -> str:
    """A documented pattern: starts with a word character, at most ``max_length`` long."""
    return f"^[{_WORD}][{_WORD}{_PUNCTUATION} ]{{0,{max_length - 1}}}$"


def required_text(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise problem("is required")
    if not isinstance(value, str):
        raise problem("must be a string")
    return value


def _checked_text(max_length: int, *, name: bool = False) -> AfterValidator:
    def check(value: str) -> str:
        if name:
            # Refused before normalising: NFKC and the white-space rules would quietly drop
            # a control character (a NEL is white space to Python) that must be named.
            if has_disallowed_characters(value.strip()):
                raise problem(NOT_ALLOWED)
            value = normalise_name(value)
        else:
            value = value.strip()
        if len(value) > max_length:
            raise problem(f"must be at most {max_length} characters")
        if has_disallowed_characters(value):  # control/format characters, lone surrogates
            raise problem(NOT_ALLOWED)
        return value

    return AfterValidator(check)


_NAME_CHECK = _checked_text(MAX_NAME_LENGTH, name=True)


def checked_name(value: Any) -> str:
    """A name as ``Name`` validates it (PydanticCustomError naming the problem)."""
    return _NAME_CHECK.func(required_text(value))  # type: ignore[call-arg]


def _text_schema(max_length: int, description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": max_length,
            "pattern": text_pattern(max_length),
            "description": description,
        },
        mode="validation",
    )


#: required text: stripped, at most so many characters, printable
Name = Annotated[
    str,
    BeforeValidator(required_text),
    _NAME_CHECK,
    _text_schema(MAX_NAME_LENGTH, "a person's or organisation's name"),
]
Reason = Annotated[
    str,
    BeforeValidator(required_text),
    _checked_text(MAX_TEXT_LENGTH),
    _text_schema(MAX_TEXT_LENGTH, "why: the lawful basis, in the officer's words"),
]
Note = Annotated[
    str,
    BeforeValidator(required_text),
    _checked_text(MAX_TEXT_LENGTH),
    _text_schema(MAX_TEXT_LENGTH, "a note for the record"),
]


# ---------------------------------------------------------------- identifiers


class Identifier(NamedTuple):
    kind: IdentifierKind
    canonical: str


def checked_identifier(value: Any, today: date | None = None) -> Identifier:
    """An identifier as ``IdNumber`` validates it (PydanticCustomError naming the problem);
    ``today`` bounds birth dates (default: the current date)."""
    if isinstance(value, Identifier):
        return value
    try:
        kind, canonical = classify_identifier(required_text(value), today=today)
    except InvalidIdentifier as exc:
        raise problem(exc.problem) from None
    return Identifier(kind, canonical)


#: a resident ID (GB 11643) or, for organisations, a unified social credit code (GB 32100)
RESIDENT_ID_PATTERN = (
    "^[1-8][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9])[0-9]{3}[0-9X]$"
)
CREDIT_CODE_PATTERN = "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
IdNumber = Annotated[
    Identifier,
    PlainValidator(lambda value: checked_identifier(value)),
    WithJsonSchema(
        {
            "type": "string",
            "format": "gb11643-or-gb32100",
            "minLength": 18,
            "maxLength": 18,
            "pattern": f"{RESIDENT_ID_PATTERN}|{CREDIT_CODE_PATTERN}",
            "description": "18-character resident identity number (GB 11643, valid check "
            "character and birth date, an area code that has ever existed) or unified social "
            "credit code (GB 32100)",
        },
        mode="validation",
    ),
]


# ---------------------------------------------------------------- case numbers


def _case_number(value: str) -> str:
    try:
        return parse_case_number(value).canonical
    except InvalidCaseNumber as exc:
        raise problem(exc.problem) from None


def _required_case(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise problem("is required (e.g. （2022）吉03执123号)")
    return required_text(value)


def case_number_pattern(today: date | None = None) -> str:
    """Years 1990 to this year, a province, a court code, an enforcement case type."""
    year = (today or date.today()).year
    decade, last = divmod(year % 100, 10)
    recent = f"20[0-{decade - 1}][0-9]|20{decade}[0-{last}]" if decade else f"200[0-{last}]"
    provinces = "".join(sorted(PROVINCES))
    types = "|".join(sorted(CASE_TYPES, key=lambda t: (-len(t), t)))
    return f"^[（(](199[0-9]|{recent})[）)][{provinces}][0-9]{{2,4}}({types})[1-9][0-9]{{0,8}}号$"


CaseNumberField = Annotated[
    str,
    BeforeValidator(_required_case),
    AfterValidator(_case_number),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": case_number_pattern(),
            "examples": ["（2022）吉03执123号"],
            "description": "enforcement case number; stored in canonical full-width form",
        },
        mode="validation",
    ),
]


# ---------------------------------------------------------------- agencies


def _agency(value: Any) -> str:
    if isinstance(value, str) and has_disallowed_characters(value):
        raise problem(NOT_ALLOWED)
    if not isinstance(value, str) or value not in AGENCIES:
        # not echoed: what was typed there may be anything, a person's name included
        raise problem(f"unknown agency; known: {', '.join(AGENCIES)}")
    return value


AgencyName = Annotated[
    str,
    BeforeValidator(_agency),
    WithJsonSchema({"type": "string", "enum": list(AGENCIES)}),
]


def _household_item(value: Any) -> str:
    if not isinstance(value, str) or value not in HOUSEHOLD_ITEMS:
        raise problem(f"must be one of {', '.join(HOUSEHOLD_ITEMS)}")
    return value


#: a part of the household registry's answer: "identity" (身份信息) or "photo" (电子头像)
HouseholdItem = Annotated[
    str,
    BeforeValidator(_household_item),
    WithJsonSchema({"type": "string", "enum": list(HOUSEHOLD_ITEMS)}),
]


# ---------------------------------------------------------------- numbers


def _not_a_truth_value(value: Any) -> Any:
    # JSON's true is Python's 1, and a form's "3" must still read as 3: refuse only the bool.
    if isinstance(value, bool):
        raise problem("must be a whole number, not true or false")
    return value


#: an integer from JSON, or from a form's text; never true or false
WholeNumber = Annotated[int, BeforeValidator(_not_a_truth_value)]


# ---------------------------------------------------------------- query parameters

MAX_PAGE = 500
#: years a time in a query may have (in UTC): PostgreSQL holds them all, and they are
#: sensible for this system
MIN_YEAR, MAX_YEAR = 1990, 9000


def _limit(value: Any) -> int:
    # isascii: "²".isdigit() is true, but int("²") fails; len: int() of 5,000 digits fails.
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 3:
        number = int(value)
    else:
        raise problem(f"must be 1 to {MAX_PAGE}")
    if not 1 <= number <= MAX_PAGE:
        raise problem(f"must be 1 to {MAX_PAGE}")
    return number


#: a page size
Limit = Annotated[
    int,
    PlainValidator(_limit),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, mode="validation"),
]


def _query_text(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 200 or not value.isprintable():
        raise problem("must be 1 to 200 printable characters")
    return value


#: a name to filter by (team, officer)
QueryText = Annotated[
    str,
    PlainValidator(_query_text),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": 200, "pattern": text_pattern(200)},
        mode="validation",
    ),
]

#: an opaque cursor: the ``next_cursor`` of the previous page
Cursor = Annotated[
    str,
    WithJsonSchema(
        {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,400}$", "description": "next_cursor"},
        mode="validation",
    ),
]


def checked_time(moment: datetime) -> datetime:
    """A time with an offset whose year in UTC is MIN_YEAR..MAX_YEAR; ValueError otherwise."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("has no UTC offset")
    try:
        year = moment.astimezone(UTC).year
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is after year 9999 in UTC
        raise ValueError("is out of range") from None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError("is out of range")
    return moment


def _local_time(value: Any, info: ValidationInfo) -> datetime:
    """An ISO 8601 date or time; a date or a time without offset is local (the context's
    ``tz``, GATEWAY_TIMEZONE)."""
    zone = (as_object(info.context) or {}).get("tz")
    tz: tzinfo = zone if isinstance(zone, tzinfo) else UTC
    try:
        if not isinstance(value, str):
            raise ValueError("not text")
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), time(), tz)
        else:
            moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return checked_time(moment)
    except (ValueError, OverflowError):
        raise problem("must be an ISO 8601 date or time, e.g. 2026-03-01") from None


LocalTime = Annotated[
    datetime,
    PlainValidator(_local_time),
    WithJsonSchema(
        {"type": "string", "format": "date", "description": "a day (local) or a date-time"},
        mode="validation",
    ),
]


def _batch_uuid(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(value) if isinstance(value, str) else uuid.UUID(str(value))
    except ValueError:
        raise problem("must be a batch id (a UUID)") from None


BatchId = Annotated[
    uuid.UUID,
    PlainValidator(_batch_uuid),
    WithJsonSchema({"type": "string", "format": "uuid"}, mode="validation"),
]

#: yuan, to the fen: a JSON number or a decimal string ("12345.60")
Amount = Annotated[
    Decimal,
    Field(gt=0, max_digits=16, decimal_places=2, allow_inf_nan=False),
]
