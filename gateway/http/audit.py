"""The auditor's HTTP API: search the audit log, export its head, verify its chain.

Only the ``auditor`` role (inspection office) may call these. Audit records hold no personal
data (subjects appear only as keyed digests, which are never returned); a subject is searched
for by its resident ID or credit code, which is validated, turned into its digest here and
never echoed.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway.accountability import audit
from gateway.core.errors import BadRequest, ValidationFailed
from gateway.http import cursors
from gateway.http.inputs import json_response, query_model
from gateway.http.keys import CIPHER, POOL
from gateway.http.models.audit import AuditHead, AuditPage, AuditQuery, AuditVerification
from gateway.http.openapi import operation
from gateway.http.roles import roles
from gateway.store import db
from gateway.store.db import Record

DEFAULT_PAGE = 100
_CURSOR_PREFIX = "seq:"
_PARAMETERS = "invalid, unknown or repeated query parameters"


class NoQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerifyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expect_head: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,19}:[0-9a-fA-F]{64}$",
        description="a previously exported head, SEQ:HASH",
    )


def _problem(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed([{"row": None, "field": field, "problem": problem}])


def _item(r: Record) -> dict[str, Any]:
    return {
        "seq": r["seq"],
        "id": r["id"],
        "at": r["at"],
        "action": r["action"],
        "officer": r["officer"],
        "team": r["team"],
        "case_number": r["case_number"],
        "batch_id": r["batch_id"],
        "row": r["row"],
        "agency": r["agency"],
        "outcome": r["outcome"],
        "detail": r["detail"],
        "hash": bytes(r["hash"]).hex(),
        "prev_hash": bytes(r["prev_hash"]).hex(),
    }


@roles("auditor")
@operation(
    "Search the audit log, in chain order (keyset-paginated by seq)",
    query=AuditQuery,
    replies={200: (AuditPage, "a page"), 422: _PARAMETERS},
)
async def list_audit(request: web.Request) -> web.Response:
    query = query_model(request, AuditQuery)
    if query.from_ is not None and query.to is not None and query.from_ >= query.to:
        raise _problem("to", "must be later than from")
    try:
        after = cursors.parse(query.cursor, lambda v: cursors.id_of(v, _CURSOR_PREFIX)) or 0
    except BadRequest as exc:  # a bad cursor is a parameter problem here, as the others
        raise _problem("cursor", cursors.BAD_CURSOR) from exc
    # The digest, not the identifier, leaves this function; problems never contain the value.
    subject = query.subject
    where = audit.AuditFilter(
        officer=query.officer,
        team=query.team,
        case_number=query.case,
        subject_digest=request.app[CIPHER].subject_digest(subject.canonical) if subject else None,
        batch_id=query.batch,
        start=query.from_,
        end=query.to,
    )
    limit = query.limit or DEFAULT_PAGE
    rows = await audit.page(request.app[POOL], where, after, limit + 1)
    next_cursor = None
    if len(rows) > limit:
        next_cursor = cursors.of_id(rows[limit - 1]["seq"], _CURSOR_PREFIX)
    page = {"items": [_item(r) for r in rows[:limit]], "next_cursor": next_cursor}
    return json_response(AuditPage.model_validate(page))


@roles("auditor")
@operation(
    "The chain head, for an outside party to hold (export = SEQ:HASH)",
    query=NoQuery,
    replies={200: (AuditHead, "the head"), 422: _PARAMETERS},
)
async def audit_head(request: web.Request) -> web.Response:
    query_model(request, NoQuery)
    async with db.connection(request.app[POOL]) as conn:
        head = await audit.read_head(conn)
    return json_response(AuditHead.model_validate(head.as_json()))


@roles("auditor")
@operation(
    "Walk the hash chain and name the first broken record",
    query=VerifyQuery,
    replies={200: (AuditVerification, "the verdict"), 422: _PARAMETERS},
)
async def audit_verify(request: web.Request) -> web.Response:
    query = query_model(request, VerifyQuery)
    try:
        expect = audit.parse_head(query.expect_head) if query.expect_head else None
    except ValueError as exc:
        raise _problem("expect_head", str(exc)) from None
    async with db.connection(request.app[POOL]) as conn:
        result = await audit.verify(conn, expect=expect)
    return json_response(AuditVerification.model_validate(result.as_json()))
