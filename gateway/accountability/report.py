"""The court's statistics report (查控工作统计): per agency, per team and in total, for the
batches submitted in a window [since, until), and the sentence in the court's own form.

The figures come from the durable records (``store/stats.report``): batches (rejected ones
left out); people, distinct subjects; for household, people asked for their identity
(身份信息) and for their ID photo (电子头像), apart; answers found; assets found in them
(``gateway.core.assets``: counted when each result was recorded, so the report never opens a
sealed record); detentions assisted, the police answers found (the station took the request
for assistance, ``connectors/police.py``); answers overdue (no answer within the agency's
deadline). People are counted once per agency however many batches asked for them; found,
assets, detentions and overdue count answers, one per batch and person.

The sentence follows the Siping Intermediate Court's report on its linkage system, agency by
agency in its order, e.g. "户政信息查询198批次，查询458人电子头像信息和426人身份信息；不动产信息
查询185批次，查询2059人不动产情况；……"; ``CLAUSES`` is its one template.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from connectors.controls import ACTIONS
from connectors.registry import AGENCIES, connector_classes
from gateway.core.assets import ASSET_LISTS
from gateway.store import controls as store_controls
from gateway.store import stats
from gateway.store.db import Connection, Record

#: the agency whose answers found are detentions assisted
DETENTIONS = "police"
#: the agency asked for identity and photo apart
HOUSEHOLD = "household"

#: the court's sentence, one clause per agency in the court's order (fields of AgencyCounts)
CLAUSES: tuple[tuple[str, str], ...] = (
    (
        "household",
        "户政信息查询{batches}批次，查询{photo_people}人电子头像信息和{identity_people}人身份信息",
    ),
    ("realestate", "不动产信息查询{batches}批次，查询{people}人不动产情况"),
    ("police", "派出所司法拘留查询{batches}批次{people}人，协助司法拘留{detentions_assisted}人"),
    ("subsidy", "各乡镇协查{batches}批次，查询{people}人直补粮补情况"),
    ("forestry", "林地权属查询{batches}批次，查询{people}人林地权属信息"),
    ("vehicle", "交警大队车管所协查{batches}批次，涉及{people}人名下车辆信息情况"),
)

#: the table's columns: (heading, AgencyCounts field); the first two are the team and agency
COLUMNS: tuple[tuple[str, str], ...] = (
    ("队组", "team"),
    ("查询单位", "agency"),
    ("批次", "batches"),
    ("人数", "people"),
    ("身份信息(人)", "identity_people"),
    ("电子头像(人)", "photo_people"),
    ("查得", "found"),
    ("查得财产", "assets"),
    ("协助司法拘留(人)", "detentions_assisted"),
    ("超期未反馈", "overdue"),
)
TOTAL = "合计"
NOT_APPLICABLE = "—"
NOTE = (
    "人数为不同的被执行人；查得、查得财产、协助司法拘留、超期未反馈按每批次每人的查询结果计。"
    "查得财产：不动产为处数，车管所为车辆数，林地权属为林权证本数，"
    "乡镇协查为补贴账户（惠农一卡通）数。"
)


def agency_title(agency: str) -> str:
    """The agency's Chinese name (the connector's title), e.g. 户政, 派出所(司法拘留)."""
    return connector_classes()[agency].title


@dataclass(frozen=True, slots=True)
class AgencyCounts:
    """One agency's figures; a figure the agency does not have is None."""

    agency: str
    batches: int = 0
    people: int = 0
    found: int = 0
    overdue: int = 0
    #: realestate, vehicle, forestry, subsidy only
    assets: int | None = None
    #: police only
    detentions_assisted: int | None = None
    #: household only
    identity_people: int | None = None
    photo_people: int | None = None

    @classmethod
    def of(cls, agency: str, row: Record | None = None) -> AgencyCounts:
        """From a row of ``stats.report`` (None: nothing in the window)."""

        def figure(name: str) -> int:
            return int(row[name]) if row is not None else 0

        return cls(
            agency=agency,
            batches=figure("batches"),
            people=figure("people"),
            found=figure("found"),
            overdue=figure("overdue"),
            assets=figure("assets") if agency in ASSET_LISTS else None,
            detentions_assisted=figure("found") if agency == DETENTIONS else None,
            identity_people=figure("identity_people") if agency == HOUSEHOLD else None,
            photo_people=figure("photo_people") if agency == HOUSEHOLD else None,
        )

    def to_json(self) -> dict[str, Any]:
        items = None
        if self.identity_people is not None and self.photo_people is not None:
            items = {"identity": self.identity_people, "photo": self.photo_people}
        return {
            "batches": self.batches,
            "people": self.people,
            "found": self.found,
            "assets": self.assets,
            "detentions_assisted": self.detentions_assisted,
            "household_items": items,
            "overdue": self.overdue,
        }


Figures = dict[str, AgencyCounts]


def _empty() -> Figures:
    return {agency: AgencyCounts.of(agency) for agency in AGENCIES}


@dataclass(frozen=True, slots=True)
class Report:
    since: datetime | None
    until: datetime | None
    #: every agency, over every team
    total: Figures = field(default_factory=_empty)
    #: team name -> every agency, for the teams with batches in the window, by name
    teams: dict[str, Figures] = field(default_factory=dict[str, Figures])

    def figures(self, team: str | None = None) -> Figures:
        """One team's figures (zeros when it submitted nothing), or the total."""
        if team is None:
            return self.total
        return self.teams.get(team) or _empty()

    def rows(self, team: str | None = None) -> list[list[str]]:
        """The table as text, in ``COLUMNS`` order: every team's agencies, then the total (or
        only ``team``'s agencies); "—" where an agency has no such figure."""
        chosen = [(team, self.figures(team))] if team is not None else [*self.teams.items()]
        if team is None:
            chosen.append((TOTAL, self.total))
        return [
            [name, agency_title(agency), *(_text(getattr(c, f)) for _, f in COLUMNS[2:])]
            for name, figures in chosen
            for agency, c in figures.items()
        ]


def _text(value: int | None) -> str:
    return NOT_APPLICABLE if value is None else str(value)


def sentence(figures: Figures) -> str:
    """The figures in the court's words: one clause per agency, in the court's order."""
    clauses = [template.format(**asdict(figures[agency])) for agency, template in CLAUSES]
    return "；".join(clauses) + "。"


async def gather(conn: Connection, since: datetime | None, until: datetime | None) -> Report:
    """The report for the batches created in [since, until) (either end open when None)."""
    total = _empty()
    teams: dict[str, Figures] = {}
    for row in await stats.report(conn, (since, until)):
        agency, team = row["agency"], row["team"]
        if agency not in total:  # an agency no longer in the registry
            continue
        figures = total if team is None else teams.setdefault(team, _empty())
        figures[agency] = AgencyCounts.of(agency, row)
    return Report(since, until, total, dict(sorted(teams.items())))


@dataclass(frozen=True, slots=True)
class ControlFigures:
    """Holds in effect now, by action; holds that took effect, renewals and releases in the
    report's period (every team: holds are counted court-wide)."""

    in_effect: dict[str, int]
    took_effect: int
    renewals: int
    releases: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def sentence(self) -> str:
        held = self.in_effect
        return (
            f"控制措施：在控查封{held.get('seal', 0)}项、扣押{held.get('seize', 0)}项、"
            f"冻结{held.get('freeze', 0)}项；期内生效{self.took_effect}项，续行{self.renewals}次，"
            f"解除{self.releases}次。"
        )


async def control_figures(
    conn: Connection, since: datetime | None, until: datetime | None
) -> ControlFigures:
    held = await store_controls.in_effect_by_action(conn)
    steps = await store_controls.steps_between(conn, since, until)
    return ControlFigures(
        in_effect={action: held.get(action, 0) for action in ACTIONS},
        took_effect=steps.get("control.in_effect", 0),
        renewals=steps.get("control.renewed", 0),
        releases=steps.get("control.released", 0),
    )
