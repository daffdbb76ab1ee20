"""The auditor's HTTP API: search the audit log, export its head, verify its chain.

Only the ``auditor`` role (inspection office) may call these. Audit records hold no personal
data (subjects appear only as keyed digests, which are never returned); a subject is searched
for by its resident ID or credit code, which is validated, turned into its digest here and
never echoed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web

from gateway.accountability import audit
from gateway.core.errors import ValidationFailed
from gateway.core.identifiers import InvalidCaseNumber, classify_identifier, parse_case_number
from gateway.http.keys import CIPHER, POOL
from gateway.http.openapi import register
from gateway.http.params import MAX_PAGE, checked_time, id_cursor, parse_id_cursor, parse_limit
from gateway.http.roles import roles
from gateway.store import db
from gateway.store.db import Record

DEFAULT_PAGE = 100
MAX_TEXT = 200
_FILTERS = ("officer", "team", "case", "subject", "batch", "from", "to")
_PARAMS = frozenset({*_FILTERS, "cursor", "limit"})
_CURSOR_PREFIX = "seq:"
_NAME = re.compile(r"[a-z_]{1,40}")
T = TypeVar("T")


def _problem(field: str, problem: str) -> dict[str, Any]:
    return {"row": None, "field": field, "problem": problem}


def _text(value: str) -> str:
    if not value.strip() or len(value) > MAX_TEXT or not value.isprintable():
        raise ValueError(f"must be 1 to {MAX_TEXT} printable characters")
    return value


def _case(value: str) -> str:
    try:
        return parse_case_number(value).canonical  # stored canonical, so match canonical
    except InvalidCaseNumber as exc:
        raise ValueError(exc.problem) from None


def _batch(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValueError("must be a batch id (a UUID)") from None


def _time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time, e.g. 2024-05-01T09:00:00+08:00") from None
    if moment.tzinfo is None:
        raise ValueError("must include a UTC offset, e.g. 2024-05-01T09:00:00+08:00")
    # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
    return checked_time(moment).astimezone(UTC)


class _Query:
    """Reads query parameters, collecting every problem before failing (422)."""

    def __init__(self, request: web.Request, allowed: frozenset[str]) -> None:
        self.query = request.query
        # An unknown name is echoed only if it looks like a parameter name: a caller could
        # put a resident ID there.
        self.problems = [
            _problem(name if _NAME.fullmatch(name) else "(unknown)", "is not a parameter here")
            for name in sorted(set(self.query) - allowed)
        ]

    def get(self, name: str, parse: Callable[[str], T]) -> T | None:
        values = self.query.getall(name, [])
        if not values:
            return None
        if len(values) > 1:
            self.problems.append(_problem(name, "must be given at most once"))
            return None
        try:
            return parse(values[0])
        except ValueError as exc:
            self.problems.append(_problem(name, str(exc)))
            return None

    def check(self) -> None:
        if self.problems:
            raise ValidationFailed(self.problems)


def _item(r: Record) -> dict[str, Any]:
    return {
        "seq": r["seq"],
        "id": r["id"],
        "at": r["at"].isoformat(),
        "action": r["action"],
        "officer": r["officer"],
        "team": r["team"],
        "case_number": r["case_number"],
        "batch_id": str(r["batch_id"]) if r["batch_id"] else None,
        "row": r["row"],
        "agency": r["agency"],
        "outcome": r["outcome"],
        "detail": r["detail"],
        "hash": bytes(r["hash"]).hex(),
        "prev_hash": bytes(r["prev_hash"]).hex(),
    }


@roles("auditor")
async def list_audit(request: web.Request) -> web.Response:
    query = _Query(request, _PARAMS)
    # The digest, not the identifier, leaves this function; problems never contain the value.
    identifier = query.get("subject", lambda v: classify_identifier(v)[1])
    where = audit.AuditFilter(
        officer=query.get("officer", _text),
        team=query.get("team", _text),
        case_number=query.get("case", _case),
        subject_digest=request.app[CIPHER].subject_digest(identifier) if identifier else None,
        batch_id=query.get("batch", _batch),
        start=query.get("from", _time),
        end=query.get("to", _time),
    )
    after = query.get("cursor", lambda v: parse_id_cursor(v, _CURSOR_PREFIX)) or 0
    limit = query.get("limit", parse_limit) or DEFAULT_PAGE
    if where.start and where.end and where.start >= where.end:
        query.problems.append(_problem("to", "must be later than from"))
    query.check()
    rows = await audit.page(request.app[POOL], where, after, limit + 1)
    next_cursor = id_cursor(rows[limit - 1]["seq"], _CURSOR_PREFIX) if len(rows) > limit else None
    return web.json_response(
        {"items": [_item(r) for r in rows[:limit]], "next_cursor": next_cursor}
    )


@roles("auditor")
async def audit_head(request: web.Request) -> web.Response:
    _Query(request, frozenset()).check()
    async with db.connection(request.app[POOL]) as conn:
        head = await audit.read_head(conn)
    return web.json_response(head.as_json())


@roles("auditor")
async def audit_verify(request: web.Request) -> web.Response:
    query = _Query(request, frozenset({"expect_head"}))
    expect = query.get("expect_head", audit.parse_head)
    query.check()
    async with db.connection(request.app[POOL]) as conn:
        result = await audit.verify(conn, expect=expect)
    return web.json_response(result.as_json())


def _ref(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _ref("Error")}


def _param(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": "string", **schema},
    }


_NULLABLE_TEXT = {"type": ["string", "null"]}
_HEX = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_ERRORS = {
    "401": _error("no valid token"),
    "403": _error("role not allowed"),
    "422": _error("invalid or unknown query parameters"),
}

register(
    {
        ("GET", "/v1/audit"): {
            "summary": "Search the audit log, in chain order (keyset-paginated by seq)",
            "parameters": [
                _param("officer", "officer name (login)"),
                _param("team", "team name"),
                _param("case", "enforcement case number, e.g. （2022）吉03执123号"),
                _param("subject", "resident ID or credit code; matched by keyed digest"),
                _param("batch", "batch id", format="uuid"),
                _param("from", "records at or after this time", format="date-time"),
                _param("to", "records before this time", format="date-time"),
                _param("cursor", "next_cursor of the previous page"),
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                },
            ],
            "responses": {
                "200": {"description": "a page", "content": _ref("AuditPage")},
                **_ERRORS,
            },
        },
        ("GET", "/v1/audit/head"): {
            "summary": "The chain head, for an outside party to hold (export = SEQ:HASH)",
            "responses": {
                "200": {"description": "the head", "content": _ref("AuditHead")},
                **_ERRORS,
            },
        },
        ("GET", "/v1/audit/verify"): {
            "summary": "Walk the hash chain and name the first broken record",
            "parameters": [_param("expect_head", "a previously exported head, SEQ:HASH")],
            "responses": {
                "200": {"description": "the verdict", "content": _ref("AuditVerification")},
                **_ERRORS,
            },
        },
    },
    {
        "AuditRecord": {
            "type": "object",
            "required": ["seq", "at", "action", "hash", "prev_hash"],
            "properties": {
                "seq": {"type": "integer", "minimum": 1},
                "id": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "action": {"type": "string"},
                "officer": _NULLABLE_TEXT,
                "team": _NULLABLE_TEXT,
                "case_number": _NULLABLE_TEXT,
                "batch_id": {"type": ["string", "null"], "format": "uuid"},
                "row": {"type": ["integer", "null"]},
                "agency": _NULLABLE_TEXT,
                "outcome": _NULLABLE_TEXT,
                "detail": {"description": "JSON detail of the event, or null"},
                "hash": _HEX,
                "prev_hash": _HEX,
            },
        },
        "AuditPage": {
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/AuditRecord"}},
                "next_cursor": {"type": ["string", "null"]},
            },
        },
        "AuditHead": {
            "type": "object",
            "required": ["seq", "hash", "at", "export"],
            "properties": {
                "seq": {"type": "integer", "minimum": 0},
                "hash": _HEX,
                "at": {"type": "string", "format": "date-time"},
                "export": {"type": "string", "pattern": "^[0-9]+:[0-9a-f]{64}$"},
            },
        },
        "AuditVerification": {
            "type": "object",
            "required": ["ok", "checked", "head", "first_broken"],
            "properties": {
                "ok": {"type": "boolean"},
                "checked": {"type": "integer", "minimum": 0},
                "head": {"$ref": "#/components/schemas/AuditHead"},
                "first_broken": {
                    "type": ["object", "null"],
                    "required": ["seq", "id", "reason", "message"],
                    "properties": {
                        "seq": {"type": ["integer", "null"]},
                        "id": {"type": ["integer", "null"]},
                        "reason": {
                            "type": "string",
                            "enum": [
                                "altered",
                                "link_broken",
                                "missing",
                                "out_of_order",
                                "head_mismatch",
                                "rewritten",
                            ],
                        },
                        "message": {"type": "string"},
                    },
                },
            },
        },
    },
)
