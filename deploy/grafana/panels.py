"""The pieces of the command centre's Grafana dashboard: queries, panels, rows and their
thresholds, as the JSON Grafana reads (dashboard.py lays them out)."""

from __future__ import annotations

from typing import Any

#: the datasource provisioned by provisioning/datasources/gateway.yml
DATASOURCE = {"type": "prometheus", "uid": "gateway-prometheus"}
AGENCY = 'agency=~"$agency"'

Json = dict[str, Any]


def target(expr: str, legend: str = "", *, ref: str = "A", instant: bool = False) -> Json:
    query: Json = {"datasource": DATASOURCE, "refId": ref, "expr": expr}
    if legend:
        query["legendFormat"] = legend
    if instant:
        query |= {"instant": True, "range": False, "format": "table"}
    return query


def panel(
    kind: str,
    title: str,
    targets: list[Json],
    grid: tuple[int, int, int, int],
    *,
    description: str = "",
    unit: str | None = None,
    options: Json | None = None,
    mappings: list[Json] | None = None,
    thresholds: list[Json] | None = None,
    custom: Json | None = None,
    transformations: list[Json] | None = None,
) -> Json:
    x, y, w, h = grid
    defaults: Json = {}
    if unit:
        defaults["unit"] = unit
    if mappings:
        defaults["mappings"] = mappings
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
    if custom:
        defaults["custom"] = custom
    result: Json = {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options or {},
    }
    if description:
        result["description"] = description
    if transformations:
        result["transformations"] = transformations
    return result


def row(title: str, y: int) -> Json:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
        "panels": [],
    }


def steps(*pairs: tuple[float | None, str]) -> list[Json]:
    return [{"value": value, "color": color} for value, color in pairs]


def value_text(*pairs: tuple[str, str, str]) -> list[Json]:
    """Value mappings: (value, text, colour)."""
    return [
        {
            "type": "value",
            "options": {
                value: {"text": text, "color": color, "index": i}
                for i, (value, text, color) in enumerate(pairs)
            },
        }
    ]


def stat(title: str, expr: str, grid: tuple[int, int, int, int], **kw: Any) -> Json:
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "background",
        "graphMode": "none",
        "textMode": kw.pop("text_mode", "value"),
    }
    legend = kw.pop("legend", "")
    return panel("stat", title, [target(expr, legend)], grid, options=options, **kw)


def timeseries(title: str, targets: list[Json], grid: tuple[int, int, int, int], **kw: Any) -> Json:
    options = {
        "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel("timeseries", title, targets, grid, options=options, **kw)
