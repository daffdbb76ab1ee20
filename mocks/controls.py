"""Control actions at the four asset agencies: 冻结 freeze, 查封 seal, 扣押 seize.

One module for all four desks; ``DESKS`` says what differs (actions taken, where the asset
identifier is in the subject's record, the receipt prefix). The protocol (JSON, requester
headers, the agency's latency, limits and faults, like its inquiries; the forestry bureau
speaks JSON here even though its inquiries are XML, as provincial control platforms do)::

    POST /v1/controls                       {idempotency_key, court, case_number, action,
                                             subject, asset, term_days, amount, order_date}
    POST /v1/controls/{receipt}/renew       {idempotency_key, term_days, order_date}
    POST /v1/controls/{receipt}/release     {idempotency_key, order_date}
    GET  /v1/controls/{receipt}?on=DATE     the hold as of DATE (default: the mock's today)

A hold takes effect at once, or waits in line (轮候) behind another court's hold on the same
asset and takes effect when that one is released or lapses. Refusals are 422 (404 for a
receipt never issued, 409 for a reused key) with ``{"code", "refused"}``. Every POST is
idempotent by its key: the same key and body get the first answer again, refusals included,
and change nothing. Routes and keys: ``mocks.control_routes``.

The mock trusts ``order_date`` as "today", so tests inject the clock through the request;
dates are expected not to go backwards. Holds, remembered answers and the receipt counter
survive a restart when the control gives a state file (``AgencyControl.control_state``),
rewritten whole (temporary file, then ``os.replace``) after every change: a stand-in keeps
a few holds, not a register, so a small synchronous write is simpler than a database.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

from mocks import assets
from mocks.faults import ConfigError
from mocks.http import BadRequest, subject_of
from mocks.people import Kind

ACTIONS = ("seal", "seize", "freeze")
#: the longest term a request may ask for; the legal caps are the gateway's settings
MAX_TERM_DAYS = 3660
STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Desk:
    """One agency's control desk: what it takes, what it recognises, how it numbers."""

    actions: frozenset[str]
    #: the asset identifiers in the subject's record, read from the same ``mocks.assets``
    #: record the agency's inquiry endpoint serves
    identifiers: Callable[[str, Kind], Iterable[str]]
    receipt_prefix: str


DESKS: dict[str, Desk] = {
    "realestate": Desk(
        frozenset({"seal"}),
        lambda i, k: (p["certificate_no"] for p in assets.realestate(i, k)),
        "BDCKZ",
    ),
    "vehicle": Desk(
        frozenset({"seal", "seize"}),
        lambda i, k: (v["plate"] for v in assets.vehicles(i, k)),
        "CLKZ",
    ),
    "forestry": Desk(
        frozenset({"seal"}), lambda i, k: (c["Number"] for c in assets.forestry(i, k)), "LQKZ"
    ),
    "subsidy": Desk(
        frozenset({"freeze"}),
        lambda i, k: (p["account"] for rows in assets.subsidy(i, k).values() for p in rows),
        "BTDJ",
    ),
}


class Refused(Exception):
    """A refusal the desk answers (and remembers under the request's key)."""

    def __init__(self, code: str, reason: str, status: int = 422) -> None:
        super().__init__(code)
        self.code, self.reason, self.status = code, reason, status

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "refused": self.reason}


def bad_request(detail: str) -> Refused:
    return Refused("bad_request", f"请求有误：{detail}")


@dataclass(slots=True)
class Hold:
    """One court's hold on one asset. ``state`` is stored as in_effect, queued or released;
    'expired' is read off ``expires_on`` against the day asked about."""

    receipt_no: str
    court: str
    case_number: str
    action: str
    asset: str
    term_days: int
    amount: str | None
    ordered_on: date
    state: str
    effective_on: date | None = None
    expires_on: date | None = None
    released_on: date | None = None

    def take_effect(self, day: date) -> None:
        self.state, self.effective_on = "in_effect", day
        self.expires_on = day + timedelta(days=self.term_days - 1)

    def state_on(self, day: date) -> str:
        lapsed = self.expires_on is not None and self.expires_on < day
        return "expired" if self.state == "in_effect" and lapsed else self.state

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in data.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Hold:
        days = ("ordered_on", "effective_on", "expires_on", "released_on")
        values: dict[str, Any] = {
            k: date.fromisoformat(v) if k in days and v else v for k, v in data.items()
        }
        return cls(**values)


def day_of(data: Mapping[str, Any], key: str) -> date:
    value = data.get(key)
    if not isinstance(value, str) or len(value) != 10:
        raise bad_request(f"{key} 须为 YYYY-MM-DD 日期")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise bad_request(f"{key} 须为 YYYY-MM-DD 日期") from None


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"缺少 {key}")
    return value.strip()


def _term(data: Mapping[str, Any]) -> int:
    value = data.get("term_days")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_TERM_DAYS:
        raise bad_request(f"term_days 须为 1 至 {MAX_TERM_DAYS} 的整数")
    return value


def _amount(data: Mapping[str, Any], required: bool) -> str | None:
    value = data.get("amount")
    if value is None and not required:
        return None
    try:
        amount = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise bad_request("amount 须为正数金额字符串")
    return value


class HoldBook:
    """Every hold one desk issued, the answers given by idempotency key, the receipt counter."""

    def __init__(self, agency: str, path: Path | None) -> None:
        self.agency, self.desk, self.path = agency, DESKS[agency], path
        self.holds: list[Hold] = []
        self.answers: dict[str, dict[str, Any]] = {}
        self.issued = 0
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            if state.get("version") != STATE_VERSION:
                raise ValueError("unknown version")
            self.holds = [Hold.from_json(item) for item in state["holds"]]
            self.answers = dict(state["answers"])
            self.issued = int(state["issued"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{self.agency}: control state {path} is unreadable") from exc

    def save(self) -> None:
        if self.path is None:
            return
        state = {
            "version": STATE_VERSION,
            "issued": self.issued,
            "holds": [hold.to_json() for hold in self.holds],
            "answers": self.answers,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(state, out, ensure_ascii=False)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def clear(self) -> None:
        self.holds, self.answers, self.issued = [], {}, 0
        self.save()

    def find(self, receipt_no: str) -> Hold:
        for hold in self.holds:
            if hold.receipt_no == receipt_no:
                return hold
        raise Refused("unknown_receipt", "无此回执", 404)

    def settle(self, asset: str, day: date, holds: list[Hold] | None = None) -> None:
        """Bring the line on ``asset`` up to ``day``: when the hold in effect lapsed, the first
        in line took effect the next day (it may have lapsed since, too)."""
        line = [h for h in (self.holds if holds is None else holds) if h.asset == asset]
        while True:
            current = [h for h in line if h.state == "in_effect"]
            waiting = [h for h in line if h.state == "queued"]
            holder = current[-1] if current else None
            if not waiting or holder is None or holder.state_on(day) != "expired":
                return
            assert holder.expires_on is not None
            waiting[0].take_effect(holder.expires_on + timedelta(days=1))

    def hold(self, data: Mapping[str, Any]) -> dict[str, Any]:
        action = _text(data, "action")
        if action not in ACTIONS:
            raise bad_request("action 须为 seal、seize 或 freeze")
        if action not in self.desk.actions:
            raise Refused("not_allowed", "本机关不办理该控制措施")
        court, case_number = _text(data, "court"), _text(data, "case_number")
        asset, term = _text(data, "asset"), _term(data)
        amount = _amount(data, required=action == "freeze")
        today = day_of(data, "order_date")
        subject: Any = data.get("subject")
        if not isinstance(subject, dict):
            raise bad_request("缺少 subject")
        try:
            id_number, kind = subject_of(cast("dict[str, Any]", subject))
        except BadRequest as exc:
            raise bad_request(exc.message) from exc
        _text(cast("dict[str, Any]", subject), "name")
        if asset not in set(self.desk.identifiers(id_number, kind)):
            raise Refused("unknown_asset", "该财产不在被执行人名下")
        self.settle(asset, today)
        line = [h for h in self.holds if h.asset == asset and h.state_on(today) != "expired"]
        if any(h.court == court and h.state in ("in_effect", "queued") for h in line):
            raise Refused("already_held", "本院已对该财产采取控制措施")
        self.issued += 1
        hold = Hold(
            receipt_no=f"{self.desk.receipt_prefix}-{self.issued:06d}",
            court=court,
            case_number=case_number,
            action=action,
            asset=asset,
            term_days=term,
            amount=amount,
            ordered_on=today,
            state="queued",
        )
        if not any(h.state == "in_effect" for h in line):
            hold.take_effect(today)
        self.holds.append(hold)
        return self._answer(hold, ("position", "effective_on", "expires_on"))

    def renew(self, receipt_no: str, data: Mapping[str, Any]) -> dict[str, Any]:
        hold = self.find(receipt_no)
        term, today = _term(data), day_of(data, "order_date")
        self.settle(hold.asset, today)
        state = hold.state_on(today)
        if state == "expired":
            raise Refused("expired", "控制期限已届满，不能续行")
        if state == "released":
            raise Refused("released", "该控制措施已解除")
        if state != "in_effect" or hold.expires_on is None:
            raise Refused("not_in_effect", "该控制措施尚未生效（轮候中）")
        hold.expires_on += timedelta(days=term)
        return self._answer(hold, ("effective_on", "expires_on"))

    def release(self, receipt_no: str, data: Mapping[str, Any]) -> dict[str, Any]:
        hold = self.find(receipt_no)
        today = day_of(data, "order_date")
        self.settle(hold.asset, today)
        state = hold.state_on(today)
        if state == "expired":
            raise Refused("expired", "控制期限已届满，无需解除")
        if state != "released":
            hold.state, hold.released_on = "released", today
            waiting = [h for h in self.holds if h.asset == hold.asset and h.state == "queued"]
            if waiting and hold.effective_on is not None:
                waiting[0].take_effect(today)
        return self._answer(hold, ("released_on",))

    def view(self, receipt_no: str, day: date) -> dict[str, Any]:
        """The hold as of ``day``, its line settled on copies: a look changes nothing."""
        hold = self.find(receipt_no)
        copies = [dataclasses.replace(h) for h in self.holds]
        self.settle(hold.asset, day, copies)
        seen = copies[self.holds.index(hold)]
        data = {**seen.to_json(), "position": position(copies, seen)}
        shown = ("position", "effective_on", "expires_on", "released_on")
        return {
            "receipt_no": seen.receipt_no,
            "state": seen.state_on(day),
            **{k: data[k] for k in (*shown, "court", "case_number", "asset", "action")},
        }

    def listing(self) -> list[dict[str, Any]]:
        return [{**h.to_json(), "position": position(self.holds, h)} for h in self.holds]

    def _answer(self, hold: Hold, fields: tuple[str, ...]) -> dict[str, Any]:
        data = {**hold.to_json(), "position": position(self.holds, hold)}
        return {"receipt_no": hold.receipt_no, "state": hold.state, **{k: data[k] for k in fields}}


def position(holds: list[Hold], hold: Hold) -> int | None:
    """1 + the holds queued on the same asset before ``hold``; None unless it is queued."""
    if hold.state != "queued":
        return None
    ahead = holds[: holds.index(hold)]
    return 1 + sum(h.asset == hold.asset and h.state == "queued" for h in ahead)


def state_file(state_dir: Path | None, agency: str) -> Path | None:
    """Where ``agency`` keeps its control state under ``state_dir``; None without a desk."""
    if state_dir is None or agency not in DESKS:
        return None
    return state_dir / f"{agency}-controls.json"
