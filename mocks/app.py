"""One aiohttp application per stand-in agency, and their admin endpoints.

Admin (loopback only, no requester headers needed, never faulted):
``GET /admin/stats``, ``POST /admin/reset`` (start-up configuration, empty stats),
``GET|POST /admin/faults`` (``{"500": 0.1, "hang": 0.05, "outage": true}``; replaces),
``GET|POST /admin/limits`` (``{"max_in_flight": 4, "max_per_second": 10}``; null = none),
``POST /admin/latency`` (``{"profile": "zero" | "realistic"}``),
``GET /admin/truth?id=...&kind=person&case=...`` (what the connector should return) and, at
the four agencies that take control actions, ``GET /admin/controls`` (every hold issued;
``POST /admin/reset`` drops them too).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from mocks import control_routes, forestry, household, police, realestate, subsidy, vehicle
from mocks.controls import DESKS
from mocks.faults import AgencyControl, ConfigError, Faults, Limits, latency_profile
from mocks.http import (
    CONTROL,
    MAX_BODY,
    BadRequest,
    control_middleware,
    json_response,
    read_json,
)
from mocks.population import kind_of, truth

#: how each agency adds its protocol routes to its application
MOCK_APPS: dict[str, Callable[[web.Application], None]] = {
    "household": household.setup,
    "realestate": realestate.setup,
    "vehicle": vehicle.setup,
    "forestry": forestry.setup,
    "subsidy": subsidy.setup,
    "police": police.setup,
}


def build_app(control: AgencyControl) -> web.Application:
    """The stand-in agency ``control.agency``, governed by ``control``."""
    app = web.Application(middlewares=[control_middleware], client_max_size=MAX_BODY)
    app[CONTROL] = control
    MOCK_APPS[control.agency](app)
    if control.agency in DESKS:
        control_routes.setup(app)
    app.router.add_get("/admin/stats", _stats)
    app.router.add_post("/admin/reset", _reset)
    app.router.add_get("/admin/faults", _get_faults)
    app.router.add_post("/admin/faults", _set_faults)
    app.router.add_get("/admin/limits", _get_limits)
    app.router.add_post("/admin/limits", _set_limits)
    app.router.add_post("/admin/latency", _set_latency)
    app.router.add_get("/admin/truth", _truth)
    app.on_shutdown.append(control.close)
    return app


async def _stats(request: web.Request) -> web.Response:
    control = request.app[CONTROL]
    return json_response({"agency": control.agency, **control.stats.to_json()})


async def _reset(request: web.Request) -> web.Response:
    request.app[CONTROL].reset()
    control_routes.forget(request.app)
    return json_response({"reset": True})


async def _get_faults(request: web.Request) -> web.Response:
    return json_response(request.app[CONTROL].faults.to_json())


async def _set_faults(request: web.Request) -> web.Response:
    control = request.app[CONTROL]
    try:
        control.faults = Faults.parse(await read_json(request))
    except ConfigError as exc:
        raise BadRequest(str(exc)) from exc
    return json_response(control.faults.to_json())


async def _get_limits(request: web.Request) -> web.Response:
    return json_response(request.app[CONTROL].limits.to_json())


async def _set_limits(request: web.Request) -> web.Response:
    control = request.app[CONTROL]
    try:
        control.limits = Limits.parse(await read_json(request))
    except ConfigError as exc:
        raise BadRequest(str(exc)) from exc
    return json_response(control.limits.to_json())


async def _set_latency(request: web.Request) -> web.Response:
    control = request.app[CONTROL]
    profile = (await read_json(request)).get("profile")
    try:
        control.latency = latency_profile(control.agency, str(profile))
    except ConfigError as exc:
        raise BadRequest(str(exc)) from exc
    return json_response({"profile": profile})


async def _truth(request: web.Request) -> web.Response:
    agency = request.app[CONTROL].agency
    id_number = request.query.get("id", "")
    kind = kind_of(id_number)
    if kind is None:
        raise BadRequest("id is not a valid resident ID or credit code")
    case = request.query.get("case")
    if agency == "police" and not case:
        raise BadRequest("police truth needs case (the ack number depends on it)")
    record = truth(agency, id_number, kind, case_number=case)
    return json_response({"agency": agency, "found": record is not None, "record": record})
