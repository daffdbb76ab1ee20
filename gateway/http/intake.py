"""Taking a batch in, however it arrived (a JSON body, an uploaded spreadsheet): validate it,
admit it, answer 202 with the stored batch."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from gateway.accountability import admission
from gateway.accountability import batches as views
from gateway.core.errors import PayloadTooLarge, ValidationFailed
from gateway.core.identifiers import InvalidIdentifier, classify_identifier
from gateway.core.jsonvalues import as_list, as_object
from gateway.core.validation import BatchRequest
from gateway.http.inputs import json_response, problems_of, refused
from gateway.http.keys import DISPATCHER, METRICS, POLICY, POOL, SETTINGS
from gateway.http.middleware import caller
from gateway.http.models.batches import Batch, BatchSubmission

MAX_IDEMPOTENCY_KEY = 200


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise ValidationFailed(
            [
                {
                    "row": None,
                    "field": "Idempotency-Key",
                    "problem": f"must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters",
                }
            ]
        )
    return key


def parse_submission(body: Any, *, max_subjects: int) -> BatchRequest:
    """A submission checked whole: 413 over ``max_subjects``, else 422 listing every problem
    (a bad row refuses the batch; a repeated identifier is a problem too)."""
    subjects = as_list((as_object(body) or {}).get("subjects"))
    if subjects is not None and len(subjects) > max_subjects:
        raise PayloadTooLarge(
            f"a batch may hold at most {max_subjects} subjects",
            field="subjects",
            limit=max_subjects,
        )
    try:
        submission = BatchSubmission.model_validate(body)
    except ValidationError as exc:
        raise refused(problems_of(exc) + _repeats_in(body)) from None
    repeats = _repeats([s.id_number.canonical for s in submission.subjects])
    if repeats:
        raise refused(repeats)
    return submission.to_request()


def _repeats(identifiers: list[str | None]) -> list[dict[str, Any]]:
    """A problem for each row whose identifier an earlier row has."""
    first_row: dict[str, int] = {}
    problems: list[dict[str, Any]] = []
    for row, identifier in enumerate(identifiers):
        if identifier is None:
            continue
        if identifier in first_row:
            problem = f"repeats row {first_row[identifier]}"
            problems.append({"row": row, "field": "id_number", "problem": problem})
        else:
            first_row[identifier] = row
    return problems


def _repeats_in(body: Any) -> list[dict[str, Any]]:
    """Repeats among the rows whose identifier is valid, in a body that failed validation."""
    rows = as_list((as_object(body) or {}).get("subjects")) or []
    identifiers: list[str | None] = []
    for item in rows:
        value = (as_object(item) or {}).get("id_number")
        try:
            identifiers.append(classify_identifier(value)[1] if isinstance(value, str) else None)
        except InvalidIdentifier:
            identifiers.append(None)
    return _repeats(identifiers)


async def accept_batch(request: web.Request, body: Any) -> web.Response:
    """Validate and admit a submission; 202 with the batch (a replay says so in a header)."""
    app = request.app
    key = idempotency_key(request)
    try:
        batch_request = parse_submission(body, max_subjects=app[SETTINGS].max_subjects)
    except (ValidationFailed, PayloadTooLarge) as exc:
        app[METRICS].batches_rejected.labels(exc.code).inc()
        if isinstance(exc, ValidationFailed):
            await admission.record_malformed_case(app[POLICY], app[POOL], caller(request), exc)
        raise
    submitted = await admission.submit(app[POLICY], app[POOL], caller(request), batch_request, key)
    if not submitted.replayed and DISPATCHER in app:
        app[DISPATCHER].wake()
    batch = await views.get_batch(app[POOL], caller(request), submitted.batch_id)
    headers = {"Location": f"/v1/batches/{submitted.batch_id}"}
    if submitted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(Batch.model_validate(batch), status=202, headers=headers)
