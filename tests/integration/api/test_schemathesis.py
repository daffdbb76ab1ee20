"""Requests generated from the live OpenAPI document (schemathesis), as every role: no server
error, and every response conforms to the document (status code, content type, schema).

The gateway runs in a thread of its own (schemathesis calls it with blocking HTTP) on a fresh
clone of the template database. Identifiers in generated batches come from a strategy for the
document's ``gb11643-or-gb32100`` format, so generated batches are ones the server accepts.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import asyncpg
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from stdnum.cn import ric

from gateway.accountability.auth import create_token
from gateway.cli.runner import serving
from gateway.core.settings import Settings
from gateway.http.app import make_app
from gateway.http.keys import POOL
from gateway.store import db
from tests.conftest import TEMPLATE, with_database

#: generated cases per operation and generation mode; each is sent once per caller
EXAMPLES = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: area codes that exist (Siping and around), so generated resident IDs are valid ones
AREAS = ("220302", "220303", "220322", "220323", "220381", "220382", "220102", "110101")


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from(AREAS))
    birth = draw(st.dates(min_value=date(1930, 1, 1), max_value=date(2005, 12, 31)))
    body = f"{area}{birth:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return body + ric.calc_check_digit(body + "0")


schemathesis.openapi.format("gb11643-or-gb32100", resident_ids())


class GatewayThread:
    """The gateway, serving from a thread with its own event loop, until stopped."""

    def __init__(self, settings: Settings, dsn: str) -> None:
        self.settings, self.dsn = settings, dsn
        self.url = ""
        self.tokens: dict[str, str] = {}
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._failure: BaseException | None = None

    def __enter__(self) -> GatewayThread:
        self._thread.start()
        assert self._ready.wait(60), "the gateway did not start"
        if self._failure is not None:
            raise self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        try:
            app = make_app(self.settings, self.dsn, dispatch=False)
            async with serving(app, "127.0.0.1", 0) as url:
                self.url = url
                async with db.connection(app[POOL]) as conn:
                    for role, team in (
                        ("officer", "team-a"),
                        ("commander", None),
                        ("auditor", None),
                        ("admin", None),
                    ):
                        self.tokens[role] = await create_token(
                            conn,
                            officer=f"st-{role}",
                            role=role,  # type: ignore[arg-type]  # one of the literal roles
                            team=team,
                        )
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # reported to the test's thread
            self._failure = exc
            self._ready.set()


@pytest.fixture
def served(pg_url: str, template_url: str, tmp_path: Path) -> Iterator[GatewayThread]:
    name = f"schemathesis_{id(tmp_path)}"

    async def create() -> None:
        conn = await asyncpg.connect(pg_url)
        try:
            await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        finally:
            await conn.close()

    asyncio.run(create())
    settings = Settings.from_env({"GATEWAY_WORKER_ID": "schemathesis"}).replace(
        data_dir=tmp_path,
        require_filed_case=False,
        requery_days=0,
        working_hours="",
        quota_subjects_per_day=0,
    )
    with GatewayThread(settings, with_database(pg_url, name)) as gateway:
        yield gateway


def test_generated_requests_as_every_role_conform_to_the_document(served: GatewayThread) -> None:
    document = requests.get(f"{served.url}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    callers = {role: {"Authorization": f"Bearer {t}"} for role, t in served.tokens.items()}
    callers["nobody"] = {}
    sent: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    session = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30, "every route is in the document"
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def exercise(case: schemathesis.Case) -> None:
                for who, headers in callers.items():
                    response = case.call(base_url=served.url, session=session, headers=headers)
                    case.validate_response(response, checks=CHECKS)
                    sent[who] += 1
                    statuses[response.status_code] += 1

            try:
                exercise()
            except Unsatisfiable:
                # Nothing to make invalid (no parameters, no body): positive cases only.
                assert mode is schemathesis.GenerationMode.NEGATIVE
    total = sum(sent.values())
    print(f"schemathesis: {total} requests, by caller {dict(sent)}, by status {dict(statuses)}")
    assert total >= 1000
    assert statuses[202] > 0, "some generated batches were accepted"
    assert not any(status >= 500 for status in statuses)
