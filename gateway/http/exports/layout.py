"""What an officer reads: each agency's sheet (its columns, Chinese headers, one row per asset)
and the few words that summarise one agency's answer about one person.

The columns follow the connectors' result dataclasses field by field (``connectors/*.py``;
a test checks every field is shown and no column names a field the connector does not
produce). Codes the connectors keep in English ('male', 'mortgage', 'seized') are shown in
the words officers use; a code not listed here is shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from connectors.registry import AGENCIES, connector_classes
from gateway.core.assets import ASSET_LISTS, assets_found
from gateway.core.jsonvalues import as_list, as_object

SEX: Mapping[str, str] = {"male": "男", "female": "女"}
OWNERSHIP: Mapping[str, str] = {"sole": "单独所有", "joint": "共同共有", "by_share": "按份共有"}
BURDENS: Mapping[str, str] = {"mortgage": "抵押", "seal": "查封", "objection": "异议登记"}
VEHICLE_STATUS: Mapping[str, str] = {
    "normal": "正常",
    "mortgaged": "抵押",
    "seized": "查封",
    "scrapped": "报废",
}
POLICE_STATUS: Mapping[str, str] = {"accepted": "已受理", "dispatched": "已派警"}
#: a result that found nothing, or no answer (yet): the words in its summary cell
STATUS_WORDS: Mapping[str, str] = {
    "found": "查得",
    "not_found": "未见",
    "failed": "查询失败",
    "waiting": "待重试",
    "pending": "查询中",
    "cancelled": "已取消",
}
BATCH_STATUS: Mapping[str, str] = {
    "queued": "排队中",
    "running": "查询中",
    "done": "已完成",
    "cancelled": "已取消",
    "pending_approval": "待审批",
    "rejected": "已驳回",
}
#: the person's columns, first on every sheet so officers can filter any sheet by person
PERSON_HEADERS = ("序号", "姓名/名称", "证件号码")
PERSON_WIDTHS = (6, 16, 20)
AMOUNT_FORMAT = "#,##0.00"
AREA_FORMAT = "0.00"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of an agency's sheet: ``field`` of the record (or of one of its list's
    entries) under ``header``, ``width`` characters wide for a typical value."""

    header: str
    field: str
    width: int
    show: Callable[[Any], Any] | None = None  # from the field's value; None: as it is
    number_format: str | None = None

    def value(self, entry: Mapping[str, Any]) -> Any:
        raw = entry.get(self.field)
        return self.show(raw) if self.show is not None else raw


@dataclass(frozen=True, slots=True)
class AgencySheet:
    """An agency's sheet: one row per entry of the record's list ``entries`` (an asset), or
    one row per record when ``entries`` is None (identity, whereabouts)."""

    agency: str
    entries: str | None
    columns: tuple[Column, ...]

    def rows(self, data: Mapping[str, Any]) -> list[list[Any]]:
        found: list[Mapping[str, Any]] = [data]
        if self.entries is not None:
            listed = (as_object(e) for e in as_list(data.get(self.entries)) or [])
            found = [e for e in listed if e is not None]
        return [[c.value(entry) for c in self.columns] for entry in found]


def _word(words: Mapping[str, str]) -> Callable[[Any], Any]:
    return lambda code: words.get(code, code) if isinstance(code, str) else code


def _burdens(kind: str) -> Callable[[Any], str]:
    """The encumbrances of one kind on a property: holder and date, one after another."""

    def show(value: Any) -> str:
        entries = [as_object(e) or {} for e in as_list(value) or []]
        return "；".join(
            f"{e.get('holder', '')} {e.get('registered_on', '')}".strip()
            for e in entries
            if e.get("kind") == kind
        )

    return show


def _photo_returned(photo: Any) -> str:
    # The household connector fetches the photo whenever it was asked for (else the inquiry
    # fails), so a record without one is a batch that asked for the identity only.
    return "有" if as_object(photo) is not None else "未查询"


SHEETS: Mapping[str, AgencySheet] = {
    "household": AgencySheet(
        "household",
        None,
        (
            Column("登记姓名", "name", 10),
            Column("性别", "sex", 4, _word(SEX)),
            Column("出生日期", "birth_date", 10),
            Column("民族", "ethnicity", 6),
            Column("户籍地址", "address", 40),
            Column("户主姓名", "household_head", 10),
            Column("与户主关系", "relation_to_head", 8),
            Column("照片", "photo", 6, _photo_returned),
        ),
    ),
    "realestate": AgencySheet(
        "realestate",
        "properties",
        (
            Column("不动产权证书号", "certificate_number", 32),
            Column("坐落", "address", 40),
            Column("面积(㎡)", "area_m2", 8, number_format=AREA_FORMAT),
            Column("用途", "use", 8),
            Column("共有方式", "ownership", 8, _word(OWNERSHIP)),
            Column("份额", "share", 6),
            *(Column(word, "encumbrances", 24, _burdens(kind)) for kind, word in BURDENS.items()),
        ),
    ),
    "vehicle": AgencySheet(
        "vehicle",
        "vehicles",
        (
            Column("号牌号码", "plate", 10),
            Column("车辆类型", "vehicle_type", 12),
            Column("品牌型号", "brand_model", 20),
            Column("车架号后六位", "vin_last6", 8),
            Column("初次登记日期", "registered_on", 10),
            Column("状态", "status", 6, _word(VEHICLE_STATUS)),
        ),
    ),
    "forestry": AgencySheet(
        "forestry",
        "certificates",
        (
            Column("林权证号", "certificate_number", 24),
            Column("坐落", "location", 40),
            Column("面积(亩)", "area_mu", 8, number_format=AREA_FORMAT),
            Column("树种", "species", 8),
            Column("权利类型", "right_type", 12),
            Column("起始日期", "term_start", 10),
            Column("终止日期", "term_end", 10),
        ),
    ),
    "subsidy": AgencySheet(
        "subsidy",
        "payments",
        (
            Column("乡镇代码", "township_code", 10),
            Column("乡镇", "township", 16),
            Column("年度", "year", 6),
            Column("补贴种类", "kind", 18),
            Column("金额(元)", "amount", 10, number_format=AMOUNT_FORMAT),
            Column("发放银行", "bank", 22),
            Column("账号", "account", 22),
        ),
    ),
    "police": AgencySheet(
        "police",
        None,
        (
            Column("回执号", "ack_number", 20),
            Column("状态", "status", 6, _word(POLICE_STATUS)),
            Column("管辖派出所", "police_station", 30),
            Column("户籍地址", "registered_address", 40),
            Column("现住址/最后出现地", "last_known_address", 40),
            Column("最后确认日期", "last_seen_on", 10),
        ),
    ),
}


@cache
def titles() -> dict[str, str]:
    """Each agency's Chinese title (the connector's ``title``), by its stable name."""
    return {name: cls.title for name, cls in connector_classes().items()}


def ordered(agencies: list[str]) -> list[str]:
    """A batch's agencies in the registry's order (the command centre's), then any other."""
    return [a for a in AGENCIES if a in agencies] + [a for a in agencies if a not in AGENCIES]


def _number(value: float) -> str:
    """12.0 -> '12', 12.345 -> '12.35', 12345.6 -> '12,345.6'."""
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _total(entries: list[dict[str, Any]], field: str) -> float:
    return sum(v for e in entries if isinstance(v := e.get(field), int | float))


def _found_words(agency: str, data: dict[str, Any]) -> str:
    key = ASSET_LISTS.get(agency)
    entries = [as_object(e) or {} for e in as_list(data.get(key)) or []] if key else []
    if agency == "realestate":
        burdens = [
            f"{word}{n}"
            for kind, word in BURDENS.items()
            if (n := sum(bool(_burdens(kind)(p.get("encumbrances"))) for p in entries))
        ]
        return f"{len(entries)}处" + (f"（{'，'.join(burdens)}）" if burdens else "")
    if agency == "vehicle":
        if len(entries) != 1:
            return f"{len(entries)}辆"
        (vehicle,) = entries
        status = vehicle.get("status")
        words = [str(vehicle.get("plate", "")), str(vehicle.get("vehicle_type", ""))]
        if status != "normal":
            words.append(str(_word(VEHICLE_STATUS)(status)))
        return " ".join(w for w in words if w)
    if agency == "forestry":
        return f"{len(entries)}本 {_number(_total(entries, 'area_mu'))}亩"
    if agency == "subsidy":
        accounts = assets_found(agency, data) or 0
        return f"{len(entries)}笔 {_number(_total(entries, 'amount'))}元 {accounts}个账户"
    if agency == "household":
        parts = ["已登记"] if data.get("sex") is not None else []
        if as_object(data.get("photo")) is not None:
            parts.append("有照片")
        return "，".join(parts) or "查得"
    if agency == "police":
        return str(_word(POLICE_STATUS)(data.get("status"))) or "查得"
    return "查得"


def summarise(agency: str, status: str, data: Any, batch_status: str = "") -> str:
    """What one agency's answer about one person says, in a few words: "2处（抵押1）",
    "吉C12345 小型轿车", "未见", "查询失败" ..."""
    record = as_object(data)
    if status == "found" and record is not None:
        return _found_words(agency, record)
    if status == "pending" and batch_status == "pending_approval":
        return "待审批"
    if status == "cancelled" and batch_status == "rejected":
        return "未获批准"
    return STATUS_WORDS.get(status, status)
