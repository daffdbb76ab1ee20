"""The OpenAPI description of the administration API (gateway/api_admin.py); the roles on
each operation come from the handlers' ``@roles``."""

from __future__ import annotations

from typing import Any


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json("Error")}


def _list_of(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


_AUTH = {"401": _error("no valid token"), "403": _error("role not allowed")}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_PAGING = [
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
]
_TIME = {"type": "string", "format": "date-time"}
_NULL_TIME = {"type": ["string", "null"], "format": "date-time"}
_COUNTS = {k: {"type": "integer"} for k in ("registered", "transferred", "unchanged")}

SCHEMAS: dict[str, Any] = {
    "Team": {
        "type": "object",
        "required": ["name", "created_at"],
        "properties": {
            "name": {"type": "string"},
            "created_at": _TIME,
            "officers": {"type": "integer"},
            "cases": {"type": "integer"},
        },
    },
    "TeamList": _list_of("Team"),
    "Officer": {
        "type": "object",
        "required": ["name", "role", "team", "created_at", "active_tokens"],
        "properties": {
            "name": {"type": "string"},
            "role": {"type": "string", "enum": ["officer", "commander", "auditor", "admin"]},
            "team": {"type": ["string", "null"]},
            "created_at": _TIME,
            "active_tokens": {"type": "integer"},
        },
    },
    "OfficerPage": _list_of("Officer"),
    "IssuedToken": {
        "type": "object",
        "required": ["id", "officer", "role", "team", "expires_at", "token"],
        "properties": {
            "id": {"type": "integer"},
            "officer": {"type": "string"},
            "role": {"type": "string"},
            "team": {"type": ["string", "null"]},
            "expires_at": _NULL_TIME,
            "token": {"type": "string", "description": "shown once; only its hash is stored"},
        },
    },
    "TokenInfo": {
        "type": "object",
        "required": ["id", "officer", "role", "created_at", "expires_at", "revoked_at"],
        "properties": {
            "id": {"type": "integer"},
            "officer": {"type": "string"},
            "role": {"type": "string"},
            "created_at": _TIME,
            "expires_at": _NULL_TIME,
            "revoked_at": _NULL_TIME,
        },
    },
    "TokenList": _list_of("TokenInfo"),
    "Revocation": {
        "type": "object",
        "required": ["officer", "revoked"],
        "properties": {
            "id": {"type": "integer"},
            "officer": {"type": "string"},
            "revoked": {"type": "integer", "description": "tokens revoked now (0: already)"},
            "token_ids": {"type": "array", "items": {"type": "integer"}},
        },
    },
    "CaseRegistration": {
        "type": "object",
        "required": ["case_number", "team"],
        "additionalProperties": False,
        "properties": {
            "case_number": {"type": "string", "examples": ["（2022）吉03执123号"]},
            "team": {"type": "string"},
        },
    },
    "CaseRegistered": {
        "type": "object",
        "required": ["case_number", "team", *_COUNTS],
        "properties": {"case_number": {"type": "string"}, "team": {"type": "string"}, **_COUNTS},
    },
    "CaseImport": {
        "type": "object",
        "required": ["rows", *_COUNTS],
        "properties": {"rows": {"type": "integer"}, **_COUNTS},
    },
    "Case": {
        "type": "object",
        "required": ["case_number", "team", "registered_by", "registered_at", "updated_at"],
        "properties": {
            "case_number": {"type": "string"},
            "team": {"type": "string"},
            "registered_by": {"type": "string"},
            "registered_at": _TIME,
            "updated_at": _TIME,
        },
    },
    "CasePage": _list_of("Case"),
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_NAME_BODY = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string", "maxLength": 100}},
}
_OFFICER_BODY = {
    "type": "object",
    "required": ["name", "role"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "maxLength": 100},
        "role": {"type": "string", "enum": ["officer", "commander", "auditor", "admin"]},
        "team": {"type": ["string", "null"], "description": "required for officers"},
    },
}
_TOKEN_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650}},
}

OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/teams"): {
        "summary": "Create a team",
        "requestBody": _body(_NAME_BODY),
        "responses": {
            "201": {"description": "created", "content": _json("Team")},
            "409": _error("a team of that name exists"),
            "422": _error("invalid name"),
            **_AUTH,
        },
    },
    ("GET", "/v1/teams"): {
        "summary": "Teams, with their officers and cases counted",
        "responses": {"200": {"description": "all teams", "content": _json("TeamList")}, **_AUTH},
    },
    ("POST", "/v1/officers"): {
        "summary": "Create an officer (a login) with a role, and a team for officers",
        "requestBody": _body(_OFFICER_BODY),
        "responses": {
            "201": {"description": "created", "content": _json("Officer")},
            "409": _error("an officer of that name exists"),
            "422": _error("invalid field, or no such team"),
            **_AUTH,
        },
    },
    ("GET", "/v1/officers"): {
        "summary": "Officers by name",
        "parameters": _PAGING,
        "responses": {"200": {"description": "a page", "content": _json("OfficerPage")}, **_AUTH},
    },
    ("POST", "/v1/officers/{name}/tokens"): {
        "summary": "Issue a token for an officer (shown once, in this response)",
        "parameters": [_NAME],
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": _TOKEN_BODY}},
        },
        "responses": {
            "201": {"description": "issued", "content": _json("IssuedToken")},
            "404": _error("no such officer"),
            "422": _error("invalid expires_in_days"),
            **_AUTH,
        },
    },
    ("GET", "/v1/officers/{name}/tokens"): {
        "summary": "An officer's tokens (ids and dates; never the token)",
        "parameters": [_NAME],
        "responses": {
            "200": {"description": "the tokens", "content": _json("TokenList")},
            "404": _error("no such officer"),
            **_AUTH,
        },
    },
    ("DELETE", "/v1/officers/{name}/tokens"): {
        "summary": "Revoke every live token of an officer",
        "parameters": [_NAME],
        "responses": {
            "200": {"description": "revoked", "content": _json("Revocation")},
            "404": _error("no such officer"),
            **_AUTH,
        },
    },
    ("DELETE", "/v1/tokens/{token_id}"): {
        "summary": "Revoke one token by id (revoking twice changes nothing)",
        "parameters": [
            {"name": "token_id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ],
        "responses": {
            "200": {"description": "revoked", "content": _json("Revocation")},
            "404": _error("no such token"),
            **_AUTH,
        },
    },
    ("POST", "/v1/cases"): {
        "summary": "Register a filed case for the team handling it (again: transfer it)",
        "requestBody": {"required": True, "content": _json("CaseRegistration")},
        "responses": {
            "201": {"description": "registered", "content": _json("CaseRegistered")},
            "200": {"description": "unchanged or transferred", "content": _json("CaseRegistered")},
            "422": _error("malformed case number, or no such team"),
            **_AUTH,
        },
    },
    ("POST", "/v1/cases/import"): {
        "summary": "Register filed cases in bulk from CSV (case_number,team); all or nothing",
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        "responses": {
            "200": {"description": "imported", "content": _json("CaseImport")},
            "422": _error("row problems (row, line, field, problem); nothing stored"),
            **_AUTH,
        },
    },
    ("GET", "/v1/cases"): {
        "summary": "Filed cases and their teams",
        "parameters": [{"name": "team", "in": "query", "schema": {"type": "string"}}, *_PAGING],
        "responses": {"200": {"description": "a page", "content": _json("CasePage")}, **_AUTH},
    },
}
