"""The connector interface: one thin client per agency.

A connector is a dataclass holding the shared ``aiohttp.ClientSession`` (injected, never
created here), its agency's base URL and a per-attempt timeout. It answers one question:
for these subjects, what does the agency hold? Each answer is ``Found`` with typed records
or ``NotFound``; when the agency cannot answer, the connector raises an ``AgencyError``
(see ``connectors.errors``) and the dispatcher decides whether to try again.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Literal, Protocol
from urllib.parse import quote

import aiohttp
import orjson
import pydantic

from connectors.errors import (
    AgencyBadAnswer,
    AgencyError,
    AgencyForgot,
    AgencyRateLimited,
    AgencyRejected,
    AgencyTimeout,
    AgencyUnavailable,
)

SubjectKind = Literal["person", "organisation"]


@dataclass(frozen=True, slots=True)
class Subject:
    """One judgment debtor as the officer submitted it (identifier already validated)."""

    name: str
    id_number: str
    kind: SubjectKind = "person"


@dataclass(frozen=True, slots=True)
class Requester:
    """The lawful basis carried onward on every agency call (X-Road's userId and issue)."""

    officer: str
    team: str
    case_number: str
    batch_id: str
    #: for an agency that answers in parts, the parts the officer asked for (household:
    #: "identity", "photo"); empty: every part. Minimum data: a part not asked for is not
    #: fetched, or not kept. Not sent: the agency's protocol has no word for it.
    items: tuple[str, ...] = ()
    #: the headers, encoded at the first request: a call sends several (a ticket and its
    #: polls, a township list and its pages), and the dispatcher shares one requester among
    #: the inquiries of a batch it claims together
    _headers: Mapping[str, str] | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    def headers(self) -> Mapping[str, str]:
        """The requester's headers (read-only, shared by every request: copy to add some)."""
        if self._headers is None:
            # Case numbers contain CJK characters; HTTP headers are latin-1: percent-encode.
            headers = {
                "X-Requester-Officer": quote(self.officer),
                "X-Requester-Team": quote(self.team),
                "X-Requester-Case": quote(self.case_number),
                "X-Requester-Batch": self.batch_id,
            }
            shared = MappingProxyType(headers)  # read-only: every request shares it
            object.__setattr__(self, "_headers", shared)
            return shared
        return self._headers


@dataclass(frozen=True, slots=True)
class Found:
    """The agency holds something for this subject; ``record`` is a typed dataclass."""

    record: Any

    def to_json(self) -> dict[str, Any]:
        """The record as JSON values: what ``dataclasses.asdict`` gives, from the record
        type's compiled schema (``dataclasses.asdict`` copies each value on its way, ten
        times slower, and every found answer passes here)."""
        return _record_schema(self.record.__class__).dump_python(self.record, mode="json")


@dataclass(frozen=True, slots=True)
class NotFound:
    """The agency answered and holds nothing for this subject."""

    def to_json(self) -> None:
        return None


Answer = Found | NotFound


@functools.cache
def _record_schema(record_type: type) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(record_type)


@dataclass(slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self, agency: str) -> Any:
        content_type = self.headers.get("Content-Type", "")
        if "json" not in content_type:
            raise AgencyBadAnswer(agency, f"expected JSON, got content type {content_type!r}")
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            # The standard library decides what orjson refuses (NaN, a lone surrogate
            # escaped, nesting past 1,024, UTF-16), so that such an answer means what it
            # always meant and a refusal says why. (An integer past 64 bits, which no agency
            # field holds, reads as the nearest float, as in JavaScript: the shape checks
            # refuse it where an integer is expected.)
            pass
        try:
            return json.loads(self.body)
        except RecursionError as exc:
            raise AgencyBadAnswer(agency, "answer is nested too deeply") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise AgencyBadAnswer(agency, "answer is not valid JSON") from exc


Send = Callable[[], Awaitable[Response]]
#: a waiting protocol's whole attempt may take this many per-request timeouts
READY_WITHIN_TIMEOUTS = 3


class Transport(Protocol):
    """How a connector's requests go out: ``send`` runs one request (``send_once``) and may
    run it again when it failed in a way that may pass. ``repeatable`` says whether the
    request may be repeated on its own (a query, a poll, a page, a submit the agency
    deduplicates); a step that may not be is only ever sent once here, and the caller
    restarts the whole protocol instead."""

    async def send(self, send_once: Send, *, repeatable: bool) -> Response: ...


class SendOnce:
    """The plain transport: every request once; retrying is the caller's business."""

    async def send(self, send_once: Send, *, repeatable: bool) -> Response:
        return await send_once()


@dataclass
class Connector(ABC):
    """Base for every agency client: a session, a base URL, a per-attempt timeout, and the
    transport its requests go through (the gateway's retries each request by itself)."""

    name: ClassVar[str]
    title: ClassVar[str]
    #: how many subjects one ``query`` call may carry (the vehicle office takes 50)
    max_group: ClassVar[int] = 1
    #: the dataclass that ``Found.record`` holds; its fields are documented in metadata
    record_type: ClassVar[type]

    session: aiohttp.ClientSession
    base_url: str
    timeout: float = 10.0
    transport: Transport = dataclasses.field(default_factory=SendOnce)

    @property
    def ready_within(self) -> float:
        """How long a protocol that waits for the agency (submit, then poll) may take in all:
        a few per-request timeouts, so that one poll that hung and was retried by itself does
        not end the whole attempt."""
        return self.timeout * READY_WITHIN_TIMEOUTS

    @abstractmethod
    async def query(self, subjects: Sequence[Subject], requester: Requester) -> list[Answer]:
        """One answer per subject, in the order given. Raises ``AgencyError``."""

    async def _send(
        self,
        method: str,
        path: str,
        requester: Requester,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
        forgotten: tuple[int, ...] = (),
        repeatable: bool = True,
    ) -> Response:
        """Send one request through the transport; translate every failure into an
        ``AgencyError``. A status in ``forgotten`` means the agency no longer knows what the
        request refers to (an expired ticket): ``AgencyForgot``, answered by asking anew."""

        async def once() -> Response:
            return await self._send_once(
                method, path, requester, json_body, data, params, headers, ok, forgotten
            )

        return await self.transport.send(once, repeatable=repeatable)

    async def _send_once(
        self,
        method: str,
        path: str,
        requester: Requester,
        json_body: Any,
        data: bytes | None,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        ok: tuple[int, ...],
        forgotten: tuple[int, ...],
    ) -> Response:
        all_headers = requester.headers()
        if headers:
            all_headers = {**all_headers, **headers}
        response = await send_request(
            self.session,
            self.name,
            method,
            self.base_url.rstrip("/") + path,
            headers=all_headers,
            within=self.timeout,
            json_body=json_body,
            data=data,
            params=params,
        )
        if response.status in ok:
            return response
        if response.status in forgotten:
            raise AgencyForgot(self.name, f"the agency no longer knows it ({response.status})")
        raise status_error(self.name, response)


async def send_request(
    session: aiohttp.ClientSession,
    agency: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    within: float,
    json_body: Any = None,
    data: bytes | None = None,
    params: Mapping[str, str] | None = None,
) -> Response:
    """One HTTP request, whatever its status, answered ``within`` seconds; every library
    failure (timeout, connection, cut-off answer) becomes the ``AgencyError`` it means, so
    that connectors and the control client translate failures the same way."""
    if json_body is not None:
        if data is not None:
            raise ValueError("a request has a JSON body or data, not both")
        # Encoded here as aiohttp's json= would (the same bytes: ASCII, the agencies' specs
        # name no charset), without the payload object it builds around them.
        data = json.dumps(json_body).encode()
        headers = {"Content-Type": "application/json", **headers}
    try:
        async with session.request(
            method,
            url,
            data=data,
            params=params,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=within),
        ) as resp:
            body = await resp.read()
            return Response(resp.status, resp.headers, body)
    except TimeoutError as exc:
        raise AgencyTimeout(agency, f"no answer within {within:g} s") from exc
    except aiohttp.ClientPayloadError as exc:
        raise AgencyBadAnswer(agency, "answer was cut off") from exc
    except (aiohttp.ClientConnectionError, aiohttp.ClientResponseError) as exc:
        raise AgencyUnavailable(agency, f"connection failed ({type(exc).__name__})") from exc
    except aiohttp.ClientError as exc:
        raise AgencyUnavailable(agency, f"request failed ({type(exc).__name__})") from exc


def status_error(agency: str, response: Response) -> AgencyError:
    """The error an unwanted status means: 429 and 5xx may pass, other refusals will not."""
    status = response.status
    if status == 429:
        return AgencyRateLimited(
            agency, "rate limited (429)", retry_after=_retry_after(response.headers)
        )
    if status >= 500:
        if status == 503 and "Retry-After" in response.headers:
            return AgencyRateLimited(
                agency, "overloaded (503)", retry_after=_retry_after(response.headers)
            )
        return AgencyUnavailable(agency, f"agency error ({status})")
    return AgencyRejected(agency, f"request refused ({status})")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def field_doc(text: str, **kwargs: Any) -> Any:
    """A dataclass field documented for the README and the registry test."""
    return dataclasses.field(metadata={"doc": text}, **kwargs)
