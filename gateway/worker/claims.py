"""What a claim hands the dispatcher, and what the dispatcher hands the writer.

A claimed row becomes a ``Claimed``: the subject opened (names and resident IDs are stored
sealed), and the lawful basis every request carries (``Requester``). The inquiries of one
batch in one claim share one requester, so its headers are encoded once for all of them.
An agency's answer for one of them becomes the writer's ``Outcome``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from connectors.base import Requester, Subject
from gateway.store.crypto import DataCipher, subject_context
from gateway.store.db import Record
from gateway.worker.calls import CallResult
from gateway.worker.writer import Outcome, not_storable

log = structlog.get_logger("gateway.dispatcher")


@dataclass(frozen=True, slots=True)
class Claimed:
    inquiry_id: int
    batch_id: str
    subject: Subject
    requester: Requester
    prior_attempts: int
    answer_deadline: datetime


def claimed_from_rows(rows: Sequence[Record], agency: str, cipher: DataCipher) -> list[Claimed]:
    """The claimed inquiries of ``claim_inquiries`` rows, in their order."""
    requesters: dict[str, Requester] = {}
    for row in rows:
        batch_id = str(row["batch_id"])
        if batch_id not in requesters:
            # Only the household registry answers in parts: what the officer chose.
            items = tuple(row["household_items"]) if agency == "household" else ()
            requesters[batch_id] = Requester(
                row["officer"], row["team"], row["case_number"], batch_id, items
            )
    open_text = cipher.open_text
    claimed: list[Claimed] = []
    for row in rows:
        batch_id = str(row["batch_id"])
        name = open_text(row["name"], subject_context(row["batch_id"], row["row"], "name"))
        number = open_text(row["id_number"], subject_context(row["batch_id"], row["row"], "id"))
        claimed.append(
            Claimed(
                inquiry_id=row["id"],
                batch_id=batch_id,
                subject=Subject(name, number, row["kind"]),
                requester=requesters[batch_id],
                prior_attempts=row["attempts"],
                answer_deadline=row["answer_deadline"],
            )
        )
    return claimed


def outcome(agency: str, item: Claimed, result: CallResult, index: int) -> Outcome:
    """What is recorded for ``item``, the ``index``-th subject of a call's ``result``."""
    attempts = item.prior_attempts + result.attempts
    if result.answers is None:
        return Outcome(item.inquiry_id, agency, "failed", None, result.error, attempts)
    try:
        data = result.answers[index].to_json()
    except Exception as exc:  # a record its own schema cannot dump: a connector's bug
        log.error("answer_not_storable", agency=agency, error=type(exc).__name__)
        return not_storable(item.inquiry_id, agency, attempts)
    status = "not_found" if data is None else "found"
    return Outcome(item.inquiry_id, agency, status, data, None, attempts)
