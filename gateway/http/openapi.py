"""The OpenAPI 3.1 document, built from the live router so it cannot drift from it.

Operations are described here; which roles may call each is read from the handler's
``@roles`` declaration and published as ``x-roles``. A test checks every route is
described, every described path exists, and real responses validate against these schemas.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from connectors.registry import AGENCIES
from gateway.http.roles import allowed_roles

_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "required": ["row", "field", "problem"],
        "properties": {
            "row": {"type": ["integer", "null"], "description": "0-based index in subjects"},
            "field": {"type": "string"},
            "problem": {"type": "string"},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "problems": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/Problem"},
                    },
                },
            }
        },
    },
    "BatchSubmission": {
        "type": "object",
        "additionalProperties": False,
        "required": ["case_number", "reason", "subjects"],
        "properties": {
            "case_number": {"type": "string", "examples": ["（2022）吉03执123号"]},
            "reason": {"type": "string", "maxLength": 2000},
            "requery_reason": {
                "type": ["string", "null"],
                "maxLength": 2000,
                "description": "required when a subject was already queried by the team within "
                "GATEWAY_REQUERY_DAYS; otherwise the batch is intercepted",
            },
            "agencies": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "enum": list(AGENCIES)},
                "description": "default: all agencies",
            },
            "subjects": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "id_number"],
                    "properties": {
                        "name": {"type": "string", "maxLength": 100},
                        "id_number": {
                            "type": "string",
                            "description": "18-character resident ID or unified credit code",
                        },
                    },
                },
            },
        },
    },
    "Progress": {
        "type": "object",
        "required": ["total", "done", "found", "not_found", "failed"],
        "properties": {
            k: {"type": "integer", "minimum": 0}
            for k in ("total", "done", "found", "not_found", "failed")
        },
    },
    "BatchSummary": {
        "type": "object",
        "required": [
            "id",
            "case_number",
            "reason",
            "agencies",
            "status",
            "officer",
            "team",
            "subject_count",
            "created_at",
            "started_at",
            "finished_at",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "case_number": {"type": "string"},
            "reason": {"type": "string"},
            "agencies": {"type": "array", "items": {"type": "string", "enum": list(AGENCIES)}},
            "status": {
                "type": "string",
                "enum": ["queued", "running", "done", "cancelled", "pending_approval", "rejected"],
            },
            "officer": {"type": "string"},
            "team": {"type": "string"},
            "subject_count": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": _NULLABLE_TIME,
            "finished_at": _NULLABLE_TIME,
        },
    },
    "Batch": {
        "allOf": [
            {"$ref": "#/components/schemas/BatchSummary"},
            {
                "type": "object",
                "required": ["progress"],
                "properties": {
                    "progress": {
                        "type": "object",
                        "additionalProperties": {"$ref": "#/components/schemas/Progress"},
                    }
                },
            },
        ]
    },
    "BatchPage": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/BatchSummary"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "Result": {
        "type": "object",
        "required": ["subject", "agency", "status", "data", "error", "attempts", "completed_at"],
        "properties": {
            "subject": {
                "type": "object",
                "required": ["row", "name", "id_number"],
                "properties": {
                    "row": {"type": "integer"},
                    "name": {"type": "string"},
                    "id_number": {"type": "string"},
                },
            },
            "agency": {"type": "string", "enum": list(AGENCIES)},
            "status": {"type": "string", "enum": ["found", "not_found", "failed"]},
            "data": {"type": ["object", "null"], "description": "the agency's record; see README"},
            "error": {"type": ["string", "null"]},
            "attempts": {"type": "integer", "minimum": 0},
            "completed_at": {"type": "string", "format": "date-time"},
        },
    },
    "ResultPage": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "Status": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}},
    },
}


def json_content(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": json_content("Error")}


AUTH_ERRORS = {"401": error_response("no valid token"), "403": error_response("role not allowed")}
BATCH_ID = {"name": "batch_id", "in": "path", "required": True, "schema": {"type": "string"}}
_PAGING = [
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
]

#: (method, path) -> operation, less security and x-roles which come from the handlers
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/batches"): {
        "summary": "Submit a batch of judgment debtors for one filed case",
        "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": json_content("BatchSubmission")},
        "responses": {
            "202": {"description": "accepted (or replayed)", "content": json_content("Batch")},
            "400": error_response("body is not JSON"),
            "413": error_response("body or batch too large"),
            "422": error_response("invalid fields or rows; nothing stored"),
            **AUTH_ERRORS,
        },
    },
    ("GET", "/v1/batches"): {
        "summary": "List batches visible to the caller (an officer: their team's), newest first",
        "parameters": _PAGING,
        "responses": {
            "200": {"description": "a page", "content": json_content("BatchPage")},
            "400": error_response("bad cursor"),
            **AUTH_ERRORS,
        },
    },
    ("GET", "/v1/batches/{batch_id}"): {
        "summary": "A batch's status and progress per agency",
        "parameters": [BATCH_ID],
        "responses": {
            "200": {"description": "the batch", "content": json_content("Batch")},
            "404": error_response("no such batch"),
            **AUTH_ERRORS,
        },
    },
    ("GET", "/v1/batches/{batch_id}/results"): {
        "summary": "A batch's results, cursor-paginated in subject order",
        "parameters": [BATCH_ID, *_PAGING],
        "responses": {
            "200": {"description": "a page", "content": json_content("ResultPage")},
            "404": error_response("no such batch"),
            **AUTH_ERRORS,
        },
    },
    ("POST", "/v1/batches/{batch_id}/cancel"): {
        "summary": "Cancel a batch; inquiries not yet answered are never asked",
        "parameters": [BATCH_ID],
        "responses": {
            "200": {"description": "cancelled", "content": json_content("Batch")},
            "404": error_response("no such batch"),
            "409": error_response("already finished"),
            **AUTH_ERRORS,
        },
    },
    ("GET", "/healthz"): {
        "summary": "The process is alive",
        "responses": {"200": {"description": "alive", "content": json_content("Status")}},
    },
    ("GET", "/readyz"): {
        "summary": "The database is reachable",
        "responses": {
            "200": {"description": "ready", "content": json_content("Status")},
            "503": {"description": "not ready", "content": json_content("Status")},
        },
    },
    ("GET", "/metrics"): {
        "summary": "Prometheus metrics",
        "responses": {
            "200": {
                "description": "text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    },
    ("GET", "/openapi.json"): {
        "summary": "This document",
        "responses": {
            "200": {
                "description": "OpenAPI 3.1",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    },
}


def register(operations: dict[tuple[str, str], dict[str, Any]], schemas: dict[str, Any]) -> None:
    """For API modules beyond this one: describe their operations and schemas here."""
    OPERATIONS.update(operations)
    SCHEMAS.update(schemas)


def openapi_document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        key = (route.method, route.resource.canonical)
        operation = dict(OPERATIONS.get(key, {"summary": "(undocumented)", "responses": {}}))
        allowed = allowed_roles(route.handler) or ()
        operation["x-roles"] = list(allowed)
        operation["security"] = [] if "public" in allowed else [{"bearer": []}]
        paths.setdefault(route.resource.canonical, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Asset-inquiry linkage gateway",
            "version": "1",
            "description": "Court enforcement asset inquiry (执行查控). x-roles on each "
            "operation lists the roles that may call it.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
