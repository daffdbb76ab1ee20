"""``gateway submit|status|batches|cancel|rerun|results`` as an officer runs them: each a real
process against a running gateway on loopback, checked against what the API itself answers."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from mocks.population import sample_ids
from tests.conftest import CASE, Gateway, batch_body
from tests.integration.accountability.helpers import OTHER_CASE, GatewayFactory, file_case
from tests.integration.cli.conftest import (
    TRACEBACK,
    base_url,
    batch_id_in,
    closed_port,
    csv_cells,
    files_in,
    modes,
    run_cli,
    stand_in,
    table_rows,
    text_lines,
    write_text,
    write_workbook,
    xlsx_cells,
    zip_is_sound,
)

REASON = "查询被执行人名下财产"
#: a resident ID whose check character is wrong (the right one is 2)
BAD_ID = "220302196504120013"


async def api_get(gateway: Gateway, path: str) -> Any:
    response = await gateway.client.get(path, headers=await gateway.headers())
    assert response.status == 200, await response.text()
    return await response.json()


def progress_rows(batch: dict[str, Any]) -> dict[str, list[int]]:
    """The API's progress as the table's rows: total, found, not found, failed, waiting."""
    keys = ("total", "found", "not_found", "failed", "waiting")
    rows = {name: [p[k] for k in keys] for name, p in batch["progress"].items()}
    rows["all"] = [sum(row[i] for row in rows.values()) for i in range(len(keys))]
    return rows


async def test_submit_xlsx_and_wait_ends_in_the_summary_the_api_reports(
    officer_gateway: Gateway, tmp_path: Path
) -> None:
    people = sample_ids(4, seed=11)
    sheet = write_workbook(tmp_path / "名单.xlsx", people, header=["姓名", "身份证号"])
    token = await officer_gateway.token()

    run = await run_cli(
        base_url(officer_gateway), token,
        "submit", str(sheet), "--case", CASE, "--reason", REASON, "--wait",
    )  # fmt: skip

    assert run.code == 0, run.err
    assert TRACEBACK not in run.err
    batch = await api_get(officer_gateway, f"/v1/batches/{batch_id_in(run.out)}")
    assert batch["status"] == "done" and batch["subject_count"] == len(people)
    assert set(batch["progress"]) == {"household", "realestate", "vehicle", "forestry",
                                      "subsidy", "police"}  # fmt: skip
    assert table_rows(run.out) == progress_rows(batch)
    assert all(p["total"] == len(people) for p in batch["progress"].values())


async def test_a_bad_row_is_named_by_its_sheet_row_and_nothing_is_stored(
    officer_gateway: Gateway, tmp_path: Path
) -> None:
    (name, good), *_ = sample_ids(1, seed=12)
    # sheet row 2: good; row 3: blank (skipped); row 4: a wrong check character
    rows = [(name, good), (None, None), ("李四", BAD_ID)]
    sheet = write_workbook(tmp_path / "list.xlsx", rows, header=["姓名", "身份证号"])

    run = await run_cli(
        base_url(officer_gateway), await officer_gateway.token(),
        "submit", str(sheet), "--case", CASE, "--reason", REASON, "--wait",
    )  # fmt: skip

    assert run.code == 1
    assert TRACEBACK not in run.err
    assert "refused (422 validation_failed)" in run.err
    assert "sheet row 4, id_number:" in run.err
    assert BAD_ID not in run.err + run.out  # the gateway never repeats a value; nor do we
    assert (await api_get(officer_gateway, "/v1/batches"))["items"] == []


async def test_submit_csv(officer_gateway: Gateway, tmp_path: Path) -> None:
    people = sample_ids(3, seed=13)
    lines = ["姓名,身份证号", *(f"{name},{number}" for name, number in people)]
    listing = tmp_path / "list.csv"
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")

    run = await run_cli(
        base_url(officer_gateway), await officer_gateway.token(),
        "submit", str(listing), "--case", CASE, "--reason", REASON,
    )  # fmt: skip

    assert TRACEBACK not in run.err
    assert run.code == 0, run.err
    batch = await api_get(officer_gateway, f"/v1/batches/{batch_id_in(run.out)}")
    assert batch["subject_count"] == len(people)


async def test_a_list_asked_again_names_its_sheet_rows_and_the_option_to_give_a_reason(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await gateway_factory(requery_days=30)
    people = sample_ids(3, seed=14)
    asked = await gateway.client.post(
        "/v1/batches", json=batch_body(subjects=people[:1]), headers=await gateway.headers()
    )
    assert asked.status == 202, await asked.text()
    # the header on line 1, a blank line, then a new person and the one asked a moment ago
    lines = ["姓名,身份证号", ",", *(f"{n},{i}" for n, i in (people[1], people[0]))]
    listing = tmp_path / "list.csv"
    write_text(listing, "\n".join(lines) + "\n")

    run = await run_cli(
        base_url(gateway), await gateway.token(),
        "submit", str(listing), "--case", CASE, "--reason", REASON,
    )  # fmt: skip

    assert run.code == 1, run.err
    assert "rule: requery_without_reason" in run.err and "--requery-reason" in run.err
    assert "sheet rows: 4" in run.err
    assert people[0][1] not in run.err + run.out


async def test_submit_json_once_per_idempotency_key_and_problems_by_index(
    officer_gateway: Gateway, tmp_path: Path
) -> None:
    people = sample_ids(3, seed=14)
    listing = tmp_path / "list.json"
    listing.write_text(
        json.dumps([{"name": n, "id_number": i} for n, i in people], ensure_ascii=False),
        encoding="utf-8",
    )
    url, token, key = base_url(officer_gateway), await officer_gateway.token(), str(uuid.uuid4())
    argv = ["submit", str(listing), "--case", CASE, "--reason", REASON]
    argv += ["--agencies", "vehicle,realestate", "--idempotency-key", key]

    first = await run_cli(url, token, *argv)
    again = await run_cli(url, token, *argv)

    assert (first.code, again.code) == (0, 0), first.err + again.err
    assert batch_id_in(first.out) == batch_id_in(again.out)
    assert "submitted before with this key" in again.out
    (batch,) = (await api_get(officer_gateway, "/v1/batches"))["items"]
    assert batch["id"] == str(batch_id_in(first.out))
    assert batch["agencies"] == ["realestate", "vehicle"] and batch["subject_count"] == 3

    listing.write_text(
        json.dumps({"subjects": [{"name": people[0][0], "id_number": people[0][1]},
                                 {"name": "李四", "id_number": BAD_ID}]}),
        encoding="utf-8",
    )  # fmt: skip
    refused = await run_cli(url, token, "submit", str(listing), "--case", CASE, "--reason", REASON)
    assert refused.code == 1 and TRACEBACK not in refused.err
    assert "subjects[1], id_number:" in refused.err


async def test_status_shows_the_batch_per_agency(officer_gateway: Gateway) -> None:
    body = batch_body(n=3, seed=15, agencies=["household", "police"])
    batch_id = (await officer_gateway.submit(body))["id"]
    await officer_gateway.wait_finished(batch_id)

    run = await run_cli(
        base_url(officer_gateway), await officer_gateway.token(), "status", batch_id
    )

    assert run.code == 0, run.err
    batch = await api_get(officer_gateway, f"/v1/batches/{batch_id}")
    assert f"batch {batch_id}  done" in run.out and CASE in run.out
    assert table_rows(run.out) == progress_rows(batch)


async def test_batches_lists_the_team_newest_first(officer_gateway: Gateway) -> None:
    ours = [(await officer_gateway.submit(batch_body(n=1, seed=20 + i)))["id"] for i in range(3)]
    await file_case(officer_gateway, OTHER_CASE, "team-b")
    theirs = (await officer_gateway.submit(batch_body(n=1, seed=30, case=OTHER_CASE), "team-b"))[
        "id"
    ]
    newest_first = [b["id"] for b in (await api_get(officer_gateway, "/v1/batches"))["items"]]
    assert sorted(newest_first) == sorted(ours)
    url, token = base_url(officer_gateway), await officer_gateway.token()

    two = await run_cli(url, token, "batches", "--limit", "2")
    every = await run_cli(url, token, "batches")

    assert (two.code, every.code) == (0, 0), two.err + every.err
    shown = [line.split()[1] for line in two.out.splitlines() if any(i in line for i in ours)]
    assert shown == newest_first[:2]
    assert all(i in every.out for i in ours) and theirs not in every.out


async def test_cancel_then_cancel_and_rerun_again_are_refused(
    gateway_factory: GatewayFactory,
) -> None:
    # No dispatcher: the batch stays queued until it is cancelled.
    gateway = await gateway_factory(dispatch=False, require_filed_case=True)
    await file_case(gateway, CASE, "team-a")
    batch_id = (await gateway.submit(batch_body(n=2, seed=40)))["id"]
    url, token = base_url(gateway), await gateway.token()

    cancelled = await run_cli(url, token, "cancel", batch_id)
    again = await run_cli(url, token, "cancel", batch_id)
    rerun = await run_cli(url, token, "rerun", batch_id, "--failed")

    assert cancelled.code == 0, cancelled.err
    assert f"batch {batch_id}: cancelled" in cancelled.out
    assert (await api_get(gateway, f"/v1/batches/{batch_id}"))["status"] == "cancelled"
    for refused in (again, rerun):
        assert refused.code == 1 and TRACEBACK not in refused.err
        assert "refused (409 conflict)" in refused.err


async def test_rerun_with_nothing_failed_says_so(officer_gateway: Gateway) -> None:
    batch_id = (await officer_gateway.submit(batch_body(n=2, seed=41)))["id"]
    await officer_gateway.wait_finished(batch_id)
    url, token = base_url(officer_gateway), await officer_gateway.token()

    run = await run_cli(url, token, "rerun", batch_id, "--failed")
    without_flag = await run_cli(url, token, "rerun", batch_id)

    assert run.code == 0, run.err
    assert "nothing to ask again" in run.out
    answer = await officer_gateway.client.post(
        f"/v1/batches/{batch_id}/rerun", headers=await officer_gateway.headers()
    )
    assert answer.status == 200
    assert not any((await answer.json())["requeued"].values())  # what the API says, too
    assert without_flag.code == 2 and "--failed" in without_flag.err


async def test_results_as_xlsx_csv_jsonl_and_zip_hold_what_the_api_holds(
    officer_gateway: Gateway, tmp_path: Path
) -> None:
    body = batch_body(n=3, seed=42, agencies=["household", "vehicle"])
    batch_id = (await officer_gateway.submit(body))["id"]
    await officer_gateway.wait_finished(batch_id)
    url, token = base_url(officer_gateway), await officer_gateway.token()
    out = tmp_path / "out"
    out.mkdir()
    names = ["结果.xlsx", "结果.csv", "结果.jsonl", "电子头像.zip"]

    runs = [await run_cli(url, token, "results", batch_id, "-o", str(out / n)) for n in names]

    assert [r.code for r in runs] == [0, 0, 0, 0], [r.err for r in runs]
    assert files_in(out) == sorted(names)  # and no temporary file left
    identifiers = {s["id_number"] for s in body["subjects"]}
    assert identifiers <= xlsx_cells(out / "结果.xlsx")
    assert identifiers <= csv_cells(out / "结果.csv")
    expected = [
        (r["subject"]["row"], r["agency"], r["status"])
        for r in await officer_gateway.all_results(batch_id)
    ]
    lines = [json.loads(line) for line in text_lines(out / "结果.jsonl")]
    assert [(r["subject"]["row"], r["agency"], r["status"]) for r in lines] == expected
    assert zip_is_sound(out / "电子头像.zip")
    assert all(mode & 0o077 == 0 for mode in modes(out))  # personal data: the owner's only

    await file_case(officer_gateway, OTHER_CASE, "team-b")
    theirs = await officer_gateway.submit(batch_body(n=1, seed=43, case=OTHER_CASE), "team-b")
    refused = await run_cli(url, token, "results", theirs["id"], "-o", str(tmp_path / "t.xlsx"))
    assert refused.code == 1 and "refused (404" in refused.err
    assert files_in(tmp_path) == ["out"]  # nothing written, not even a part


async def test_a_token_not_accepted_is_exit_3(officer_gateway: Gateway, tmp_path: Path) -> None:
    url = base_url(officer_gateway)
    commander = await officer_gateway.token("commander", None)
    some_batch = str(uuid.uuid4())

    wrong = await run_cli(url, "gw_not_a_token", "batches")
    missing = await run_cli(url, None, "status", some_batch)
    role = await run_cli(url, commander, "results", some_batch, "-o", str(tmp_path / "r.xlsx"))

    for run in (wrong, missing):
        assert run.code == 3 and TRACEBACK not in run.err
        assert "not authorised (401)" in run.err
    assert "gw_not_a_token" not in wrong.err
    assert "no token given: set GATEWAY_TOKEN" in missing.err
    assert role.code == 3 and "not authorised (403)" in role.err
    assert files_in(tmp_path) == []


async def test_an_unreachable_gateway_is_exit_3(tmp_path: Path) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    sheet = write_workbook(tmp_path / "list.xlsx", sample_ids(1, seed=50), ["姓名", "身份证号"])

    status = await run_cli(url, "gw_any", "status", str(uuid.uuid4()))
    submit = await run_cli(url, "gw_any", "submit", str(sheet), "--case", CASE, "--reason", REASON)

    for run in (status, submit):
        assert run.code == 3 and TRACEBACK not in run.err
        assert f"cannot reach the gateway at {url}" in run.err
    assert "--idempotency-key" in submit.err  # how to try again without a second batch


async def test_a_bad_command_line_is_exit_2(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    listing = tmp_path / "list.txt"
    listing.write_text("姓名,身份证号\n", encoding="utf-8")
    batch = str(uuid.uuid4())
    runs = [
        await run_cli(url, "gw_any", "status", "not-a-batch"),
        await run_cli(url, "gw_any", "submit", str(listing), "--case", CASE, "--reason", "r"),
        await run_cli(url, "gw_any", "submit", str(tmp_path / "absent.xlsx"), "--case", CASE,
                      "--reason", "r"),
        await run_cli(url, "gw_any", "results", batch, "-o", str(tmp_path / "out.txt")),
        await run_cli(url, "gw_any", "batches", "--url", "ftp://127.0.0.1"),
    ]  # fmt: skip
    for run in runs:
        assert run.code == 2, run.err
        assert TRACEBACK not in run.err and run.err.strip()


async def test_a_download_cut_off_leaves_the_older_file_and_no_part(tmp_path: Path) -> None:
    # A stand-in for the gateway that breaks the connection part-way through a file (and,
    # like any other web server, answers what it does not know with a page of its own).
    async def cut_off(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "1000000"})
        response.content_type = "text/csv"
        await response.prepare(request)
        await response.write(b"x" * 300_000)
        assert request.transport is not None
        request.transport.close()
        return response

    target = tmp_path / "results.csv"
    write_text(target, "an earlier download\n")
    async with stand_in("GET", "/v1/batches/{batch_id}/results", cut_off) as url:
        run = await run_cli(url, "gw_any", "results", str(uuid.uuid4()), "-o", str(target))
        stranger = await run_cli(url, "gw_any", "status", str(uuid.uuid4()))

    assert stranger.code == 3 and TRACEBACK not in stranger.err
    assert "answered 404, not as the gateway does" in stranger.err

    assert run.code == 3 and TRACEBACK not in run.err
    assert "cut off" in run.err or "closed the connection" in run.err
    assert files_in(tmp_path) == ["results.csv"]
    assert text_lines(target) == ["an earlier download"]


async def test_a_submit_answered_by_a_proxy_page_names_the_key_to_repeat_it(
    tmp_path: Path,
) -> None:
    # Something in front of the gateway answered with a page of its own: whether the batch
    # was stored is unknown, so the officer is told how to repeat it without a second one.
    async def proxy_page(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="<html>登录门户</html>", content_type="text/html")

    sheet = write_workbook(tmp_path / "list.xlsx", sample_ids(1, seed=51), ["姓名", "身份证号"])
    async with stand_in("POST", "/v1/batches/upload", proxy_page) as url:
        run = await run_cli(url, "gw_any", "submit", str(sheet), "--case", CASE, "--reason", REASON)

    assert run.code == 3 and TRACEBACK not in run.err
    assert "--idempotency-key" in run.err
