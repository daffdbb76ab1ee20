"""Taking a batch in, however it arrived (a JSON body, an uploaded spreadsheet): validate it,
admit it, answer 202 with the stored batch."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from connectors.base import Subject, SubjectKind
from gateway.accountability import admission
from gateway.accountability import batches as views
from gateway.accountability.sealing import SealedTail
from gateway.core.errors import PayloadTooLarge, ValidationFailed
from gateway.core.identifiers import InvalidIdentifier, classify_identifier
from gateway.core.jsonvalues import as_list, as_object
from gateway.core.offload import SHARE_FROM, Offload
from gateway.core.text import normalise_name
from gateway.core.validation import BatchRequest
from gateway.http.inputs import json_response, problems_of, refused
from gateway.http.keys import DISPATCHER, METRICS, OFFLOAD, POLICY, POOL, SETTINGS
from gateway.http.middleware import caller
from gateway.http.models.batches import (
    Batch,
    BatchSubmission,
    SubmissionEnvelope,
    checked_subjects,
)
from gateway.store.crypto import digest_subjects, seal_subjects_flat

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
    (a bad row refuses the batch). A row repeating an earlier one (the same identifier and
    name) is merged into it: asked once, and counted in ``merged_rows``; the same identifier
    under another name is a problem, since one of the two is wrong."""
    _check_size(body, max_subjects)
    try:
        request = _validated(body)
    except ValidationError as exc:
        raise refused(problems_of(exc) + _conflicts_in(body)) from None
    return _merged(request)


#: of a large list, the rows the helper process checks and seals (the rest are checked
#: here meanwhile, and sealed here while the database stores the list: this share keeps
#: the two processes equally busy until then)
HELPER_SHARE = 0.4

#: names, identifiers, kinds, digests, and sealed names and identifiers (name, identifier,
#: name, ...): columns, which cross between processes several times faster than a tuple
#: or a dataclass per row
CheckedAndSealed = tuple[list[str], list[str], list[SubjectKind], list[bytes], list[bytes]]


async def parse_shared(
    body: Any, *, max_subjects: int, offload: Offload, keys: tuple[bytes, bytes]
) -> tuple[BatchRequest, SealedTail | None]:
    """``parse_submission``, a large list's last rows checked, digested and sealed (with
    ``keys``, ``DataCipher.sealing_keys``) in the helper process meanwhile
    (``core.offload``): the request, and those rows sealed for the batch it is to be."""
    rows = _check_size(body, max_subjects)
    if not offload.enabled or rows < SHARE_FROM:  # not worth the round trip
        return parse_submission(body, max_subjects=max_subjects), None
    try:
        envelope = SubmissionEnvelope.model_validate(body)
    except ValidationError:
        return parse_submission(body, max_subjects=max_subjects), None  # names every problem
    middle = len(envelope.subjects) - int(len(envelope.subjects) * HELPER_SHARE)
    batch_id = uuid.uuid4()
    far = offload.submit(
        checked_and_sealed, envelope.subjects[middle:], keys, str(batch_id), middle
    )
    near = checked_subjects(envelope.subjects[:middle])
    rest = await far
    if near is None or rest is None:  # a row out of shape: the model names every problem
        return parse_submission(body, max_subjects=max_subjects), None
    names, numbers, kinds, digests, sealed = rest
    request = envelope.request_of(near + tuple(map(Subject, names, numbers, kinds)))
    return _merged(request), SealedTail(batch_id, middle, digests, sealed)


def checked_and_sealed(
    rows: list[Any], keys: tuple[bytes, bytes], batch_id: str, first_row: int
) -> CheckedAndSealed | None:
    """``checked_subjects`` of a list's last rows (from ``first_row`` on), digested and
    sealed for ``batch_id``; None at a row out of shape."""
    subjects = checked_subjects(rows)
    if subjects is None:
        return None
    names = [s.name for s in subjects]
    numbers = [s.id_number for s in subjects]
    items = [(first_row + k, s.name, s.id_number) for k, s in enumerate(subjects)]
    return (
        names,
        numbers,
        [s.kind for s in subjects],
        digest_subjects(keys, numbers),
        seal_subjects_flat(keys, batch_id, items),
    )


def ready_helper() -> None:
    """Run in the helper process at start: what its first large list would otherwise wait
    for (importing the checks and the cipher, reading the area-code table)."""
    row = {"name": "张三", "id_number": "11010519491231002X"}
    checked_and_sealed([row], (bytes(32), bytes(32)), "", 0)


def _check_size(body: Any, max_subjects: int) -> int:
    """How many rows the body holds; 413 past ``max_subjects``."""
    subjects = as_list((as_object(body) or {}).get("subjects"))
    if subjects is not None and len(subjects) > max_subjects:
        raise PayloadTooLarge(
            f"a batch may hold at most {max_subjects} subjects",
            field="subjects",
            limit=max_subjects,
        )
    return len(subjects) if subjects is not None else 0


def _merged(request: BatchRequest) -> BatchRequest:
    """Repeated rows merged into the first; 422 for an identifier under two names."""
    identifiers = {s.id_number for s in request.subjects}
    if len(identifiers) == len(request.subjects):  # no repeats, as in most lists
        return request
    keep, conflicts = _merge([(s.id_number, s.name) for s in request.subjects])
    if conflicts:
        raise refused(conflicts)
    if len(keep) == len(request.subjects):
        return request
    return replace(
        request,
        subjects=tuple(request.subjects[row] for row in keep),
        merged_rows=len(request.subjects) - len(keep),
        rows=tuple(keep),
    )


def _validated(body: Any) -> BatchRequest:
    """Rows in shape are checked one by one, several times faster than a model per row; a
    body out of shape is validated with the full model, which names every problem."""
    try:
        envelope = SubmissionEnvelope.model_validate(body)
    except ValidationError:
        envelope = None
    subjects = checked_subjects(envelope.subjects) if envelope is not None else None
    if envelope is not None and subjects is not None:
        return envelope.request_of(subjects)
    return BatchSubmission.model_validate(body).to_request()


def name_clash(row: int, earlier: int, shown: int | None = None) -> dict[str, Any]:
    """The problem of a row giving an earlier row's identifier under another name; ``shown``
    is how the earlier row is named to the officer (a sheet row), else its index."""
    text = f"has the identifier of row {earlier if shown is None else shown} under another name"
    return {"row": row, "field": "name", "problem": text, "earlier_row": earlier}


def _merge(rows: list[tuple[str | None, str | None]]) -> tuple[list[int], list[dict[str, Any]]]:
    """The rows to keep (the first of each identifier), and a problem for each row naming an
    earlier row's identifier with another name. Rows without a valid identifier are kept:
    their own problems are reported elsewhere."""
    first: dict[str, tuple[int, str | None]] = {}
    keep: list[int] = []
    problems: list[dict[str, Any]] = []
    for row, (identifier, name) in enumerate(rows):
        if identifier is None:
            keep.append(row)
            continue
        seen = first.get(identifier)
        if seen is None:
            first[identifier] = (row, name)
            keep.append(row)
        elif name is not None and seen[1] is not None and name != seen[1]:
            problems.append(name_clash(row, seen[0]))
    return keep, problems


def _conflicts_in(body: Any) -> list[dict[str, Any]]:
    """Conflicting names among the rows whose identifier is valid, in a body that failed
    validation (so the officer sees every problem at once)."""
    rows = as_list((as_object(body) or {}).get("subjects")) or []
    pairs: list[tuple[str | None, str | None]] = []
    for item in rows:
        fields = as_object(item) or {}
        value, name = fields.get("id_number"), fields.get("name")
        try:
            identifier = classify_identifier(value)[1] if isinstance(value, str) else None
        except InvalidIdentifier:
            identifier = None
        named = normalise_name(name) if isinstance(name, str) else ""
        pairs.append((identifier, named or None))  # no name: its own problem, not a conflict
    return _merge(pairs)[1]


async def accept_batch(request: web.Request, body: Any) -> web.Response:
    """Validate and admit a submission; 202 with the batch (a replay says so in a header)."""
    app = request.app
    key = idempotency_key(request)
    try:
        policy = app[POLICY]
        batch_request, tail = await parse_shared(
            body,
            max_subjects=app[SETTINGS].max_subjects,
            offload=app[OFFLOAD],
            keys=policy.cipher.sealing_keys,
        )
    except (ValidationFailed, PayloadTooLarge) as exc:
        app[METRICS].batches_rejected.labels(exc.code).inc()
        if isinstance(exc, ValidationFailed):
            await admission.record_malformed_case(app[POLICY], app[POOL], caller(request), exc)
        raise
    submitted = await admission.submit(
        app[POLICY], app[POOL], caller(request), batch_request, key, tail
    )
    if not submitted.replayed and DISPATCHER in app:
        app[DISPATCHER].wake(*batch_request.agencies)
    if submitted.created_at is not None:
        batch = views.submitted_batch(
            caller(request),
            submitted.batch_id,
            batch_request,
            submitted.status,
            submitted.created_at,
        )
    else:  # a replay: the batch as it stands now
        batch = await views.get_batch(app[POOL], caller(request), submitted.batch_id)
    headers = {"Location": f"/v1/batches/{submitted.batch_id}"}
    if submitted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(Batch.model_validate(batch), status=202, headers=headers)
