"""The officers' pages in Debian's Chromium: a list dropped in becomes a batch whose progress the
page follows as it changes, a refused list is reported row by row on the page, and the result
workbook downloads and opens."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from mocks.population import sample_ids
from tests.conftest import CASE, Gateway
from tests.integration.web.conftest import ARTIFACTS, WAIT_MS, Tab

PEOPLE = [(n, i) for n, i in sample_ids(10, seed=51) if not i[0].isalpha()][:4]


def csv_file(rows: list[list[str]]) -> dict[str, Any]:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return {"name": "名单.csv", "mimeType": "text/csv", "buffer": out.getvalue().encode()}


async def signed_in_officer(gateway: Gateway, open_tab: Any) -> Tab:
    page: Tab = await open_tab(gateway)
    await page.sign_in("officer-team-a", await gateway.token("officer", "team-a"))
    await page.page.wait_for_url(f"{page.base}/batches")  # an officer's home
    return page


async def submit_list(page: Tab, file: dict[str, Any], agencies: set[str]) -> None:
    await page.page.fill("#case_number", CASE)
    await page.page.fill("#reason", "查询被执行人名下财产")
    for box in await page.page.query_selector_all('input[name="agency"]'):
        if await box.get_attribute("value") not in agencies:
            await box.uncheck()
    await page.page.set_input_files("#file", files=[file])  # type: ignore[list-item]
    await page.page.click("#submit")


async def test_a_list_becomes_a_batch_the_page_follows_and_its_workbook_downloads(
    gateway_factory: Any, tab: Any, tmp_path: Path
) -> None:
    # Held for a commander's approval (three or more people), so that the page is open while
    # the batch has not run, and must follow the change by itself.
    gateway: Gateway = await gateway_factory(approval_threshold=3)
    page = await signed_in_officer(gateway, tab)
    rows = [["姓名", "身份证号"], *[[n, i] for n, i in PEOPLE], [PEOPLE[0][0], PEOPLE[0][1]]]
    await submit_list(page, csv_file(rows), {"vehicle", "realestate"})
    await page.page.wait_for_url(f"{page.base}/batches/*")
    batch_id = page.page.url.rsplit("/", 1)[1]
    assert await page.page.text_content("#status") == "待审批"
    assert await page.page.text_content("#merged") == "1"  # the repeated row, asked once
    assert (
        await page.page.text_content('#progress tr[data-agency="vehicle"] [data-field="done"]')
        == "0"
    )

    commander = await gateway.headers("commander", None)
    approved = await gateway.client.post(f"/v1/batches/{batch_id}/approve", headers=commander)
    assert approved.status == 200, await approved.text()
    await page.page.wait_for_selector("#status.done", timeout=WAIT_MS)
    assert await page.page.text_content("#status") == "已完成"
    for agency in ("vehicle", "realestate"):
        cell = f'#progress tr[data-agency="{agency}"] [data-field="done"]'
        assert await page.page.text_content(cell) == str(len(PEOPLE))
    await page.screenshot("officer-batch")

    async with page.page.expect_download() as download:
        await page.page.click("#download")
    saved = tmp_path / "results.xlsx"
    await (await download.value).save_as(saved)
    book = load_workbook(saved, read_only=True)
    assert len(book.sheetnames) >= 3  # a summary and a sheet per agency asked
    book.close()
    assert page.errors == []
    assert page.left_loopback() == []


async def test_a_refused_list_is_reported_row_by_row_on_the_page(
    gateway: Gateway, tab: Any
) -> None:
    page = await signed_in_officer(gateway, tab)
    rows = [
        ["姓名", "身份证号"],
        [PEOPLE[0][0], PEOPLE[0][1]],
        ["王五", "12345"],
        ["", PEOPLE[1][1]],
    ]
    await submit_list(page, csv_file(rows), {"vehicle"})
    await page.page.wait_for_selector("#problems:not([hidden])", timeout=WAIT_MS)
    cells = await page.page.eval_on_selector_all(
        "#problems tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert sorted((row[0], row[1]) for row in cells) == [("3", "证件号码"), ("4", "姓名")]
    assert page.page.url.endswith("/batches")  # still on the list page: nothing was stored
    await page.screenshot("officer-refused")
    async with page.page.expect_download() as download:
        await page.page.click("#download-problems")
    assert (await download.value).suggested_filename == "problems.xlsx"
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM batches") == 0
    assert ARTIFACTS.joinpath("officer-refused.png").exists()


async def test_a_list_a_rule_refuses_is_explained_in_chinese_with_its_sheet_rows(
    gateway_factory: Any, tab: Any
) -> None:
    gateway: Gateway = await gateway_factory(requery_days=30)
    asked = await gateway.client.post(
        "/v1/batches",
        json={
            "case_number": CASE,
            "reason": "查询被执行人名下财产",
            "subjects": [{"name": PEOPLE[1][0], "id_number": PEOPLE[1][1]}],
        },
        headers=await gateway.headers(),
    )
    assert asked.status == 202, await asked.text()
    page = await signed_in_officer(gateway, tab)
    # the person asked a moment ago stands on the sheet's row 4 (a blank row before)
    rows = [["姓名", "身份证号"], [PEOPLE[0][0], PEOPLE[0][1]], [], [PEOPLE[1][0], PEOPLE[1][1]]]
    await submit_list(page, csv_file(rows), {"vehicle"})
    await page.page.wait_for_selector("#outcome:not([hidden])", timeout=WAIT_MS)
    message = await page.page.text_content("#outcome-message")
    assert message is not None
    assert message.startswith("名单中有本团队近期已查询过的人") and message.endswith("表格行号：4")
    assert PEOPLE[1][0] not in message
    await page.screenshot("officer-intercepted")
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM batches") == 1  # the first only
