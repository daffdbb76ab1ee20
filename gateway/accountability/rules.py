"""Violation interception (违规操作自动拦截): the rules a batch must pass to be stored.

``check_request`` runs before anything of the submission is stored; ``check_subjects`` once
its subjects are (it needs their digests, taken while they are stored), before the batch is:
a list refused for asking again has paid for storing its subjects, which the refusal rolls
back with the rest.

Each rule has a reason code, a setting that tunes or switches it off, and a plain explanation
that names no person. An intercepted submission stores nothing; ``gateway.accountability.admission``
audits and counts the interception after the submission's transaction has rolled back.

================================  ==================================  =========================
reason code                       rule                                setting (0/false = off)
================================  ==================================  =========================
``case_not_filed``                the case is not registered as filed GATEWAY_REQUIRE_FILED_CASE
``case_other_team``               the case is another team's          GATEWAY_REQUIRE_FILED_CASE
``daily_quota_exceeded``          officer's subjects today > quota    GATEWAY_QUOTA_SUBJECTS_PER_DAY
``requery_without_reason``        same team, same subject within N    GATEWAY_REQUERY_DAYS
                                  days, and no ``requery_reason``
================================  ==================================  =========================

Not an interception but a hold: a case whose distinct subjects (this batch plus the case's
earlier batches) exceed ``GATEWAY_APPROVAL_THRESHOLD`` starts in ``pending_approval`` until a
commander approves or rejects it. A malformed case number never gets here: validation
answers 422.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from gateway.accountability.auth import Caller
from gateway.core.errors import Forbidden
from gateway.core.settings import Settings
from gateway.core.validation import BatchRequest
from gateway.store import rules as store
from gateway.store.db import Connection

CASE_NOT_FILED = "case_not_filed"
CASE_OTHER_TEAM = "case_other_team"
DAILY_QUOTA_EXCEEDED = "daily_quota_exceeded"
REQUERY_WITHOUT_REASON = "requery_without_reason"
#: a malformed case number is refused by validation (422, issue 2) but is a violation too:
#: audited and counted under this reason like the others
CASE_MALFORMED = "case_malformed"
REASONS = (
    CASE_MALFORMED,
    CASE_NOT_FILED,
    CASE_OTHER_TEAM,
    DAILY_QUOTA_EXCEEDED,
    REQUERY_WITHOUT_REASON,
)

#: rows listed in a re-query interception: enough to fix a spreadsheet, small enough to read
MAX_ROWS_LISTED = 100


class Intercepted(Forbidden):
    """A rule refused the submission; nothing was stored."""

    code = "intercepted"

    def __init__(self, reason: str, message: str, **details: Any) -> None:
        super().__init__(message, reason=reason, **details)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Admission:
    """What the checks learned, handed on to ``admission._after_admission`` in the same
    transaction."""

    status: str
    now: datetime
    day: date
    requeried_rows: tuple[int, ...]
    case_subjects: int


async def check_request(
    conn: Connection, settings: Settings, caller: Caller, request: BatchRequest, day: date
) -> None:
    """The rules of the request itself (a filed case of the team, the day's quota), in the
    submission transaction before its subjects are stored; raise ``Intercepted``."""
    if settings.require_filed_case:
        await _filed_case(conn, caller, request.case_number)
    if settings.quota_subjects_per_day > 0:
        count = len(request.subjects)
        await _quota(conn, settings.quota_subjects_per_day, caller, day, count)


async def check_subjects(
    conn: Connection,
    settings: Settings,
    digests: list[bytes],
    caller: Caller,
    request: BatchRequest,
    now: datetime,
    day: date,
) -> Admission:
    """The rules of the subjects (asked again within the window, how many the case holds),
    after ``check_request``; raise ``Intercepted`` or admit. ``digests``: each subject's
    keyed digest (``DataCipher.subject_digests``). Run once the batch's subjects are stored,
    before the batch is: the queries read only subjects of stored batches, so the batch's
    own are not counted."""
    assert caller.team_id is not None
    requeried: tuple[int, ...] = ()
    if settings.requery_days > 0:
        since = now - timedelta(days=settings.requery_days)
        # positions among the subjects, named as the list's own rows
        rows = request.row_numbers()
        positions = await store.requeried_rows(conn, digests, caller.team_id, since)
        requeried = tuple(rows[k] for k in positions)
        if requeried and request.requery_reason is None:
            raise Intercepted(
                REQUERY_WITHOUT_REASON,
                f"{len(requeried)} subject(s) were already queried by your team in the last "
                f"{settings.requery_days} days; state why in requery_reason to ask again",
                rows=list(requeried[:MAX_ROWS_LISTED]),
                count=len(requeried),
            )
    status, case_subjects = "queued", 0
    if settings.approval_threshold > 0:
        case_subjects = await store.case_subject_count(conn, request.case_number, digests)
        if case_subjects > settings.approval_threshold:
            status = "pending_approval"
    return Admission(status, now, day, requeried, case_subjects)


async def _filed_case(conn: Connection, caller: Caller, case_number: str) -> None:
    case = await store.find_case(conn, case_number)
    if case is None:
        raise Intercepted(
            CASE_NOT_FILED,
            "the case is not registered as filed; only filed cases may be queried "
            "(ask the technology office to register it for your team)",
        )
    if case["team_id"] != caller.team_id:
        # Naming the other team is fine: it tells the officer whom to talk to, and no person.
        raise Intercepted(
            CASE_OTHER_TEAM,
            f"the case is assigned to team {case['team']}; only the team handling a case may "
            "query for it",
            team=case["team"],
        )


async def _quota(conn: Connection, quota: int, caller: Caller, day: date, count: int) -> None:
    used = await store.officer_day_subjects(conn, caller.officer_id, day)
    if used + count > quota:
        raise Intercepted(
            DAILY_QUOTA_EXCEEDED,
            f"this batch of {count} subject(s) would exceed your daily quota of {quota} "
            f"({used} already submitted today)",
            quota=quota,
            used=used,
            requested=count,
        )
