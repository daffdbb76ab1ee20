"""Control actions in Debian's Chromium: an officer asks for a seal on a property from the
batch's page, a commander approves it on the wall, the officer's holds page shows it in effect
with the agency's receipt and, inside the window, the reminder and a renewal; the officer
closes the case (终本) and its page shows the schedule."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from gateway.accountability.calendar import ControlCalendar
from gateway.http.keys import CONTROL_SENDER, CONTROLS, POOL
from tests.conftest import CASE, Gateway
from tests.integration.controls.helpers import (
    assets_of,
    debtor_with_assets,
    file_case,
    first_of_june,
    found_batch,
)
from tests.integration.web.conftest import WAIT_MS, Tab


async def signed_in(gateway: Gateway, open_tab: Any, role: str, team: str | None) -> Tab:
    page: Tab = await open_tab(gateway)
    await page.sign_in(f"{role}-{team}", await gateway.token(role, team))
    await page.page.wait_for_load_state()
    return page


async def test_from_a_found_property_to_a_seal_in_effect_and_its_renewal(
    gateway_factory: Any, tab: Any, mocks: Any
) -> None:
    clock = first_of_june()
    gateway: Gateway = await gateway_factory(clock=clock)
    await file_case(gateway)
    debtor = debtor_with_assets(mocks, ("realestate", "vehicle"))
    batch_id = await found_batch(gateway, debtor, ("realestate", "vehicle"))
    certificate = assets_of(mocks, "realestate", debtor[1])[0]

    officer = await signed_in(gateway, tab, "officer", "team-a")
    await officer.page.goto(f"{officer.base}/batches/{batch_id}")
    row = officer.page.locator(f'#asset-list tr[data-asset="{certificate}"]')
    assert debtor[0] in (await row.text_content() or "")
    await row.locator('input[name="reason"]').fill("被执行人拒不履行，查封其名下房产")
    await row.locator("button").click()
    await officer.page.wait_for_url(f"{officer.base}/batches/{batch_id}#assets")
    row = officer.page.locator(f'#asset-list tr[data-asset="{certificate}"]')
    assert "待审批" in (await row.text_content() or "")
    await officer.screenshot("control-asked")

    commander = await signed_in(gateway, tab, "commander", None)
    await commander.page.goto(f"{commander.base}/dashboard")
    pending = commander.page.locator("#controls-pending li[data-control]")
    await pending.first.wait_for(timeout=WAIT_MS)
    control_id = int(await pending.first.get_attribute("data-control") or "0")
    await commander.screenshot("dashboard-controls")
    await pending.first.locator("button.approve").click()
    await commander.page.wait_for_url(f"{commander.base}/dashboard")
    sender = gateway.client.app[CONTROL_SENDER]
    await asyncio.wait_for(sender.wait_answered(control_id), 30)

    [hold] = mocks.holds("realestate")
    await officer.page.goto(f"{officer.base}/controls")
    line = officer.page.locator(f'#controls tr[data-control="{control_id}"]')
    text = await line.text_content() or ""
    assert "在控" in text and hold["receipt_no"] in text and certificate in text

    clock.at += timedelta(days=1096 - 30)  # 2 May 2029: the last day, 31 May, 29 days away
    calendar = ControlCalendar(gateway.client.app[CONTROLS], gateway.client.app[POOL])
    assert await calendar.remind() == 1
    await officer.page.goto(f"{officer.base}/controls")
    assert "即将到期" in (await officer.page.text_content("#team-alerts") or "")
    await officer.screenshot("control-reminder")
    await commander.page.goto(f"{commander.base}/dashboard")  # the wall shows it too
    expiring = commander.page.locator(f'#controls-expiring li[data-control="{control_id}"]')
    assert "2029-05-31" in (await expiring.text_content() or "")
    await officer.page.locator(f'#controls tr[data-control="{control_id}"] button.renew').click()
    await officer.page.wait_for_url(f"{officer.base}/controls")
    await asyncio.wait_for(sender.wait_answered(control_id, 2), 30)
    await officer.page.goto(f"{officer.base}/controls")
    expires = officer.page.locator(
        f'#controls tr[data-control="{control_id}"] [data-field="expires_on"]'
    )
    assert (await expires.text_content() or "").startswith("2032-05-31")  # three years more

    await officer.page.fill('#closure input[name="case_number"]', CASE)
    await officer.page.locator("#closure button").click()
    await officer.page.wait_for_url(f"{officer.base}/cases/{quote(CASE, safe='')}")
    assert (
        await officer.page.text_content("#next-due") or ""
    ) == "2029-11-02"  # six months after today, 2 May 2029
    kinds = await officer.page.locator("#history tr[data-kind]").evaluate_all(
        "rows => rows.map(r => r.dataset.kind)"
    )
    assert kinds[0] == "control.requested" and kinds[-1] == "case.closed"
    await officer.screenshot("case-history")
    for page in (officer, commander):
        assert page.errors == [] and page.left_loopback() == []
