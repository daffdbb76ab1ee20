"""A batch submission checked without a server: the typed model, the problems it words
(row, field, problem; never the value), repeated identifiers, the size limit."""

from __future__ import annotations

from typing import Any

import pytest
from stdnum.cn import ric

from gateway.core.errors import PayloadTooLarge, ValidationFailed
from gateway.http.intake import parse_submission

CASE = "(2022)吉03执123号"


def resident_id(seq: int, area: str = "220302", birth: str = "19650412") -> str:
    body = f"{area}{birth}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def body(*subjects: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"case_number": CASE, "reason": "财产调查", "subjects": list(subjects), **fields}


def problems(value: Any, max_subjects: int = 100) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        parse_submission(value, max_subjects=max_subjects)
    return [(p["row"], p["field"], p["problem"]) for p in caught.value.problems]


def test_a_good_submission_is_canonical() -> None:
    request = parse_submission(
        body(
            {"name": " 张三 ", "id_number": " " + resident_id(1).lower() + " "},
            agencies=["vehicle", "household", "vehicle"],
        ),
        max_subjects=10,
    )
    assert request.case_number == "（2022）吉03执123号"  # full-width brackets
    assert request.agencies == ("household", "vehicle")  # the registry's order, once each
    subject = request.subjects[0]
    assert (subject.name, subject.id_number, subject.kind) == ("张三", resident_id(1), "person")


def test_every_problem_is_listed_with_its_row_and_field() -> None:
    found = problems(
        body(
            {"name": "甲", "id_number": resident_id(1)},
            {"name": "乙", "id_number": "123"},
            "not an object",
            {"name": "丙", "id_number": resident_id(1)},
            {"name": "丁", "id_number": resident_id(4), "phone": "1"},
            agencies=["bank"],
            priority=1,
        )
    )
    assert set(found) == {
        (1, "id_number", "must be 18 characters"),
        (2, "(row)", "must be an object"),
        (3, "name", "has the identifier of row 0 under another name"),
        (4, "phone", "is not a known field"),
        (None, "agencies", next(p for r, f, p in found if f == "agencies")),
        (None, "priority", "is not a known field"),
    }
    agencies = next(p for _, f, p in found if f == "agencies")
    assert agencies.startswith("unknown agency; known: household,") and "bank" not in agencies


def test_a_problem_never_repeats_the_value() -> None:
    bad = resident_id(1)[:-1] + ("0" if resident_id(1)[-1] != "0" else "1")
    found = problems(body({"name": "张三", "id_number": bad}))
    assert found == [(0, "id_number", "check character is wrong")]
    assert not any(bad[:17] in p for _, _, p in found)


def test_a_key_that_could_be_personal_data_is_not_named() -> None:
    found = problems(body({"name": "张三", "id_number": resident_id(1)}, **{resident_id(2): 1}))
    assert found == [(None, "(unknown)", "is not a known field")]


@pytest.mark.parametrize("value", [[], "text", 42, None])
def test_a_body_that_is_not_an_object(value: Any) -> None:
    assert problems(value) == [(None, "(body)", "must be a JSON object")]


def test_more_subjects_than_allowed_is_413_before_any_row_is_checked() -> None:
    rows = [{"name": "x", "id_number": "bad"} for _ in range(4)]
    with pytest.raises(PayloadTooLarge) as caught:
        parse_submission(body(*rows), max_subjects=3)
    assert caught.value.details == {"field": "subjects", "limit": 3}


def test_an_organisation_is_told_from_a_person() -> None:
    request = parse_submission(
        body({"name": "四平某公司", "id_number": "91220300MA0Y5X5A81"}), max_subjects=1
    )
    assert request.subjects[0].kind == "organisation"


def test_household_items_are_canonical_and_in_the_digest_only_when_not_both() -> None:
    from gateway.accountability.admission import request_digest

    person = {"name": "张三", "id_number": resident_id(1)}
    default = parse_submission(body(person), max_subjects=10)
    both = parse_submission(body(person, household_items=["photo", "identity"]), max_subjects=10)
    photo = parse_submission(body(person, household_items=["photo", "photo"]), max_subjects=10)
    assert default.household_items == both.household_items == ("identity", "photo")
    assert photo.household_items == ("photo",)
    # A batch without the field (or with both, the same request) keeps the digest it had
    # before the field existed: the canonical form has no household_items then.
    assert "household_items" not in default.canonical()
    assert request_digest(default) == request_digest(both) != request_digest(photo)
    assert photo.canonical()["household_items"] == ["photo"]
    assert problems(body(person, household_items=["address"])) == [
        (None, "household_items", "must be one of identity, photo")
    ]
    assert problems(body(person, household_items=[]))[0][:2] == (None, "household_items")


def test_a_row_repeating_an_earlier_one_is_merged_into_it() -> None:
    request = parse_submission(
        body(
            {"name": "张三", "id_number": resident_id(1)},
            {"name": "李四", "id_number": resident_id(2)},
            # the same person again, written as lists write: spaces, full width, lower-case x
            {"name": " 张　三 ", "id_number": " " + resident_id(1).lower() + " "},
            {"name": "李 四", "id_number": resident_id(2)},
        ),
        max_subjects=10,
    )
    assert [(s.name, s.id_number) for s in request.subjects] == [
        ("张三", resident_id(1)),
        ("李四", resident_id(2)),
    ]
    assert request.merged_rows == 2
