"""What a claim hands the dispatcher: each row's subject opened, and one requester per batch,
whose headers are encoded at its first request and then reused by every request of every
inquiry of that batch in the claim."""

from __future__ import annotations

import base64
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from connectors.base import Answer, Found, Requester
from gateway.store.crypto import DataCipher, generate_key, subject_context
from gateway.worker.calls import CallResult
from gateway.worker.claims import claimed_from_rows, outcome

CASE = "（2024）吉0102执1号"


def test_the_requester_headers_are_encoded_once_and_are_not_part_of_its_identity() -> None:
    requester = Requester("张三", "执行一庭", CASE, "batch-1")
    headers = requester.headers()
    assert headers is requester.headers()  # encoded once
    assert unquote(headers["X-Requester-Case"]) == CASE
    assert unquote(headers["X-Requester-Officer"]) == "张三"
    assert headers["X-Requester-Case"].isascii()  # HTTP headers are latin-1
    fresh = Requester("张三", "执行一庭", CASE, "batch-1")
    assert fresh == requester and hash(fresh) == hash(requester)
    assert "_headers" not in repr(requester)


def test_a_claim_opens_each_subject_and_shares_one_requester_per_batch() -> None:
    cipher = DataCipher(base64.b64decode(generate_key()), os.urandom(32))
    first, second = uuid.uuid4(), uuid.uuid4()
    people = [(first, 1, "李四"), (first, 2, "王五"), (second, 1, "赵六")]
    rows = [row(cipher, inquiry_id, batch, number, name) for inquiry_id, (batch, number, name) in
            enumerate(people, start=10)]  # fmt: skip

    claimed = claimed_from_rows(rows, "household", cipher)

    assert [c.subject.name for c in claimed] == ["李四", "王五", "赵六"]
    assert [c.subject.id_number for c in claimed] == [f"id-{n}" for _, n, _ in people]
    assert [c.inquiry_id for c in claimed] == [10, 11, 12]
    assert claimed[0].requester is claimed[1].requester
    assert claimed[2].requester is not claimed[0].requester
    assert claimed[2].requester.batch_id == str(second)
    assert claimed[0].requester.items == ("identity",)  # household: the parts asked for
    other = claimed_from_rows(rows[:1], "forestry", cipher)
    assert other[0].requester.items == ()  # only the household registry answers in parts


def row(cipher: DataCipher, inquiry_id: int, batch: uuid.UUID, number: int, name: str) -> Any:
    return {
        "id": inquiry_id,
        "batch_id": batch,
        "row": number,
        "name": cipher.seal_text(name, subject_context(batch, number, "name")),
        "id_number": cipher.seal_text(f"id-{number}", subject_context(batch, number, "id")),
        "kind": "person",
        "officer": "officer",
        "team": "team",
        "case_number": CASE,
        "household_items": ["identity"],
        "attempts": 0,
        "answer_deadline": datetime(2026, 12, 31, tzinfo=UTC),
    }


@dataclass(frozen=True)
class Plot:
    """A record whose value is not what its type says, and cannot be written as JSON."""

    area: float


def test_an_answer_its_schema_cannot_dump_is_recorded_failed_not_lost() -> None:
    box = DataCipher(base64.b64decode(generate_key()), os.urandom(32))
    item = claimed_from_rows([row(box, 5, uuid.uuid4(), 1, "李四")], "forestry", box)[0]
    answers: list[Answer] = [Found(Plot(area=object()))]  # type: ignore[arg-type]  # on purpose
    recorded = outcome("forestry", item, CallResult(answers, None, 1), 0)
    assert (recorded.inquiry_id, recorded.status, recorded.data) == (5, "failed", None)
    assert recorded.error == "forestry: the agency's answer could not be stored"
    good = outcome("forestry", item, CallResult([Found(Plot(area=80.5))], None, 1), 0)
    assert (good.status, good.data) == ("found", {"area": 80.5})
