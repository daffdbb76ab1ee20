"""Taking a batch in, however it arrived (a JSON body, an uploaded spreadsheet): validate it,
admit it, answer 202 with the stored batch."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.accountability import admission
from gateway.accountability import batches as views
from gateway.core.errors import PayloadTooLarge, ValidationFailed
from gateway.core.validation import parse_batch_request
from gateway.http.keys import DISPATCHER, METRICS, POLICY, POOL, SETTINGS
from gateway.http.middleware import caller

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


async def accept_batch(request: web.Request, body: Any) -> web.Response:
    """Validate and admit a submission; 202 with the batch (a replay says so in a header)."""
    app = request.app
    key = idempotency_key(request)
    try:
        batch_request = parse_batch_request(body, max_subjects=app[SETTINGS].max_subjects)
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
    return web.json_response(batch, status=202, headers=headers)
