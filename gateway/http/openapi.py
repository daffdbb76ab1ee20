"""The OpenAPI 3.1 document, built from the live router and the typed models.

Each handler declares its operation next to its code with ``@operation``: a summary, the
request body's model, the query's model, and every status it answers with the model or
description of each. Who may call it comes from ``@roles`` (published as ``x-roles``);
``401``/``403`` are added for every operation that needs a token and ``503`` for every one that
reads the database. Schemas come from the pydantic models, so the document and the validation
cannot drift apart; a test checks real responses against it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from gateway.core.jsonvalues import as_list, as_object
from gateway.http.models.common import ErrorBody
from gateway.http.roles import Handler, allowed_roles
from gateway.http.web.pages import is_page

REF = "#/components/schemas/{model}"

#: what each error status means, unless an operation says more
ERRORS: Mapping[int, str] = {
    400: "the request is malformed: the body is not JSON, or a cursor is not one the API wrote",
    401: "no valid token",
    403: "the caller's role may not do this, or a rule intercepted it",
    404: "no such resource (or not the caller's to see)",
    409: "the resource's state does not allow this now",
    410: "the batch's personal data was purged after the retention period",
    413: "the body, the list or the file is over the limit",
    422: "invalid fields, rows or parameters; every problem is listed and nothing is stored",
    503: "the database is unavailable; try again shortly",
}

#: path parameters and their schemas
PATH_PARAMETERS: Mapping[str, dict[str, Any]] = {
    "batch_id": {"type": "string", "format": "uuid"},
    "name": {"type": "string", "minLength": 1, "maxLength": 100},
    "token_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
}


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer of an operation: a JSON model, or another media type with its schema."""

    description: str
    model: type[BaseModel] | None = None
    media_type: str = "application/json"
    schema: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    summary: str
    replies: Mapping[int, Reply]
    body: type[BaseModel] | None = None
    body_required: bool = True
    #: a body that is not JSON: media type -> schema
    raw_body: Mapping[str, Mapping[str, Any]] | None = None
    query: type[BaseModel] | None = None
    headers: Sequence[Mapping[str, Any]] = ()
    #: it reads the database (so it may answer 503)
    database: bool = True
    description: str = ""
    models: Sequence[type[BaseModel]] = field(default_factory=tuple)


_OPERATION_ATTRIBUTE = "__operation__"


def operation(
    summary: str,
    *,
    replies: Mapping[int, Reply | tuple[type[BaseModel], str] | str],
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    raw_body: Mapping[str, Mapping[str, Any]] | None = None,
    query: type[BaseModel] | None = None,
    headers: Sequence[Mapping[str, Any]] = (),
    database: bool = True,
    description: str = "",
) -> Callable[[Handler], Handler]:
    """Declare a handler's operation. ``replies`` maps each status to a ``Reply``, a
    ``(model, description)`` pair, or, for errors, a description (the body is ``ErrorBody``)."""
    normalised: dict[int, Reply] = {}
    for status, reply in replies.items():
        if isinstance(reply, Reply):
            normalised[status] = reply
        elif isinstance(reply, str):
            normalised[status] = Reply(reply, ErrorBody if status >= 400 else None)
        else:
            model, text = reply
            normalised[status] = Reply(text, model)
    spec = Operation(
        summary, normalised, body, body_required, raw_body, query, headers, database, description
    )

    def mark(handler: Handler) -> Handler:
        setattr(handler, _OPERATION_ATTRIBUTE, spec)
        return handler

    return mark


def operation_of(handler: Any) -> Operation | None:
    return getattr(handler, _OPERATION_ATTRIBUTE, None)


def error(status: int, description: str | None = None) -> tuple[int, Reply]:
    return status, Reply(description or ERRORS[status], ErrorBody)


IDEMPOTENCY_KEY: Mapping[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "a retried submission with the same key returns the first batch",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]{1,200}$"},
}


class _Schemas:
    """Collects every model the document refers to, then renders them once."""

    def __init__(self) -> None:
        self.wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        self.wanted[(model, mode)] = None
        return {"__model__": (model, mode)}

    def render(self, document: Any) -> tuple[Any, dict[str, Any]]:
        keys, definitions = models_json_schema(list(self.wanted), ref_template=REF)
        components: dict[str, Any] = definitions.get("$defs", {})

        def resolve(node: Any) -> Any:
            mapping, items = as_object(node), as_list(node)
            if mapping is not None:
                if "__model__" in mapping:
                    return keys[mapping["__model__"]]
                return {k: resolve(v) for k, v in mapping.items()}
            if items is not None:
                return [resolve(v) for v in items]
            return node

        resolved = resolve(document)
        return resolved, _reachable(resolved, components)


def _reachable(document: Any, components: dict[str, Any]) -> dict[str, Any]:
    """The schemas the document refers to, directly or through other schemas (pydantic also
    renders the types that ``WithJsonSchema`` replaced)."""
    prefix = REF.format(model="")
    kept: dict[str, Any] = {}
    pending = [document]
    while pending:
        node = pending.pop()
        mapping, items = as_object(node), as_list(node)
        if mapping is not None:
            ref = mapping.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                name = ref.removeprefix(prefix)
                if name not in kept:
                    kept[name] = components[name]
                    pending.append(components[name])
            pending.extend(mapping.values())
        elif items is not None:
            pending.extend(items)
    return dict(sorted(kept.items()))


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF, mode="validation", by_alias=True)
    # Query parameters are plain values: a model nested in one could not be sent.
    assert "$defs" not in schema, f"{model.__name__} has nested models"
    required = set(schema.get("required", ()))
    parameters: list[dict[str, Any]] = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        if "anyOf" in prop:  # optional: X | None -> X (an absent parameter is the None)
            kinds = [p for p in prop.pop("anyOf") if p.get("type") != "null"]
            prop.update(kinds[0] if len(kinds) == 1 else {"anyOf": kinds})
        prop.pop("default", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _operation(
    route: web.AbstractRoute, spec: Operation | None, schemas: _Schemas
) -> dict[str, Any]:
    allowed = allowed_roles(route.handler) or ()
    public = "public" in allowed
    if spec is None:
        return {"summary": "(undocumented)", "responses": {}, "x-roles": list(allowed)}
    parameters: list[dict[str, Any]] = []
    resource = route.resource
    canonical = resource.canonical if resource is not None else ""
    for name, schema in PATH_PARAMETERS.items():
        if "{" + name + "}" in canonical:
            parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    if spec.query is not None:
        parameters += _query_parameters(spec.query)
    parameters += [dict(h) for h in spec.headers]
    replies = dict(spec.replies)
    if not public:
        replies.setdefault(401, Reply(ERRORS[401], ErrorBody))
        replies.setdefault(403, Reply(ERRORS[403], ErrorBody))
    if spec.database:
        replies.setdefault(503, Reply(ERRORS[503], ErrorBody))
    responses: dict[str, Any] = {}
    for status, reply in sorted(replies.items()):
        answer: dict[str, Any] = {"description": reply.description}
        if reply.model is not None:
            content = {"schema": schemas.ref(reply.model, "serialization")}
            answer["content"] = {reply.media_type: content}
        elif reply.schema is not None:
            answer["content"] = {reply.media_type: {"schema": dict(reply.schema)}}
        responses[str(status)] = answer
    result: dict[str, Any] = {"summary": spec.summary, "responses": responses}
    if spec.description:
        result["description"] = spec.description
    if parameters:
        result["parameters"] = parameters
    if spec.body is not None:
        result["requestBody"] = {
            "required": spec.body_required,
            "content": {"application/json": {"schema": schemas.ref(spec.body, "validation")}},
        }
    elif spec.raw_body is not None:
        result["requestBody"] = {
            "required": spec.body_required,
            "content": {media: {"schema": dict(s)} for media, s in spec.raw_body.items()},
        }
    result["x-roles"] = list(allowed)
    result["security"] = [] if public else [{"bearer": []}]
    return result


def openapi_document(app: web.Application) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        resource = route.resource
        if route.method == "HEAD" or resource is None:
            continue
        if is_page(route.handler):
            continue  # a web page, not an operation of the API
        spec = operation_of(route.handler)
        path = paths.setdefault(resource.canonical, {})
        path[route.method.lower()] = _operation(route, spec, schemas)
    rendered, components = schemas.render(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Asset-inquiry linkage gateway",
            "version": "1",
            "description": "Court enforcement asset inquiry (执行查控). x-roles on each "
            "operation lists the roles that may call it.",
        },
        "paths": rendered,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
