"""The technology office's work through the API: teams, officers, tokens, filed cases (one at a
time, and in bulk from CSV, all or nothing), every change audited."""

from __future__ import annotations

from typing import Any

from tests.conftest import Gateway
from tests.integration.accountability.helpers import (
    GatewayFactory,
    auth,
    batch_body,
    post_batch,
    start,
)


async def as_admin(
    gateway: Gateway, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> Any:
    headers = {**await auth(gateway, "admin"), **(headers or {})}
    return await gateway.client.request(method, path, headers=headers, **kwargs)


async def audited(gateway: Gateway, action: str) -> list[Any]:
    async with gateway.pool.acquire() as conn:
        return await conn.fetch(
            "SELECT officer, case_number, outcome, detail FROM audit_log WHERE action = $1"
            " ORDER BY id",
            action,
        )


async def test_teams_and_officers_are_created_listed_and_audited(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory, dispatch=False)
    created = await as_admin(gateway, "POST", "/v1/teams", json={"name": "执行一组"})
    assert created.status == 201 and (await created.json())["name"] == "执行一组"
    again = await as_admin(gateway, "POST", "/v1/teams", json={"name": "执行一组"})
    assert again.status == 409
    for body, field in [
        ({}, "name"),
        ({"name": "a/b"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "extra": 1}, "extra"),
    ]:
        response = await as_admin(gateway, "POST", "/v1/teams", json=body)
        assert response.status == 422, body
        assert (await response.json())["error"]["problems"][0]["field"] == field
    for body, status, field in [
        ({"name": "李法官", "role": "officer", "team": "执行一组"}, 201, None),
        ({"name": "指挥员", "role": "commander"}, 201, None),
        ({"name": "李法官", "role": "officer", "team": "执行一组"}, 409, None),
        ({"name": "无组", "role": "officer"}, 422, "team"),
        ({"name": "无组", "role": "officer", "team": "no-such-team"}, 422, "team"),
        ({"name": "无组", "role": "root"}, 422, "role"),
    ]:
        response = await as_admin(gateway, "POST", "/v1/officers", json=body)
        assert response.status == status, (body, await response.text())
        if field:
            assert (await response.json())["error"]["problems"][0]["field"] == field
    teams = await (await as_admin(gateway, "GET", "/v1/teams")).json()
    assert {"name": "执行一组", "officers": 1, "cases": 0} in [
        {k: t[k] for k in ("name", "officers", "cases")} for t in teams["items"]
    ]
    names: list[str] = []
    cursor = ""
    while True:
        page = await (await as_admin(gateway, "GET", f"/v1/officers?limit=1{cursor}")).json()
        names += [o["name"] for o in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert names == sorted(names) and {"李法官", "指挥员", "admin-None"} <= set(names)
    assert [r["officer"] for r in await audited(gateway, "team.created")] == ["admin-None"]
    assert [r["detail"]["role"] for r in await audited(gateway, "officer.created")] == [
        "officer",
        "commander",
    ]


async def test_a_token_is_shown_once_and_works_until_revoked(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory, dispatch=False)
    await as_admin(gateway, "POST", "/v1/teams", json={"name": "team-x"})
    await as_admin(
        gateway,
        "POST",
        "/v1/officers",
        json={"name": "王书记员", "role": "officer", "team": "team-x"},
    )
    issued = await as_admin(
        gateway, "POST", "/v1/officers/王书记员/tokens", json={"expires_in_days": 30}
    )
    assert issued.status == 201 and issued.headers["Cache-Control"] == "no-store"
    token = await issued.json()
    assert token["token"].startswith("gw_") and token["expires_at"] and token["team"] == "team-x"
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert (await gateway.client.get("/v1/batches", headers=headers)).status == 200
    listed = await (await as_admin(gateway, "GET", "/v1/officers/王书记员/tokens")).json()
    assert [t["id"] for t in listed["items"]] == [token["id"]]
    assert token["token"] not in str(listed)
    revoked = await as_admin(gateway, "DELETE", f"/v1/tokens/{token['id']}")
    assert revoked.status == 200 and (await revoked.json())["revoked"] == 1
    refused = await gateway.client.get("/v1/batches", headers=headers)
    assert refused.status == 401 and (await refused.json())["error"]["code"] == "unauthorized"
    twice = await as_admin(gateway, "DELETE", f"/v1/tokens/{token['id']}")
    assert twice.status == 200 and (await twice.json())["revoked"] == 0
    records = await audited(gateway, "token.revoked")
    assert [r["detail"]["token_ids"] for r in records] == [[token["id"]]]
    for path in ("/v1/tokens/999999", "/v1/tokens/abc", "/v1/tokens/-1", "/v1/tokens/%C2%B2"):
        assert (await as_admin(gateway, "DELETE", path)).status == 404
    for body in ({"expires_in_days": 0}, {"expires_in_days": "30"}, {"expires_in_days": True}):
        bad = await as_admin(gateway, "POST", "/v1/officers/王书记员/tokens", json=body)
        assert bad.status == 422
    missing = await as_admin(gateway, "POST", "/v1/officers/nobody/tokens")
    assert missing.status == 404


async def test_all_of_an_officers_tokens_are_revoked_at_once(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory, dispatch=False)
    await gateway.token("officer", "team-a")
    tokens = [
        (await (await as_admin(gateway, "POST", "/v1/officers/officer-team-a/tokens")).json())
        for _ in range(2)
    ]
    response = await as_admin(gateway, "DELETE", "/v1/officers/officer-team-a/tokens")
    assert (await response.json())["revoked"] == 3  # the helper's own token too
    for token in tokens:
        headers = {"Authorization": f"Bearer {token['token']}"}
        assert (await gateway.client.get("/v1/batches", headers=headers)).status == 401


async def test_cases_are_registered_transferred_and_listed(gateway_factory: GatewayFactory) -> None:
    gateway = await start(gateway_factory, dispatch=False)
    for team in ("team-a", "team-b"):
        await as_admin(gateway, "POST", "/v1/teams", json={"name": team})
    body = {"case_number": "(2024)吉0302执恢45号", "team": "team-a"}
    first = await as_admin(gateway, "POST", "/v1/cases", json=body)
    assert first.status == 201
    assert (await first.json())["case_number"] == "（2024）吉0302执恢45号"
    same = await as_admin(gateway, "POST", "/v1/cases", json=body)
    assert same.status == 200 and (await same.json())["unchanged"] == 1
    moved = await as_admin(gateway, "POST", "/v1/cases", json={**body, "team": "team-b"})
    assert moved.status == 200 and (await moved.json())["transferred"] == 1
    records = await audited(gateway, "case.transferred")
    assert records[0]["case_number"] == "（2024）吉0302执恢45号"
    assert records[0]["detail"] == {"team": "team-b", "from_team": "team-a"}
    for bad, field in [
        ({"case_number": "（2024）吉0302民45号", "team": "team-a"}, "case_number"),
        ({"case_number": "（2024）吉0302执46号", "team": "nope"}, "team"),
        ({"team": "team-a"}, "case_number"),
    ]:
        response = await as_admin(gateway, "POST", "/v1/cases", json=bad)
        assert response.status == 422
        assert (await response.json())["error"]["problems"][0]["field"] == field
    listed = await (await as_admin(gateway, "GET", "/v1/cases?team=team-b")).json()
    assert [(c["case_number"], c["team"]) for c in listed["items"]] == [
        ("（2024）吉0302执恢45号", "team-b")
    ]
    # The case is team-b's now: team-a may no longer query for it.
    response = await post_batch(gateway, batch_body(n=1, case="（2024）吉0302执恢45号"))
    assert (await response.json())["error"]["reason"] == "case_other_team"


CSV_OK = (
    "\ufeffteam,case_number\r\n"
    "team-a,（2022）吉03执1号\r\n"
    "team-b,(2022)吉03执2号\r\n"
    '"team-a","（2022）吉03执3号"\r\n'
    "\r\n"
).encode()


async def test_a_csv_import_registers_every_row(gateway_factory: GatewayFactory) -> None:
    gateway = await start(gateway_factory, dispatch=False)
    for team in ("team-a", "team-b"):
        await as_admin(gateway, "POST", "/v1/teams", json={"name": team})
    response = await as_admin(
        gateway, "POST", "/v1/cases/import", data=CSV_OK, headers={"Content-Type": "text/csv"}
    )
    assert response.status == 200, await response.text()
    assert await response.json() == {"rows": 3, "registered": 3, "transferred": 0, "unchanged": 0}
    listed = await (await as_admin(gateway, "GET", "/v1/cases?limit=2")).json()
    assert [c["case_number"] for c in listed["items"]] == ["（2022）吉03执1号", "（2022）吉03执2号"]
    assert len(await audited(gateway, "case.registered")) == 3


async def test_a_csv_import_with_bad_rows_stores_nothing_and_names_each(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory, dispatch=False)
    await as_admin(gateway, "POST", "/v1/teams", json={"name": "team-a"})
    bad_rows = (
        "case_number,team\n"
        "（2022）吉03执1号,team-a\n"
        "（2022）吉03民2号,team-a\n"  # not an enforcement case
        "（2022）吉03执3号,\n"  # no team
        "（2022）吉03执1号,team-a\n"  # repeats row 0
        "（2022）吉03执4号,team-a,extra\n"
    ).encode()
    response = await as_admin(gateway, "POST", "/v1/cases/import", data=bad_rows)
    assert response.status == 422
    problems = (await response.json())["error"]["problems"]
    assert [(p["row"], p["line"], p["field"]) for p in problems] == [
        (1, 3, "case_number"),
        (2, 4, "team"),
        (3, 5, "case_number"),
        (4, 6, "(row)"),
    ]
    unknown_team = "case_number,team\n（2022）吉03执1号,team-a\n（2022）吉03执2号,team-z\n"
    response = await as_admin(gateway, "POST", "/v1/cases/import", data=unknown_team.encode())
    problems = (await response.json())["error"]["problems"]
    assert response.status == 422 and [(p["row"], p["line"], p["field"]) for p in problems] == [
        (1, 3, "team")
    ]
    for data, field in [
        (b"", "(file)"),
        (b"case_number,team\n", "(file)"),
        (b"case,team\nx,y\n", "(header)"),
        ("case_number,team\n（2022）吉03执1号,执行一组\n".encode("gbk"), "(file)"),
    ]:
        response = await as_admin(gateway, "POST", "/v1/cases/import", data=data)
        assert response.status == 422, data
        assert (await response.json())["error"]["problems"][0]["field"] == field
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM cases") == 0
