"""The court's statistics report. A known set of batches, submitted through the API with chosen
household items by two teams and run against the stand-ins, must give the figures the
stand-ins' ground truth says, counted here (``mocks.truth``, this file's own counting rules),
never by the gateway's counting code: in ``GET /v1/stats``, in the table and the exact
sentence ``gateway report`` prints, and in its workbook; photo and identity counted apart;
the same after a restart, and in agreement with the audit log."""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from connectors.registry import AGENCIES
from gateway.cli.report import run_report
from gateway.core.settings import Settings
from mocks.population import kind_of, sample_ids, truth
from tests.conftest import CASE, Gateway, gateway_command

#: the stand-ins' population the people are chosen from, by what they hold
POPULATION = sample_ids(400, seed=5, organisations=0.05)
TEAMS = ("team-a", "team-b")
#: the agencies' Chinese names, as the table shows them
TITLES = {
    "household": "户政",
    "realestate": "不动产登记",
    "vehicle": "车管所",
    "forestry": "林地权属",
    "subsidy": "乡镇协查(直补粮补)",
    "police": "派出所(司法拘留)",
}
ASSET_AGENCIES = ("realestate", "vehicle", "forestry", "subsidy")
HOURS = 3600.0

#: what the figures below come to, in the court's words (checked against the truth first)
NO_HOLDS = "控制措施：在控查封0项、扣押0项、冻结0项；期内生效0项，续行0次，解除0次。"
SENTENCE = (
    "户政信息查询4批次，查询15人电子头像信息和12人身份信息；"
    "不动产信息查询3批次，查询14人不动产情况；"
    "派出所司法拘留查询2批次13人，协助司法拘留12人；"
    "各乡镇协查2批次，查询9人直补粮补情况；"
    "林地权属查询2批次，查询11人林地权属信息；"
    "交警大队车管所协查2批次，涉及9人名下车辆信息情况。"
)
TEAM_B_SENTENCE = (
    "户政信息查询1批次，查询5人电子头像信息和0人身份信息；"
    "不动产信息查询2批次，查询9人不动产情况；"
    "派出所司法拘留查询1批次5人，协助司法拘留5人；"
    "各乡镇协查1批次，查询4人直补粮补情况；"
    "林地权属查询1批次，查询3人林地权属信息；"
    "交警大队车管所协查1批次，涉及4人名下车辆信息情况。"
)


def record(agency: str, number: str) -> dict[str, Any] | None:
    """The gateway's record of the subject at the agency, as the truth has it."""
    return truth(agency, number, kind_of(number) or "person", case_number=CASE)


def holders(test: Any) -> Iterator[tuple[str, str]]:
    """People of the population for whom ``test(number)`` holds."""
    return ((name, number) for name, number in POPULATION if test(number))


def take(source: Iterator[tuple[str, str]], n: int, used: set[str]) -> list[tuple[str, str]]:
    chosen: list[tuple[str, str]] = []
    for person in source:
        if person[1] not in used and len(chosen) < n:
            chosen.append(person)
            used.add(person[1])
    return chosen


def accounts_apart(found: dict[str, Any] | None) -> bool:
    """Paid several times into fewer accounts: payments and accounts differ."""
    if found is None:
        return False
    return len({p["account"] for p in found["payments"]}) < len(found["payments"])


_used: set[str] = set()
FORESTRY = take(holders(lambda n: record("forestry", n) is not None), 2, _used)
SUBSIDY = take(holders(lambda n: accounts_apart(record("subsidy", n))), 2, _used)
DISPATCHED = take(
    holders(lambda n: (record("police", n) or {}).get("status") == "dispatched"), 3, _used
)
ORGANISATION = take(((n, i) for n, i in POPULATION if kind_of(i) == "organisation"), 1, _used)
OTHERS = take(iter(POPULATION), 13, _used)


@dataclass(frozen=True)
class Spec:
    team: str
    people: list[tuple[str, str]]
    agencies: tuple[str, ...] = AGENCIES
    items: tuple[str, ...] | None = None  # None: not given (both)
    #: the agency is down until its deadline has passed: every answer overdue
    overdue: bool = False

    @property
    def household_items(self) -> tuple[str, ...]:
        return self.items or ("identity", "photo")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "case_number": CASE,
            "reason": "查询被执行人名下财产",
            "agencies": list(self.agencies),
            "subjects": [{"name": name, "id_number": number} for name, number in self.people],
        }
        if self.items is not None:
            body["household_items"] = list(self.items)
        return body


A1 = Spec("team-a", FORESTRY + SUBSIDY + DISPATCHED[:1] + ORGANISATION + OTHERS[:2])
A2 = Spec("team-a", OTHERS[2:6], ("household",), ("identity",))
A3 = Spec("team-a", OTHERS[2:4], ("household",), ("photo",))  # asked again: the photo
B1 = Spec("team-b", DISPATCHED[1:] + OTHERS[6:9], ("household", "realestate", "police"), ("photo",))
B2 = Spec("team-b", SUBSIDY + ORGANISATION + OTHERS[9:10], ("realestate", "vehicle", "subsidy"))
B3 = Spec("team-b", OTHERS[10:13], ("forestry",), overdue=True)
BATCHES = (A1, A2, A3, B1, B2, B3)


#: the list in each record whose entries are assets (subsidy: its payments' accounts)
ASSET_LISTS = {"realestate": "properties", "vehicle": "vehicles", "forestry": "certificates"}


def assets(agency: str, found: dict[str, Any]) -> int:
    """Counted by hand: a property, a vehicle, a certificate, an account (distinct numbers)."""
    if agency == "subsidy":
        return len({payment["account"] for payment in found["payments"]})
    return len(found[ASSET_LISTS[agency]])


def expected(team: str | None) -> dict[str, dict[str, Any]]:
    """Every agency's figures over the team's batches (None: all), from the truth."""
    figures: dict[str, dict[str, Any]] = {}
    for agency in AGENCIES:
        chosen = [b for b in BATCHES if team in (None, b.team) and agency in b.agencies]
        people = {number for b in chosen for _, number in b.people}
        found = assets_found = overdue = 0
        for batch in chosen:
            for _, number in batch.people:
                if batch.overdue:
                    overdue += 1
                    continue
                held = record(agency, number)
                if held is not None:
                    found += 1
                    if agency in ASSET_AGENCIES:
                        assets_found += assets(agency, held)
        items = None
        if agency == "household":
            items = {
                item: len({n for b in chosen if item in b.household_items for _, n in b.people})
                for item in ("identity", "photo")
            }
        figures[agency] = {
            "batches": len(chosen),
            "people": len(people),
            "found": found,
            "assets": assets_found if agency in ASSET_AGENCIES else None,
            "detentions_assisted": found if agency == "police" else None,
            "household_items": items,
            "overdue": overdue,
        }
    return figures


def table_rows(team: str, figures: dict[str, dict[str, Any]]) -> list[list[str]]:
    def text(value: int | None) -> str:
        return "—" if value is None else str(value)

    rows = []
    for agency in AGENCIES:
        f = figures[agency]
        items = f["household_items"] or {}
        rows.append(
            [team, TITLES[agency], str(f["batches"]), str(f["people"]),
             text(items.get("identity")), text(items.get("photo")), str(f["found"]),
             text(f["assets"]), text(f["detentions_assisted"]), str(f["overdue"])]
        )  # fmt: skip
    return rows


def printed_rows(stdout: str) -> list[list[str]]:
    """The body rows of the table rich printed (cells between │)."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in stdout.splitlines()
        if line.startswith("│")
    ]


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


def with_forestry_deadline(urls: dict[str, str]) -> dict[str, Any]:
    agencies = Settings.from_env({}).agencies
    return {
        name: agencies[name].model_copy(
            update={"url": urls[name], **({"answer_deadline": HOURS} if name == "forestry" else {})}
        )
        for name in AGENCIES
    }


async def stats(gateway: Gateway, query: str = "") -> dict[str, Any]:
    response = await gateway.client.get(
        f"/v1/stats{query}", headers=await gateway.headers("commander", None)
    )
    assert response.status == 200, await response.text()
    return await response.json()


def report_figures(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    keys = ("batches", "people", "found", "assets", "detentions_assisted", "household_items")
    return {a: {k: f[k] for k in (*keys, "overdue")} for a, f in body["agencies"].items()}


@pytest.fixture
def local_days() -> tuple[str, str]:
    """A window around today in the courts' time zone (batches are stamped by the database)."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return (today - timedelta(days=1)).isoformat(), (today + timedelta(days=2)).isoformat()


def test_the_chosen_people_make_a_telling_report() -> None:
    """The figures tell photo from identity, accounts from payments, assists from no record."""
    total = expected(None)
    assert total["household"]["household_items"] == {"identity": 12, "photo": 15}
    assert all(total[a]["assets"] for a in ASSET_AGENCIES)
    payments = sum(
        len((record("subsidy", n) or {"payments": []})["payments"])
        for batch in BATCHES
        if "subsidy" in batch.agencies
        for _, n in batch.people
    )
    assert 0 < total["subsidy"]["assets"] < payments  # accounts, not payments
    assert total["forestry"]["overdue"] == 3
    assert 0 < total["police"]["detentions_assisted"] < total["police"]["people"]


async def test_the_report_of_known_batches_equals_the_truth(
    gateway_factory: Any,
    mocks: Any,
    database_url: str,
    tmp_path: Path,
    local_days: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = Clock()
    settings: dict[str, Any] = {
        "clock": clock,
        "agencies": with_forestry_deadline(mocks.urls),
        # B3's forestry inquiries keep failing until the clock passes their deadline
        "breaker_failures": 10**6,
        "breaker_min_calls": 10**6,
        "requeue_backoff_cap": 0.05,
        "max_attempts": 1,
        "request_attempts": 2,
    }
    gateway = await gateway_factory(**settings)
    for spec in BATCHES:
        if spec.overdue:
            mocks.set_faults("forestry", {"outage": True})
        created = await gateway.submit(spec.body(), team=spec.team)
        assert created["household_items"] == list(spec.household_items)
        if spec.overdue:
            clock.at += timedelta(seconds=2 * HOURS)  # past the deadline: failed as overdue
        await gateway.wait_finished(created["id"])
    mocks.set_faults("forestry", {})

    body = await stats(gateway)
    total = expected(None)
    assert report_figures(body) == total
    assert [(t["team"], t["agencies"]) for t in body["by_team"]] == [
        (team, expected(team)) for team in TEAMS
    ]
    assert body["sentence"] == SENTENCE
    assert body["by_team"][1]["sentence"] == TEAM_B_SENTENCE
    household = body["agencies"]["household"]["household_items"]
    assert household["photo"] != household["identity"]  # counted apart
    empty = report_figures(await stats(gateway, "?until=2000-01-01"))
    assert empty["police"] == {**dict.fromkeys(total["police"], 0), "assets": None,
                               "household_items": None}  # fmt: skip
    assert empty["household"]["household_items"] == {"identity": 0, "photo": 0}
    assert empty["vehicle"]["assets"] == 0 and empty["vehicle"]["detentions_assisted"] is None

    # The audit log says the same: one found record per answer found, one failure per overdue.
    async with gateway.pool.acquire() as conn:
        audited = {
            row["agency"]: (row["found"], row["overdue"])
            for row in await conn.fetch(
                "SELECT agency, count(*) FILTER (WHERE outcome = 'found') AS found, "
                "count(*) FILTER (WHERE detail->>'error' LIKE '%no answer within the deadline%') "
                "AS overdue FROM audit_log WHERE action = 'inquiry.result' GROUP BY agency"
            )
        }
    assert audited == {a: (f["found"], f["overdue"]) for a, f in total.items() if f["batches"]}

    # A restart: a new gateway on the same database reports the same.
    await gateway.client.close()
    restarted = await gateway_factory(**settings)
    again = await stats(restarted)
    assert report_figures(again) == total
    assert (again["by_team"], again["sentence"]) == (body["by_team"], body["sentence"])

    # The command, in its own process: the table, the sentence, the workbook.
    monkeypatch.setenv("COLUMNS", "320")  # rich: wide enough never to wrap a row
    since, until = local_days
    workbook = tmp_path / "report.xlsx"
    code, stdout, stderr = await gateway_command(
        database_url, tmp_path, "report", "--since", since, "--until", until,
        "--xlsx", str(workbook),
    )  # fmt: skip
    assert code == 0, stderr
    rows = [row for team in TEAMS for row in table_rows(team, expected(team))]
    rows += table_rows("合计", total)
    assert printed_rows(stdout) == rows
    # the court's report ends with its holds (none in this test)
    assert stdout.splitlines()[-2:] == [SENTENCE, NO_HOLDS]
    title = f"执行查控统计 {since} 至 {until}（不含）"
    assert title in stdout

    sheet = load_workbook(workbook).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert cells and all(cell.data_type == "s" for cell in cells)  # text, never a formula
    values = [[c for c in row if c is not None] for row in sheet.iter_rows(values_only=True)]
    values = [row for row in values if row]
    assert values[0] == [title]
    assert values[1] == ["队组", "查询单位", "批次", "人数", "身份信息(人)", "电子头像(人)",
                         "查得", "查得财产", "协助司法拘留(人)", "超期未反馈"]  # fmt: skip
    assert values[2:-3] == rows
    assert values[-3] == ["报告", SENTENCE]
    assert values[-2] == ["控制措施", NO_HOLDS]
    assert values[-1][0] == "说明"

    # One team's report, in its own process too; then in this one: a team nobody created, a
    # window the wrong way round, a window with nothing in it.
    code, stdout, _ = await gateway_command(
        database_url, tmp_path, "report", "--since", since, "--until", until, "--team", "team-b"
    )
    assert code == 0
    assert printed_rows(stdout) == table_rows("team-b", expected("team-b"))
    assert stdout.splitlines()[-1] == TEAM_B_SENTENCE
    capsys.readouterr()
    on_this_database = restarted.settings.replace(database_url=database_url)

    async def report(since: str, until: str, team: str | None = None) -> int:
        args = Namespace(
            since=date.fromisoformat(since), until=date.fromisoformat(until), team=team, xlsx=None
        )
        return await run_report(on_this_database, args)

    assert await report(since, until, "nobody") == 1
    assert "no such team" in capsys.readouterr().err
    assert await report(until, since) == 2
    assert await report("2000-01-01", "2000-02-01") == 0
    nothing = capsys.readouterr().out.splitlines()[-2]
    assert nothing.startswith("户政信息查询0批次，查询0人电子头像信息和0人身份信息；")
