"""The technology office's commands: ``gateway token revoke|list``, ``gateway team create``,
``gateway case register|import``. One run of each kind goes through a real process; the
rest call the commands' coroutines with the same arguments."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import admin as cli_admin
from gateway.core.settings import Settings
from tests.conftest import Gateway, gateway_command
from tests.integration.accountability.helpers import GatewayFactory, batch_body, post_batch, start


async def status_with(gateway: Gateway, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return (await gateway.client.get("/v1/batches", headers=headers)).status


async def test_token_revoke_by_value_id_and_officer(
    gateway_factory: GatewayFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = await start(gateway_factory, dispatch=False)
    settings = Settings(database_url=gateway.database_url, data_dir=tmp_path)
    first = await gateway.token("officer", "team-a", "张法官")
    second = await gateway.token("officer", "team-a", "李助理")
    third = await gateway.token("officer", "team-b", "李助理2")

    code, out, _ = await gateway_command(
        gateway.database_url,
        tmp_path,
        "token",
        "revoke",
        "--token",
        "-",
        stdin=first.encode() + b"\n",
    )
    assert code == 0 and "revoked 1 token(s) of 张法官" in out
    assert await status_with(gateway, first) == 401
    assert await status_with(gateway, second) == 200

    assert await cli_admin.token_list(settings, Namespace(officer="李助理")) == 0
    listing = capsys.readouterr().out
    rows = [line.split("\t") for line in listing.splitlines() if "\t李助理\t" in line]
    assert second not in listing and [row[3] for row in rows] == ["live"]
    token_id = int(rows[0][0])
    assert (
        await cli_admin.token_revoke(settings, Namespace(token=None, id=token_id, officer=None))
        == 0
    )
    assert await status_with(gateway, second) == 401

    assert (
        await cli_admin.token_revoke(settings, Namespace(token=None, id=None, officer="李助理2"))
        == 0
    )
    assert "revoked 1 token(s) of 李助理2" in capsys.readouterr().out
    assert await status_with(gateway, third) == 401

    assert await cli_admin.token_revoke(settings, Namespace(token=None, id=999, officer=None)) == 1
    assert "no such token" in capsys.readouterr().err
    async with gateway.pool.acquire() as conn:
        actors = await conn.fetch(
            "SELECT officer FROM audit_log WHERE action = 'token.revoked' ORDER BY id"
        )
    assert len(actors) == 3 and all(a["officer"].startswith("cli:") for a in actors)


async def test_teams_and_cases_from_the_command_line(
    gateway_factory: GatewayFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = await start(gateway_factory, dispatch=False)
    settings = Settings(database_url=gateway.database_url, data_dir=tmp_path)
    assert await cli_admin.team_create(settings, Namespace(name="team-a")) == 0
    assert await cli_admin.team_create(settings, Namespace(name="team-a")) == 1
    register: Any = Namespace(case_number="(2022)吉03执123号", team="team-a")
    assert await cli_admin.case_register(settings, register) == 0
    assert "（2022）吉03执123号: registered (team team-a)" in capsys.readouterr().out
    assert (await post_batch(gateway, batch_body(n=1))).status == 202
    unknown: Any = Namespace(case_number="(2022)吉03执124号", team="team-z")
    assert await cli_admin.case_register(settings, unknown) == 1
    assert "no such team" in capsys.readouterr().err

    good = tmp_path / "cases.csv"
    good.write_text("case_number,team\n（2022）吉03执1号,team-a\n（2022）吉03执2号,team-a\n")
    code, out, _ = await gateway_command(
        gateway.database_url, tmp_path, "case", "import", str(good)
    )
    assert code == 0 and "2 case(s): 2 registered" in out

    bad = tmp_path / "bad.csv"
    bad.write_text("case_number,team\n（2022）吉03执3号,team-a\n（2022）吉03民4号,team-a\n")
    assert await cli_admin.case_import(settings, Namespace(file=bad)) == 1
    err = capsys.readouterr().err
    assert "nothing was stored" in err and "line 3: case_number" in err
    assert await cli_admin.case_import(settings, Namespace(file=tmp_path / "none.csv")) == 1
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM cases") == 3
