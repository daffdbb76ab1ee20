"""What the pages show of control actions: the assets a batch found, each with its control
if one was asked; the team's reminders and new-asset alerts; the wall's approvals waiting and
holds expiring (no personal data there: cases, teams, agencies, dates)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from connectors.controls import ACTIONS, ASSET_FIELDS, CONTROL_ACTIONS
from gateway.accountability import batches as batch_views
from gateway.accountability.alerts import CONTROL_EXPIRING, NEW_ASSETS
from gateway.accountability.auth import Caller
from gateway.accountability.control_records import ControlPolicy, term_kind
from gateway.core.assets import assets_described
from gateway.store import controls as store
from gateway.store import db
from gateway.store import rules as store_rules
from gateway.store.crypto import result_context, subject_context
from gateway.store.db import Connection, Pool

#: asset records opened for one batch's page (a long list is acted on from the workbook)
RESULTS_LISTED = 200
WALL_ROWS = 20


async def batch_assets(
    policy: ControlPolicy, pool: Pool, caller: Caller, batch_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Each asset the batch found, in row order, with the newest control asked on it."""
    batch = await batch_views.get_batch(pool, caller, batch_id)  # NotFound unless the team's
    if batch["purged_at"] is not None:
        return []
    cipher = policy.cipher
    async with db.connection(pool) as conn:
        rows = await store.batch_assets(conn, batch_id, list(ASSET_FIELDS), RESULTS_LISTED)
        controls = await store.batch_controls(conn, batch_id)
    latest = {(c["row"], c["agency"], bytes(c["asset_digest"])): c for c in controls}
    assets: list[dict[str, Any]] = []
    for r in rows:
        name = cipher.open_text(r["name"], subject_context(batch_id, r["row"], "name"))
        record = cipher.open_json(r["data"], result_context(r["inquiry_id"]))
        agency = r["agency"]
        for identifier, words in assets_described(agency, record):
            digest = store.asset_digest(cipher, agency, identifier)
            control = latest.get((r["row"], agency, digest))
            actions = sorted(CONTROL_ACTIONS[agency])
            assets.append(
                {
                    "row": r["row"],
                    "name": name,
                    "agency": agency,
                    "asset": identifier,
                    "words": words,
                    "actions": actions,
                    "term_limit": policy.settings.term_limit(
                        term_kind(agency, actions[0]), policy.today()
                    ),
                    "control": None
                    if control is None
                    else {
                        "id": control["id"],
                        "status": control["status"],
                        "action": control["action"],
                        "expires_on": None
                        if control["expires_on"] is None
                        else control["expires_on"].isoformat(),
                    },
                }
            )
    return assets


async def team_alerts(pool: Pool, caller: Caller, limit: int = 20) -> list[dict[str, Any]]:
    """The team's reminders of expiring holds and its new-asset alerts, newest first."""
    async with db.connection(pool) as conn:
        rows = [
            *await _alerts(conn, CONTROL_EXPIRING, caller.team, limit),
            *await _alerts(conn, NEW_ASSETS, caller.team, limit),
        ]
    rows.sort(key=lambda r: (r["at"], r["id"]), reverse=True)
    return [
        {"at": r["at"].isoformat(), "kind": r["kind"], "detail": r["detail"]} for r in rows[:limit]
    ]


async def _alerts(conn: Connection, kind: str, team: str | None, limit: int) -> list[Any]:
    return await store_rules.list_alerts(
        conn, kind=kind, team=team, officer=None, batch_id=None, since=None, until=None,
        after=None, limit=limit,
    )  # fmt: skip


async def wall(policy: ControlPolicy, conn: Connection) -> dict[str, Any]:
    """The command centre's view: approvals waiting, holds expiring within the window, holds
    in effect by action."""
    last_day = policy.today() + timedelta(days=policy.settings.expiry_window_days)
    pending = await store.pending_list(conn, WALL_ROWS)
    expiring = await store.expiring_list(conn, last_day, WALL_ROWS)
    in_effect = await store.in_effect_by_action(conn)
    return {
        "pending": [
            {
                "id": r["id"],
                "case_number": r["case_number"],
                "team": r["team"],
                "officer": r["officer"],
                "agency": r["agency"],
                "action": r["action"],
                "amount": None if r["amount"] is None else str(r["amount"]),
                "over_limit": r["over_limit"],
            }
            for r in pending
        ],
        "expiring": [
            {
                "id": r["id"],
                "case_number": r["case_number"],
                "team": r["team"],
                "agency": r["agency"],
                "action": r["action"],
                "expires_on": r["expires_on"].isoformat(),
                "days_left": (r["expires_on"] - policy.today()).days,
            }
            for r in expiring
        ],
        "in_effect": {action: in_effect.get(action, 0) for action in ACTIONS},
    }
