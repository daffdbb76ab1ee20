"""A thin client of the gateway's HTTP API, for the officers' command line.

One injected ``aiohttp.ClientSession``, a base URL and a token; one ``_request`` through which
every call goes and where every failure of HTTP or of aiohttp is translated, once, into:

::

    GatewayClientError        the gateway could not be asked, or did not do it
    ├── ConnectionFailed      nothing answered at the URL, or the connection broke
    ├── UnexpectedAnswer      something answered, but not as the gateway answers
    └── ApiError              the gateway refused or failed the request: its status, code,
        │                     message and problems (rows and fields, never values)
        └── NotAuthorised     401 (no token, or an unknown, expired or revoked one), or a
                              403 because the token's role may not do this

Each class's docstring is its default message. Replies are read into the API's own models
(``gateway.http.models``), so a caller gets typed values, never raw JSON.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import aiohttp
from pydantic import BaseModel

from gateway.http.models.batches import Batch, BatchPage, BatchSummary, Rerun
from gateway.http.models.common import ErrorBody, Problem
from gateway.http.models.controls import CaseHistory, Control, ControlPage
from gateway.http.models.fields import MAX_PAGE

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

#: waiting for the gateway to connect and to answer a plain call
CONNECT_SECONDS = 10.0
ANSWER_SECONDS = 60.0
#: waiting on a file: a results workbook is built whole before its first byte is sent
#: (600,000 results take minutes), and a 100,000-row list is read and stored before the 202
FILE_SECONDS = 900.0
#: a submission is sent again after these pauses when it may not have arrived (the connection
#: broke, or a 502/503/504 from the gateway or a proxy before it); the same Idempotency-Key
#: makes the gateway answer a repeat with the first batch instead of storing a second
SUBMIT_RETRY_PAUSES = (0.5, 2.0)
_TRANSIENT_STATUSES = frozenset({502, 503, 504})


class GatewayClientError(Exception):
    """The gateway could not be asked."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip().splitlines()[0]
        super().__init__(self.message)


class ConnectionFailed(GatewayClientError):
    """Cannot reach the gateway."""


class UnexpectedAnswer(GatewayClientError):
    """The answer is not one the gateway gives: is the URL the gateway's?"""


class ApiError(GatewayClientError):
    """The gateway refused the request."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str | None = None,
        problems: list[Problem] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.problems = problems or []
        #: further fields of the error body (e.g. an interception's ``reason``)
        self.details: Mapping[str, Any] = details or {}


class NotAuthorised(ApiError):
    """The gateway did not accept the token."""


@dataclass(frozen=True, slots=True)
class Submitted:
    """A submission's answer: the batch, and whether it is the first one replayed."""

    batch: Batch
    replayed: bool


@dataclass(frozen=True, slots=True)
class Download:
    """A results file as the gateway sends it: its chunks, to be consumed once."""

    content_type: str
    chunks: AsyncIterator[bytes]


def origin(url: str) -> str:
    """scheme://host:port of a URL, for messages: no user, password, path or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


@dataclass
class GatewayClient:
    """The gateway's API at ``base_url`` (http://host:port, perhaps with a path prefix),
    called with ``token`` (kept out of repr)."""

    session: aiohttp.ClientSession
    base_url: str
    token: str = field(repr=False)

    # -- batches

    async def submit(self, body: Mapping[str, Any], idempotency_key: str) -> Submitted:
        """``POST /v1/batches``: {case_number, reason, subjects, agencies?, ...}."""
        return await self._submitting(
            lambda: self._submission("/v1/batches", idempotency_key, json=body)
        )

    async def upload(
        self,
        fields: Mapping[str, str],
        *,
        filename: str,
        content: bytes,
        content_type: str,
        idempotency_key: str,
    ) -> Submitted:
        """``POST /v1/batches/upload``: a list as .xlsx or .csv with the form ``fields``."""

        def send() -> Awaitable[Submitted]:
            # A form is consumed by sending it: a new one for every attempt.
            form = aiohttp.FormData()
            for name, value in fields.items():
                form.add_field(name, value)
            form.add_field("file", content, filename=filename, content_type=content_type)
            return self._submission("/v1/batches/upload", idempotency_key, data=form)

        return await self._submitting(send)

    async def batch(self, batch_id: uuid.UUID) -> Batch:
        return await self._json("GET", f"/v1/batches/{batch_id}", Batch)

    async def batches(self, limit: int) -> list[BatchSummary]:
        """The newest ``limit`` batches the caller may see, newest first."""
        items: list[BatchSummary] = []
        cursor: str | None = None
        while len(items) < limit:
            params = {"limit": str(min(limit - len(items), MAX_PAGE))}
            if cursor is not None:
                params["cursor"] = cursor
            page = await self._json("GET", "/v1/batches", BatchPage, params=params)
            items += page.items
            cursor = page.next_cursor
            if cursor is None:
                break
        return items[:limit]

    async def cancel(self, batch_id: uuid.UUID) -> Batch:
        return await self._json("POST", f"/v1/batches/{batch_id}/cancel", Batch)

    async def rerun(self, batch_id: uuid.UUID) -> Rerun:
        return await self._json("POST", f"/v1/batches/{batch_id}/rerun", Rerun)

    @asynccontextmanager
    async def results(
        self, batch_id: uuid.UUID, params: Mapping[str, str]
    ) -> AsyncGenerator[Download, None]:
        """``GET /v1/batches/{id}/results?params`` as chunks, for as long as the block runs (a
        failure while they are read is translated too)."""
        path = f"/v1/batches/{batch_id}/results"
        async with self._request("GET", path, params=params, read_seconds=FILE_SECONDS) as r:
            yield Download(r.content_type, r.content.iter_chunked(256 * 1024))

    # -- control actions and 终本

    async def ask_control(self, body: Mapping[str, Any]) -> Control:
        return await self._json("POST", "/v1/controls", Control, json=body)

    async def control(self, control_id: int, step: str | None = None, **body: Any) -> Control:
        """``GET /v1/controls/{id}``, or with ``step``, ``POST .../{step}`` (approve, reject,
        renew, release) with ``body``."""
        path = f"/v1/controls/{control_id}"
        if step is None:
            return await self._json("GET", path, Control)
        return await self._json("POST", f"{path}/{step}", Control, json=body or None)

    async def controls(self, params: Mapping[str, str]) -> ControlPage:
        return await self._json("GET", "/v1/controls", ControlPage, params=params)

    async def case(self, case_number: str, step: str | None = None, **body: Any) -> CaseHistory:
        """``GET /v1/cases/{case}/history``, or ``POST .../{step}`` (closure, reopen)."""
        path = f"/v1/cases/{quote(case_number, safe='')}"
        if step is None:
            return await self._json("GET", f"{path}/history", CaseHistory)
        return await self._json("POST", f"{path}/{step}", CaseHistory, json=body or None)

    # -- the one place requests are made

    @asynccontextmanager
    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        read_seconds: float = ANSWER_SECONDS,
    ) -> AsyncGenerator[aiohttp.ClientResponse, None]:
        """The response to one request, once it is known to be a success (2xx); a failure,
        also one while the block reads the body, raises the matching ``GatewayClientError``."""
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_SECONDS, sock_read=read_seconds)
        where = origin(self.base_url)
        try:
            async with self.session.request(
                method,
                self.base_url.rstrip("/") + path,
                params=params,
                json=json,
                data=data,
                headers=sent,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                if not 200 <= response.status < 300:
                    raise await _refusal(response)
                yield response
        except GatewayClientError:
            raise
        except aiohttp.ClientConnectorError as exc:
            refused = isinstance(exc.os_error, ConnectionRefusedError)
            # asyncio words a refusal "Connect call failed ('127.0.0.1', 8080)": say it plainly
            reason = "connection refused" if refused else exc.os_error.strerror or str(exc)
            raise ConnectionFailed(f"cannot reach the gateway at {where}: {reason}") from None
        except aiohttp.ServerDisconnectedError:
            raise ConnectionFailed(f"the gateway at {where} closed the connection") from None
        except TimeoutError:
            raise ConnectionFailed(f"the gateway at {where} did not answer in time") from None
        except aiohttp.ClientPayloadError:
            raise ConnectionFailed(f"the answer from {where} was cut off") from None
        except aiohttp.ContentTypeError:
            raise UnexpectedAnswer(f"the answer from {where} is not JSON") from None
        except aiohttp.ClientError as exc:
            raise ConnectionFailed(
                f"cannot reach the gateway at {where}: {type(exc).__name__}"
            ) from None
        except ValueError:  # malformed JSON, or JSON not in the shape of the API's models
            raise UnexpectedAnswer(
                f"the answer from {where} is not one the gateway gives: is the URL right?"
            ) from None

    async def _json(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> M:
        async with self._request(method, path, params=params, json=json) as response:
            return model.model_validate(await response.json())

    async def _submission(
        self, path: str, idempotency_key: str, *, json: Any = None, data: Any = None
    ) -> Submitted:
        headers = {"Idempotency-Key": idempotency_key}
        async with self._request(
            "POST", path, json=json, data=data, headers=headers, read_seconds=FILE_SECONDS
        ) as response:
            batch = Batch.model_validate(await response.json())
            return Submitted(batch, response.headers.get("Idempotent-Replayed") == "true")

    @staticmethod
    async def _submitting(send: Callable[[], Awaitable[Submitted]]) -> Submitted:
        """``send()``, again after a pause while it may not have arrived (the key makes a
        repeat safe)."""
        for pause in SUBMIT_RETRY_PAUSES:
            try:
                return await send()
            except ApiError as exc:
                if exc.status not in _TRANSIENT_STATUSES:
                    raise
            except ConnectionFailed:
                pass
            await asyncio.sleep(pause)
        return await send()


async def _refusal(response: aiohttp.ClientResponse) -> GatewayClientError:
    """The error a non-2xx answer stands for, from the gateway's JSON error body."""
    try:
        body = ErrorBody.model_validate(await response.json(content_type=None))
    except (ValueError, aiohttp.ClientError):
        # Not the gateway's body: a proxy's page, or another server at the URL.
        if response.status in _TRANSIENT_STATUSES:
            return ApiError(response.status, "unavailable", "the gateway is unavailable")
        return UnexpectedAnswer(
            f"{origin(str(response.url))} answered {response.status}, not as the gateway "
            "does: is the URL right?"
        )
    error = body.error
    details = dict(error.model_extra or {})
    kind = ApiError
    if response.status == 401 or (response.status == 403 and error.code == "forbidden"):
        kind = NotAuthorised
    return kind(response.status, error.code, error.message, error.problems, details)
