"""What the commands share: waiting for Ctrl-C or SIGTERM, serving an app, and a database
connection (migrated) for a one-off command."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from aiohttp import web

from gateway.core.settings import Settings
from gateway.store import db, migrations
from gateway.store.db import Connection, Pool


async def wait_for_stop() -> None:
    """Until Ctrl-C or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    # a second signal is not ignored while the service drains: it stops it as signals do
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)


@asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncGenerator[str, None]:
    """The app listening on host:port for as long as the block runs; yields its base URL
    (with the port the system chose, when ``port`` is 0)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound = runner.addresses[0][1] if runner.addresses else port
        yield f"http://{host}:{bound}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def database(
    settings: Settings, *, migrate: bool | None = None
) -> AsyncGenerator[Pool, None]:
    """A small pool on the configured (or embedded) database. ``migrate``: True migrates,
    False leaves the schema as it is, None (the default) does as the service would: migrates
    with GATEWAY_MIGRATE_ON_START, else refuses a database behind the code, naming why."""
    require = migrate is None and not settings.migrates_on_start
    if migrate is None:
        migrate = settings.migrates_on_start
    async with db.database_url(settings.database_url, settings.data_dir) as dsn:
        pool = await db.create_pool(dsn, min_size=1, max_size=2)
        try:
            async with db.connection(pool) as conn:
                if migrate:
                    await migrations.migrate(conn)
                elif require:
                    await migrations.require_current(conn)
            yield pool
        finally:
            await pool.close()


@asynccontextmanager
async def connection(
    settings: Settings, *, migrate: bool | None = None
) -> AsyncGenerator[Connection, None]:
    """One connection of ``database``."""
    async with database(settings, migrate=migrate) as pool, db.connection(pool) as conn:
        yield conn
