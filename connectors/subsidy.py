"""乡镇协查 township offices: grain and farm direct subsidies paid (直补粮补).

Protocol: each township office keeps its own paged payment listing. ``GET /v1/townships``
lists the townships; ``POST /v1/townships/{code}/payments {"id_number", "page"}`` answers one
page ``{"payments": [...], "next_page": n | null}``. A person may be paid in several
townships, so the connector asks every township and pages through each to the end. The
identifier travels in the body, never in the URL, to keep it out of access logs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

from connectors._shape import ShapeError, answer_shape, array, integer, number, obj, text
from connectors.base import Answer, Connector, Found, NotFound, Requester, Subject, field_doc
from connectors.errors import AgencyBadAnswer

#: townships asked at once for one person: enough to hide latency, few enough to stay polite
TOWNSHIP_CONCURRENCY = 4
#: a listing longer than this is a broken agency, not a rich farmer
MAX_PAGES = 100


@dataclass(frozen=True, slots=True)
class SubsidyPayment:
    """One subsidy payment made to the subject."""

    township_code: str = field_doc("code of the paying township office (乡镇代码)")
    township: str = field_doc("name of the paying township (乡镇)")
    year: int = field_doc("subsidy year")
    kind: str = field_doc("subsidy kind (补贴种类), e.g. 耕地地力保护补贴")
    amount: float = field_doc("amount paid in yuan")
    bank: str = field_doc("paying bank (发放银行)")
    account: str = field_doc("account the payment went to (惠农一卡通账号): a freezing target")


@dataclass(frozen=True, slots=True)
class SubsidyRecord:
    """Every subsidy payment found in any township."""

    payments: list[SubsidyPayment] = field_doc(
        "payments, ordered by township code, year, kind, amount"
    )


@dataclass
class SubsidyConnector(Connector):
    name: ClassVar[str] = "subsidy"
    title: ClassVar[str] = "乡镇协查(直补粮补)"
    max_group: ClassVar[int] = 1
    record_type: ClassVar[type] = SubsidyRecord

    async def query(self, subjects: Sequence[Subject], requester: Requester) -> list[Answer]:
        return [await self._one(subject, requester) for subject in subjects]

    async def _one(self, subject: Subject, requester: Requester) -> Answer:
        # Subsidies are paid to farming households, never to organisations.
        if subject.kind != "person":
            return NotFound()
        townships = await self._townships(requester)
        gate = asyncio.Semaphore(TOWNSHIP_CONCURRENCY)

        async def one_township(code: str, name: str) -> list[SubsidyPayment]:
            async with gate:
                return await self._payments(code, name, subject.id_number, requester)

        tasks = [asyncio.create_task(one_township(c, n)) for c, n in townships]
        try:
            listings = await asyncio.gather(*tasks)
        except BaseException:
            # The answer is all townships or none: stop the others at the first failure and
            # raise that AgencyError itself (a TaskGroup would wrap it in an ExceptionGroup).
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        payments = [p for listing in listings for p in listing]
        if not payments:
            return NotFound()
        payments.sort(key=lambda p: (p.township_code, p.year, p.kind, p.amount))
        return Found(SubsidyRecord(payments))

    async def _townships(self, requester: Requester) -> list[tuple[str, str]]:
        response = await self._send("GET", "/v1/townships", requester)
        with answer_shape(self.name):
            items = array(obj(response.json(self.name), "answer"), "townships")
            townships = [(text(obj(t, "township"), "code"), text(t, "name")) for t in items]
            if len({code for code, _ in townships}) != len(townships):
                raise ShapeError("township codes repeat")
            return townships

    async def _payments(
        self, code: str, township: str, id_number: str, requester: Requester
    ) -> list[SubsidyPayment]:
        path = f"/v1/townships/{quote(code, safe='')}/payments"
        payments: list[SubsidyPayment] = []
        page = 1
        for _ in range(MAX_PAGES):
            body = {"id_number": id_number, "page": page}
            response = await self._send("POST", path, requester, json_body=body)
            with answer_shape(self.name):
                data = obj(response.json(self.name), "answer")
                if integer(data, "page") != page:
                    raise ShapeError("answer is for a different page")
                payments.extend(_payment(code, township, p) for p in array(data, "payments"))
                next_page = data.get("next_page")
                if next_page is None:
                    return payments
                if isinstance(next_page, bool) or not isinstance(next_page, int):
                    raise ShapeError("field 'next_page' is not an integer")
                if next_page <= page:
                    raise ShapeError("field 'next_page' does not advance")
                page = next_page
        raise AgencyBadAnswer(self.name, f"listing runs past {MAX_PAGES} pages")


def _payment(code: str, township: str, item: Any) -> SubsidyPayment:
    data = obj(item, "payment")
    return SubsidyPayment(
        township_code=code,
        township=township,
        year=integer(data, "year"),
        kind=text(data, "kind"),
        amount=number(data, "amount"),
        bank=text(data, "bank"),
        account=text(data, "account"),
    )
