"""Odd input to the administration and command-centre endpoints: always a JSON 4xx naming
the problem, never a 500."""

from __future__ import annotations

from typing import Any

from tests.integration.accountability.helpers import GatewayFactory, auth, start

ODD: list[tuple[str, str, str, Any, int]] = [
    # role, method, path, body (bytes: raw), status
    ("admin", "POST", "/v1/teams", b"{not json", 400),
    ("admin", "POST", "/v1/teams", b"[1]", 422),
    ("admin", "POST", "/v1/teams", b"", 400),
    ("admin", "POST", "/v1/teams", {"name": "a\x00b"}, 422),
    ("admin", "POST", "/v1/officers", {"name": 5, "role": "officer"}, 422),
    ("admin", "POST", "/v1/officers", {"name": "x", "role": ["admin"]}, 422),
    ("admin", "POST", "/v1/officers", {"name": "x", "role": "officer", "team": 3}, 422),
    ("admin", "GET", "/v1/officers?limit=²", None, 422),
    ("admin", "GET", "/v1/officers?limit=99999999999999999999999", None, 422),
    ("admin", "GET", "/v1/officers?cursor=%%%", None, 400),
    ("admin", "POST", "/v1/officers/a%00b/tokens", None, 404),
    ("admin", "GET", "/v1/officers/" + "x" * 300 + "/tokens", None, 404),
    ("admin", "DELETE", "/v1/tokens/99999999999999999999999", None, 404),
    ("admin", "DELETE", "/v1/tokens/１２", None, 404),
    ("admin", "POST", "/v1/cases", {"case_number": 12, "team": "t"}, 422),
    ("admin", "POST", "/v1/cases", {"case_number": "（2022）吉03执1号", "team": None}, 422),
    ("admin", "POST", "/v1/cases/import", b"case_number,team\n\x00,\x00\n", 422),
    ("admin", "POST", "/v1/cases/import", b'case_number,team\n"unterminated,x\n', 422),
    ("admin", "GET", "/v1/cases?team=%00", None, 422),
    ("commander", "GET", "/v1/alerts?since=0001-01-01", None, 422),
    ("commander", "GET", "/v1/alerts?until=9999-12-31T23:59:59-14:00", None, 422),
    ("commander", "GET", "/v1/alerts?since=2026-02-30", None, 422),
    ("commander", "GET", "/v1/alerts?officer=" + "o" * 500, None, 422),
    ("commander", "GET", "/v1/alerts?cursor=MjAyNnw5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", None, 400),
    ("commander", "GET", "/v1/alerts?cursor=bm90LWEtdGltZXwx", None, 400),
    ("commander", "GET", "/v1/stats?since=tomorrow", None, 422),
    ("commander", "POST", "/v1/batches/not-a-uuid/approve", None, 404),
    ("commander", "POST", "/v1/batches/00000000-0000-0000-0000-000000000000/reject", None, 404),
]


async def test_odd_input_gets_a_json_4xx(gateway_factory: GatewayFactory) -> None:
    gateway = await start(gateway_factory, dispatch=False)
    await gateway.token("officer", "t")
    failures = []
    for role, method, path, body, status in ODD:
        kwargs: dict[str, Any] = {"data": body} if isinstance(body, bytes) else {"json": body}
        response = await gateway.client.request(
            method, path, headers=await auth(gateway, role), **kwargs
        )
        error = (await response.json())["error"]
        if response.status != status or not error["code"] or not error["message"]:
            failures.append((method, path[:60], response.status, error))
        elif status == 422 and "problems" in error:
            assert all(p["field"] and p["problem"] for p in error["problems"])
    assert failures == []
