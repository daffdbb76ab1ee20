"""The aiohttp application: state under ``AppKey``s, resources under ``cleanup_ctx``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import cast

import aiohttp
from aiohttp import web

from connectors.controls import CONTROL_ACTIONS, ControlClient
from connectors.registry import build_connectors
from gateway.accountability import alerts
from gateway.accountability.admission import AdmissionPolicy, utcnow
from gateway.accountability.calendar import ControlCalendar
from gateway.accountability.control_records import ControlPolicy
from gateway.accountability.figures import ClusterFigures
from gateway.accountability.retention import ScheduledPurge
from gateway.core.errors import ConfigurationError
from gateway.core.metrics import Metrics
from gateway.core.offload import Offload
from gateway.core.settings import Settings
from gateway.http.intake import ready_helper
from gateway.http.keys import (
    CIPHER,
    CONNECTORS,
    CONTROL_SENDER,
    CONTROLS,
    DISPATCHER,
    DRAINING,
    FIGURES,
    LEADERSHIP,
    METRICS,
    OFFLOAD,
    POLICY,
    POOL,
    SESSION,
    SETTINGS,
)
from gateway.http.middleware import canonical_log, json_errors, require_role
from gateway.http.routes import add_routes
from gateway.http.web import dashboard, pages
from gateway.store import db, migrations
from gateway.store.crypto import cipher_for
from gateway.store.leader import Leadership
from gateway.worker.control_sender import ControlSender
from gateway.worker.dispatcher import Dispatcher
from gateway.worker.limits import GatedSession
from gateway.worker.supervise import spawn


def make_app(
    settings: Settings,
    dsn: str,
    *,
    dispatch: bool = True,
    clock: Callable[[], datetime] = utcnow,
) -> web.Application:
    """The gateway: the HTTP API and, unless ``dispatch`` is off, the dispatcher."""
    app = web.Application(
        middlewares=[canonical_log, json_errors, require_role],
        client_max_size=settings.max_body_bytes,
    )
    if settings.database_url and not (settings.data_key and settings.digest_key):
        # Keys generated per host would differ between replicas sharing this database: each
        # could read only its own results, and subject digests would stop matching.
        raise ConfigurationError(
            "GATEWAY_DATA_KEY and GATEWAY_DIGEST_KEY must be set when GATEWAY_DATABASE_URL "
            "is (see README, Personal data); `gateway keys generate` makes one"
        )
    app[SETTINGS] = settings
    app[DRAINING] = asyncio.Event()
    app[METRICS] = Metrics()
    app[CIPHER] = cipher_for(settings)
    offload = app[OFFLOAD] = Offload(settings.intake_processes)
    app[POLICY] = AdmissionPolicy(settings, app[CIPHER], app[METRICS], clock)
    app[POLICY].init_metrics()
    app[CONTROLS] = ControlPolicy(settings, app[CIPHER], app[METRICS], clock)

    async def helpers(app: web.Application) -> AsyncIterator[None]:
        await offload.start(ready_helper)
        yield
        await asyncio.to_thread(offload.close)  # waits for the helper to exit

    async def database(app: web.Application) -> AsyncIterator[None]:
        pool = await db.create_pool(dsn)
        try:
            async with db.connection(pool) as conn:
                if settings.migrates_on_start:
                    await migrations.migrate(conn)
                else:
                    await migrations.require_current(conn)
        except BaseException:
            await pool.close()
            raise
        app[POOL] = pool
        yield
        await pool.close()

    async def cluster(app: web.Application) -> AsyncIterator[None]:
        # The leader replica alone exports the figures counted in the database, and
        # verifies the audit chain (gateway/store/leader.py, gateway/accountability/figures.py),
        # and purges what outlived its retention (gateway/accountability/retention.py).
        leadership = Leadership(dsn, settings.leader_seconds)
        figures = ClusterFigures(
            app[POOL], leadership, settings, app[METRICS], list(settings.agencies), clock
        )
        app[LEADERSHIP], app[FIGURES] = leadership, figures
        purge = ScheduledPurge(app[POOL], leadership, settings, app[METRICS], clock)
        calendar = ControlCalendar(app[CONTROLS], app[POOL])
        tasks = [
            spawn("control_calendar", lambda: calendar.loop(leadership)),
            spawn("leadership", leadership.run),
            spawn("cluster_figures", figures.export_loop),
            spawn("audit_verification", figures.verify_loop),
            spawn("retention_purge", purge.loop),
        ]
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def agencies(app: web.Application) -> AsyncIterator[None]:
        # One session for every agency; per-agency limits are the dispatcher's job.
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            app[SESSION] = session
            app[CONNECTORS] = build_connectors(
                session,
                {name: a.url for name, a in settings.agencies.items()},
                {name: a.timeout for name, a in settings.agencies.items()},
            )
            yield

    async def dispatcher(app: web.Application) -> AsyncIterator[None]:
        worker = Dispatcher(
            app[POOL],
            app[CONNECTORS],
            settings,
            app[METRICS],
            app[CIPHER],
            clock,
            alerts.first_chunk_alerts(settings),
        )
        app[DISPATCHER] = worker
        await worker.start()
        yield
        await worker.stop()

    async def control_sender(app: web.Application) -> AsyncIterator[None]:
        # Control orders pass each agency's gate as inquiries do: its rate and in-flight
        # limits are the agency's, whatever is asked of it.
        gates = app[DISPATCHER].agencies
        clients = {
            name: ControlClient(
                cast(aiohttp.ClientSession, GatedSession(app[SESSION], gates[name].gate)),
                name,
                settings.agencies[name].url,
                settings.agencies[name].timeout,
            )
            for name in CONTROL_ACTIONS
        }
        sender = ControlSender(app[POOL], clients, settings, app[METRICS], app[CIPHER], clock)
        app[CONTROL_SENDER] = sender
        task = spawn("control_sender", sender.run)
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    app.cleanup_ctx.append(helpers)
    app.cleanup_ctx.append(database)
    app.cleanup_ctx.append(cluster)
    app.cleanup_ctx.append(agencies)
    if dispatch:
        app.cleanup_ctx.append(dispatcher)
        app.cleanup_ctx.append(control_sender)
    pages.setup(app)
    app[dashboard.CLOSING] = asyncio.Event()
    app[dashboard.STREAMS] = set()
    app.on_shutdown.append(dashboard.close_streams)
    add_routes(app)
    return app
