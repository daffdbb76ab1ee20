"""What a request carries, read into typed values: JSON bodies and query strings into the
models, path parameters; and pydantic's errors into the API's problems.

A problem is ``{"row", "field", "problem"}``: ``row`` is the 0-based index when the field is
inside a list (a batch's subjects), else null; ``field`` names the field, header or query
parameter. Problems are worded by the gateway (``fields.PROBLEM``) or translated from
pydantic's error types below; they never repeat the offending value.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gateway.core.errors import BadRequest, NotFound, PayloadTooLarge, ValidationFailed
from gateway.http.cursors import parse_id
from gateway.http.keys import SETTINGS
from gateway.http.models.fields import PROBLEM

M = TypeVar("M", bound=BaseModel)

#: the longest list of problems returned; a batch of 100,000 bad rows needs no more to fix
MAX_PROBLEMS = 1000

_WORDS: Mapping[str, str] = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "uuid_parsing": "must be a UUID",
    "uuid_type": "must be a UUID",
}


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,39}")
_OBJECT_TYPES = frozenset({"model_type", "model_attributes_type", "dict_type"})


def _field(name: object) -> str:
    """A field's name as given, unless it could not be a field name: an unknown key or
    parameter may be anything, a resident ID among them."""
    text = str(name)
    return text if _NAME.fullmatch(text) else "(unknown)"


def _words(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == PROBLEM:
        return error["msg"]
    if kind == "too_short":
        return "must not be empty"
    if kind in _WORDS:
        return _WORDS[kind]
    # pydantic's own wording names the expectation, never the input ("Input should be ...")
    message = error["msg"].removeprefix("Value error, ")
    return message.replace("Input should", "must").replace("String should", "must")


def problem_of(error: ErrorDetails) -> dict[str, Any]:
    loc = error["loc"]
    row: int | None = None
    object_expected = error["type"] in _OBJECT_TYPES
    if len(loc) >= 2 and isinstance(loc[1], int) and (len(loc) > 2 or object_expected):
        # a field of a row (subjects[3].name), or a row that is not an object at all
        row = loc[1]
        field = _field(loc[2]) if len(loc) > 2 else "(row)"
    else:
        field = _field(loc[0]) if loc else "(body)"
    words = _words(error)
    if not loc and error["type"] in ("model_type", "dict_type"):
        words = "must be a JSON object"
    return {"row": row, "field": field, "problem": words}


def refused(problems: Sequence[dict[str, Any]]) -> ValidationFailed:
    """A 422 listing at most ``MAX_PROBLEMS`` problems."""
    message = f"{len(problems)} problem(s) found; nothing was stored"
    if len(problems) > MAX_PROBLEMS:
        message += f" (first {MAX_PROBLEMS} listed)"
    return ValidationFailed(list(problems[:MAX_PROBLEMS]), message)


def problems_of(exc: ValidationError) -> list[dict[str, Any]]:
    return [problem_of(e) for e in exc.errors(include_url=False, include_input=False)]


def validate(model: type[M], data: Any, context: Mapping[str, Any] | None = None) -> M:
    """``data`` as ``model``, or 422 listing every problem."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise refused(problems_of(exc)) from None


async def read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        limit = request.app[SETTINGS].max_body_bytes
        raise PayloadTooLarge(f"the body is larger than {limit} bytes") from exc


def parse_json(raw: bytes) -> Any:
    """400 if empty, not JSON, or nested deeper than the parser can follow."""
    if not raw.strip():
        raise BadRequest("the body is empty; a JSON object is expected")
    try:
        return json.loads(raw)
    except RecursionError as exc:
        raise BadRequest("the body is nested too deeply") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the body is not valid JSON") from exc


async def read_json(request: web.Request) -> Any:
    return parse_json(await read_body(request))


async def read_model(request: web.Request, model: type[M], *, optional: bool = False) -> M:
    """The JSON body as ``model``: 413 over the size limit, 400 if not JSON, 422 if it does
    not fit. With ``optional``, no body at all is an empty object."""
    raw = await read_body(request)
    data: Any = {} if optional and not raw.strip() else parse_json(raw)
    return validate(model, data)


def query_model(
    request: web.Request, model: type[M], context: Mapping[str, Any] | None = None
) -> M:
    """The query string as ``model`` (a parameter given twice is a problem, not a guess)."""
    query = request.query
    repeated = [
        {"row": None, "field": _field(name), "problem": "must be given at most once"}
        for name in sorted(set(query))
        if len(query.getall(name)) > 1
    ]
    if repeated:
        raise refused(repeated)
    return validate(model, dict(query), context)


def batch_id(request: web.Request) -> uuid.UUID:
    """The ``{batch_id}`` path segment; one that is not a UUID cannot be a batch (404)."""
    try:
        return uuid.UUID(request.match_info["batch_id"])
    except ValueError as exc:
        # Answer exactly as for a batch that does not exist.
        raise NotFound("no such batch") from exc


def path_id(request: web.Request, name: str, not_found: str) -> int:
    """The ``{name}`` path segment naming a row by its id (ASCII digits, a bigint); anything
    else names nothing: 404 ``not_found``, as for an id that does not exist."""
    try:
        return parse_id(request.match_info[name])
    except ValueError as exc:
        raise NotFound(not_found) from exc


def json_response(model: BaseModel, status: int = 200, **kwargs: Any) -> web.Response:
    """A model as the JSON body of a response."""
    return web.json_response(model.model_dump(mode="json", by_alias=True), status=status, **kwargs)
