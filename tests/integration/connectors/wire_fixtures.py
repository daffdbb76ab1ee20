"""Reading the hand-written wire fixtures in ``tests/fixtures`` and playing them back.

The format is described in ``tests/fixtures/README.md``. ``scripted_agency(case)`` serves a
case's responses on 127.0.0.1 and checks every request it receives against the case's
requests; what did not match is kept in ``Playback.unexpected``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from connectors.base import Requester, Subject

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
_REQUESTER = json.loads((FIXTURES / "requester.json").read_text(encoding="utf-8"))
#: the lawful basis every fixture's requests carry (and the police ack numbers depend on)
REQUESTER = Requester(
    officer=_REQUESTER["officer"],
    team=_REQUESTER["team"],
    case_number=_REQUESTER["case_number"],
    batch_id=_REQUESTER["batch_id"],
)
CONTENT_TYPES = {"json": "application/json", "xml": "application/xml", "png": "image/png"}


@dataclass(frozen=True)
class Body:
    """A request or response body: ``kind`` is json, xml, png or none."""

    kind: str
    value: Any = None  # the JSON value, or the file's bytes

    def encoded(self) -> bytes:
        if self.kind == "json":
            return json.dumps(self.value, ensure_ascii=False).encode()
        return self.value if self.kind in ("xml", "png") else b""

    def matches(self, data: bytes) -> bool:
        """Does ``data`` say the same? JSON by value and type, XML canonically, PNG exactly."""
        if self.kind == "json":
            try:
                return strict_json(json.loads(data)) == strict_json(self.value)
            except ValueError:
                return False
        if self.kind == "xml":
            try:
                return canonical_xml(data) == canonical_xml(self.value)
            except ET.ParseError:
                return False
        return data == (self.value if self.kind == "png" else b"")


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    request: Body
    status: int
    response: Body


@dataclass(frozen=True)
class Case:
    agency: str
    name: str
    about: str
    stand_in: bool
    subjects: list[Subject]
    exchanges: list[Exchange]
    #: one entry per subject (the record or None), or None when the case expects an error
    expected: list[Any] | None
    #: {"error": class name, "message": str(exception)} for a bad answer
    error: dict[str, str] | None
    #: the household parts asked for (``household_items``); empty: all of them
    items: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.agency}/{self.name}"

    @property
    def requester(self) -> Requester:
        """The fixture requester, asking for the case's parts."""
        return dataclasses.replace(REQUESTER, items=self.items)


def strict_json(value: Any) -> str:
    """JSON text that tells 80 from 80.0 and ignores key order: for exact comparisons."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def canonical_xml(data: bytes) -> str:
    """C14N 2.0 with surrounding whitespace stripped, so indentation does not matter."""
    return ET.canonicalize(from_file=io.BytesIO(data), strip_text=True)


def _body(spec: dict[str, Any], directory: Path) -> Body:
    kinds = [kind for kind in CONTENT_TYPES if kind in spec]
    assert len(kinds) <= 1, f"{directory}: more than one body in {spec}"
    if not kinds:
        return Body("none")
    kind = kinds[0]
    if kind == "json":
        return Body("json", spec["json"])
    return Body(kind, (directory / spec[kind]).read_bytes())


def load_case(directory: Path) -> Case:
    doc = json.loads((directory / "exchanges.json").read_text(encoding="utf-8"))
    required = {"about", "stand_in", "subjects", "exchanges"}
    assert required <= set(doc) <= required | {"household_items"}, directory
    exchanges = [
        Exchange(
            method=item["request"]["method"],
            path=item["request"]["path"],
            request=_body(item["request"], directory),
            status=item["response"]["status"],
            response=_body(item["response"], directory),
        )
        for item in doc["exchanges"]
    ]
    expected_file, error_file = directory / "expected.json", directory / "error.json"
    assert expected_file.exists() != error_file.exists(), f"{directory}: expected or error"
    expected = error = None
    if expected_file.exists():
        expected = json.loads(expected_file.read_text(encoding="utf-8"))
        assert len(expected) == len(doc["subjects"]), f"{directory}: one record per subject"
    else:
        error = json.loads(error_file.read_text(encoding="utf-8"))
    return Case(
        agency=directory.parent.name,
        name=directory.name,
        about=doc["about"],
        stand_in=doc["stand_in"],
        subjects=[Subject(s["name"], s["id_number"], s["kind"]) for s in doc["subjects"]],
        exchanges=exchanges,
        expected=expected,
        error=error,
        items=tuple(doc.get("household_items", ())),
    )


def all_cases() -> list[Case]:
    return [load_case(path.parent) for path in sorted(FIXTURES.glob("*/*/exchanges.json"))]


@dataclass
class Playback:
    """What a scripted agency saw: exchanges answered, and requests it had no answer for."""

    case: Case
    used: list[bool] = field(default_factory=list[bool])
    unexpected: list[str] = field(default_factory=list[str])

    @property
    def unused(self) -> list[str]:
        pairs = zip(self.case.exchanges, self.used, strict=True)
        return [f"{e.method} {e.path}" for e, done in pairs if not done]

    def answer(self, method: str, path: str, content_type: str, body: bytes) -> Exchange | None:
        """The first unused exchange whose request this is (same method, path, body)."""
        for index, exchange in enumerate(self.case.exchanges):
            if self.used[index] or (exchange.method, exchange.path) != (method, path):
                continue
            wanted = CONTENT_TYPES.get(exchange.request.kind)
            if wanted is not None and content_type != wanted:
                continue
            if exchange.request.matches(body):
                self.used[index] = True
                return exchange
        self.unexpected.append(f"{method} {path} {content_type} {body[:300]!r}")
        return None


def _lawful_basis_problem(request: web.Request) -> str | None:
    for header, value in REQUESTER.headers().items():
        if request.headers.get(header) != value:
            return f"{header} is missing or not the fixture requester's"
    return None


@asynccontextmanager
async def scripted_agency(case: Case) -> AsyncGenerator[tuple[str, Playback], None]:
    """Serve ``case`` on an ephemeral loopback port; yields (base URL, playback)."""
    playback = Playback(case, used=[False] * len(case.exchanges))

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        problem = _lawful_basis_problem(request)
        if problem is not None:
            playback.unexpected.append(f"{request.method} {request.path}: {problem}")
            return web.json_response({"error": problem}, status=400)
        # request.raw_path keeps the path exactly as sent (no query string is expected).
        exchange = playback.answer(request.method, request.raw_path, request.content_type, body)
        if exchange is None:
            return web.json_response({"error": "not in the fixture"}, status=400)
        response = exchange.response
        content_type = CONTENT_TYPES.get(response.kind, "application/octet-stream")
        return web.Response(
            status=exchange.status,
            body=response.encoded(),
            content_type=content_type,
            charset="utf-8" if response.kind in ("json", "xml") else None,
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}", playback
    finally:
        await runner.cleanup()
