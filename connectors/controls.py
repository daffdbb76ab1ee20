"""Control actions: have an agency freeze (冻结), seal (查封) or seize (扣押) an asset found.

A thin client for the control desk of the four asset agencies, beside the inquiry connectors
(it asks nothing about a subject; it acts on what an inquiry found). Protocol (JSON, with the
requester headers of every agency call)::

    POST /v1/controls                     hold: 200 {receipt_no, state: in_effect | queued,
                                          position, effective_on, expires_on}
    POST /v1/controls/{receipt}/renew     续行 before the term ends: 200 {..., expires_on}
    POST /v1/controls/{receipt}/release   解除: 200 {receipt_no, state: released, released_on}
    GET  /v1/controls/{receipt}?on=DATE   the hold as of DATE (in_effect, queued, released,
                                          expired)

A hold waits in line (轮候, ``queued`` with its ``position``) while another court holds the
asset, and takes effect when that hold is released or lapses. Every POST carries an
idempotency key: the same key and body get the same answer and change nothing, so a control
request that timed out may be sent again (which is why every request here is ``repeatable``
for the transport); the same key with another body is refused (``key_reused``).

A refusal (422, 404 or 409 with a ``code``) raises ``ControlRefused``; its codes are
``REFUSAL_CODES``. Timeouts, broken connections, 429 and 5xx raise the same ``AgencyError``
subclasses as inquiries (``connectors.base.send_request`` and ``status_error``); an answer
that does not fit the request raises ``AgencyBadAnswer``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal, get_args
from urllib.parse import quote

import aiohttp

from connectors._shape import ShapeError, answer_shape, integer, iso_date, obj, text
from connectors.base import (
    Requester,
    Response,
    SendOnce,
    Subject,
    Transport,
    send_request,
    status_error,
)
from connectors.errors import AgencyBadAnswer, ControlRefused

ControlAction = Literal["seal", "seize", "freeze"]
ControlState = Literal["in_effect", "queued", "released", "expired"]
#: every action, in the order reports list them
ACTIONS: tuple[ControlAction, ...] = get_args(ControlAction)

#: what each agency's control desk does: sealing real estate, forest rights and vehicles,
#: seizing vehicles, freezing subsidy accounts
CONTROL_ACTIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "realestate": frozenset({"seal"}),
        "vehicle": frozenset({"seal", "seize"}),
        "forestry": frozenset({"seal"}),
        "subsidy": frozenset({"freeze"}),
    }
)
#: where an inquiry's record names the assets a control may act on: (the record's list
#: field, the identifier field of each entry), e.g. ``Found.to_json()["properties"][i]
#: ["certificate_number"]`` is what ``HoldOrder.asset`` holds
ASSET_FIELDS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "realestate": ("properties", "certificate_number"),
        "vehicle": ("vehicles", "plate"),
        "forestry": ("certificates", "certificate_number"),
        "subsidy": ("payments", "account"),
    }
)
#: the refusals the desks answer, and what they mean
REFUSAL_CODES: Mapping[str, str] = MappingProxyType(
    {
        "unknown_asset": "the asset is not in the subject's record at this agency",
        "not_allowed": "the agency does not take this action",
        "already_held": "this court already holds the asset or waits in line for it",
        "bad_request": "the request is malformed",
        "key_reused": "the idempotency key was used for another request",
        "expired": "the hold's term has ended: it cannot be renewed or released",
        "released": "the hold was released: it cannot be renewed",
        "not_in_effect": "the hold waits in line: it cannot be renewed yet",
        "unknown_receipt": "the agency never issued this receipt",
    }
)
#: statuses a desk refuses with, naming the refusal's code in the body
REFUSAL_STATUSES = (404, 409, 422)
#: how much of an agency's refusal text is kept, and what is blanked out of it: runs of
#: letters and digits as long as a resident ID, credit code or account number
MAX_REASON = 200
_IDENTIFIER_LIKE = re.compile(r"[0-9A-Za-z]{15,}")
#: a refusal code is a short word, never free text
_CODE = re.compile(r"[a-z][a-z_]{0,39}")
_STATES: dict[str, ControlState] = {
    "in_effect": "in_effect",
    "queued": "queued",
    "released": "released",
    "expired": "expired",
}


@dataclass(frozen=True, slots=True)
class HoldOrder:
    """A court's order to hold one asset of one subject (the 协助执行通知书)."""

    idempotency_key: str
    court: str
    case_number: str
    action: ControlAction
    subject: Subject
    #: the identifier at ``ASSET_FIELDS[agency]`` in the subject's record
    asset: str
    term_days: int
    #: the sum to freeze (required for ``freeze``); None for a seal or seizure of the thing
    amount: Decimal | None
    order_date: date

    def to_json(self) -> dict[str, Any]:
        return {
            "idempotency_key": self.idempotency_key,
            "court": self.court,
            "case_number": self.case_number,
            "action": self.action,
            "subject": dataclasses.asdict(self.subject),
            "asset": self.asset,
            "term_days": self.term_days,
            "amount": None if self.amount is None else f"{self.amount:f}",
            "order_date": self.order_date.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ControlAnswer:
    """A hold as the agency answered about it (its electronic receipt, 回执)."""

    state: ControlState
    receipt_no: str
    #: place in line while ``queued`` (1: next to take effect); None otherwise
    position: int | None = None
    #: first and last day the hold is in effect (the last one included)
    effective_on: date | None = None
    expires_on: date | None = None
    released_on: date | None = None


@dataclass
class ControlClient:
    """One agency's control desk: a shared session, a base URL, a per-request timeout."""

    session: aiohttp.ClientSession
    agency: str
    base_url: str
    timeout: float = 10.0
    transport: Transport = dataclasses.field(default_factory=SendOnce)

    def __post_init__(self) -> None:
        if self.agency not in CONTROL_ACTIONS:
            raise ValueError(f"{self.agency!r} takes no control actions")

    async def hold(self, order: HoldOrder, requester: Requester) -> ControlAnswer:
        """Ask the agency to hold ``order.asset``: in effect now, or queued behind another."""
        body = order.to_json()
        answer = await self._request("POST", "/v1/controls", requester, body)
        return self._answer(answer, None, ("in_effect", "queued"))

    async def renew(
        self,
        receipt_no: str,
        idempotency_key: str,
        term_days: int,
        order_date: date,
        requester: Requester,
    ) -> ControlAnswer:
        """Extend a hold in effect by ``term_days`` past its current last day (续行)."""
        body = {
            "idempotency_key": idempotency_key,
            "term_days": term_days,
            "order_date": order_date.isoformat(),
        }
        path = f"/v1/controls/{quote(receipt_no, safe='')}/renew"
        answer = await self._request("POST", path, requester, body)
        return self._answer(answer, receipt_no, ("in_effect",))

    async def release(
        self, receipt_no: str, idempotency_key: str, order_date: date, requester: Requester
    ) -> ControlAnswer:
        """Release a hold (解除); the next court in line, if any, takes effect."""
        body = {"idempotency_key": idempotency_key, "order_date": order_date.isoformat()}
        path = f"/v1/controls/{quote(receipt_no, safe='')}/release"
        answer = await self._request("POST", path, requester, body)
        return self._answer(answer, receipt_no, ("released",))

    async def status(
        self, receipt_no: str, requester: Requester, on: date | None = None
    ) -> ControlAnswer:
        """The hold as of ``on`` (default: the agency's today)."""
        params = None if on is None else {"on": on.isoformat()}
        path = f"/v1/controls/{quote(receipt_no, safe='')}"
        answer = await self._request("GET", path, requester, None, params)
        return self._answer(answer, receipt_no, tuple(_STATES.values()))

    async def _request(
        self,
        method: str,
        path: str,
        requester: Requester,
        body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """One request through the transport; a refusal raises ``ControlRefused``."""

        async def once() -> Response:
            response = await send_request(
                self.session,
                self.agency,
                method,
                self.base_url.rstrip("/") + path,
                headers=requester.headers(),
                within=self.timeout,
                json_body=body,
                params=params,
            )
            if response.status == 200:
                return response
            raise _refusal(self.agency, response) or status_error(self.agency, response)

        response = await self.transport.send(once, repeatable=True)
        return response.json(self.agency)

    def _answer(
        self, answer: Any, receipt_no: str | None, expected: tuple[ControlState, ...]
    ) -> ControlAnswer:
        with answer_shape(self.agency):
            data = obj(answer, "answer")
            got = ControlAnswer(
                state=_state(text(data, "state")),
                receipt_no=text(data, "receipt_no"),
                position=_optional_int(data, "position"),
                effective_on=_optional_date(data, "effective_on"),
                expires_on=_optional_date(data, "expires_on"),
                released_on=_optional_date(data, "released_on"),
            )
            if receipt_no is not None and got.receipt_no != receipt_no:
                raise ShapeError("field 'receipt_no' is not the receipt asked about")
            if got.state not in expected:
                raise ShapeError("field 'state' does not fit the request")
            if got.state == "queued" and (got.position is None or got.position < 1):
                raise ShapeError("field 'position' is missing for a queued hold")
            if got.state == "in_effect" and (got.effective_on is None or got.expires_on is None):
                raise ShapeError("a hold in effect needs 'effective_on' and 'expires_on'")
            return got


def _refusal(agency: str, response: Response) -> ControlRefused | None:
    """The desk's refusal in ``response``, or None when it is not one (a proxy's 404, a
    refusal without a code): that is then an ordinary rejection."""
    if response.status not in REFUSAL_STATUSES:
        return None
    try:
        data = obj(response.json(agency), "refusal")
        code = text(data, "code")
    except (AgencyBadAnswer, ShapeError):
        return None
    if not _CODE.fullmatch(code):
        return None
    refused = data.get("refused")
    reason = None
    if isinstance(refused, str) and refused.strip():
        reason = _IDENTIFIER_LIKE.sub("…", refused.strip())[:MAX_REASON]
    return ControlRefused(agency, code, reason)


def _state(value: str) -> ControlState:
    if value not in _STATES:
        raise ShapeError("field 'state' has an unknown value")
    return _STATES[value]


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    return None if data.get(key) is None else integer(data, key)


def _optional_date(data: Mapping[str, Any], key: str) -> date | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ShapeError(f"field {key!r} is not a date")
    return date.fromisoformat(iso_date(value, key))
