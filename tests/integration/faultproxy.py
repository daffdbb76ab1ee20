"""A fault-injecting HTTP proxy of our own, for tests: one per agency, in front of its mock.

Every request (method, path, query, headers, body) is forwarded to the upstream and its answer
sent back, except that with probability ``rate`` per request (a seeded ``random.Random``, so a
run draws the same faults in the same order) one fault of the configured kinds is injected:

- ``500``, ``503``: an error answer; the upstream is not asked;
- ``429``: refused with a short ``Retry-After`` (fractional seconds, to keep tests fast);
- ``hang``: the request is held open until the client gives up (or the proxy closes);
- ``reset``: the connection is dropped without an answer;
- ``truncated``: the upstream is asked, then its answer is cut short: the full Content-Length
  is promised, part of the body sent, and the connection dropped.

async with fault_proxies(mocks.urls, rate=0.1, seed=7) as proxies:
    settings = agencies(proxies.urls, ...)   # {agency: proxy URL}
    proxies.stats["vehicle"].faults          # Counter({"503": 4, "hang": 2, ...})
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

FAULT_KINDS: tuple[str, ...] = ("500", "503", "429", "hang", "reset", "truncated")
#: headers about one hop's connection, not the message: never forwarded (RFC 9110 7.6.1),
#: and the length, which the forwarding side sets anew
_HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE",
        "Trailer", "Transfer-Encoding", "Upgrade", "Host", "Content-Length",
    )
)  # fmt: skip


@dataclass
class ProxyStats:
    """What one proxy saw: every request, and the faults it injected by kind."""

    requests: int = 0
    faults: Counter[str] = field(default_factory=Counter[str])

    @property
    def faulted(self) -> int:
        return sum(self.faults.values())


class FaultProxy:
    """One upstream behind a faulty loopback HTTP front."""

    def __init__(
        self,
        upstream: str,
        session: aiohttp.ClientSession,
        *,
        rate: float,
        kinds: Sequence[str] = FAULT_KINDS,
        seed: int | str = 0,
        retry_after: tuple[float, float] = (0.05, 0.2),
    ) -> None:
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown or not kinds or not 0 <= rate <= 1:
            raise ValueError(f"bad fault configuration: rate {rate}, kinds {list(kinds)}")
        self.upstream = upstream.rstrip("/")
        self.rate = rate
        self.kinds = tuple(kinds)
        self.retry_after = retry_after
        self.stats = ProxyStats()
        self.url = ""
        self._session = session
        self._rng = random.Random(seed)
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a client that gives up (on a hang) ends its handler too
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0
        )

    async def start(self) -> str:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def close(self) -> None:
        self._closing.set()  # hung requests end now
        await self._runner.cleanup()

    def draw(self) -> str | None:
        """Two draws per request, faulted or not, so the sequence stays aligned."""
        roll, pick = self._rng.random(), self._rng.choice(self.kinds)
        return pick if roll < self.rate else None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.stats.requests += 1
        fault = self.draw()
        if fault is not None:
            self.stats.faults[fault] += 1
        if fault in ("500", "503"):
            return web.json_response({"error": "injected fault"}, status=int(fault))
        if fault == "429":
            wait = f"{self._rng.uniform(*self.retry_after):.3f}"
            return web.json_response(
                {"error": "too many requests"}, status=429, headers={"Retry-After": wait}
            )
        if fault == "hang":
            await self._closing.wait()
            return web.json_response({"error": "proxy closing"}, status=503)
        if fault == "reset":
            _drop(request)
            return web.Response(status=500)  # never reaches the client
        status, headers, body = await self._forward(request)
        if fault == "truncated":
            return await _truncated(request, status, headers, body)
        return web.Response(status=status, headers=headers, body=body)

    async def _forward(self, request: web.Request) -> tuple[int, CIMultiDict[str], bytes]:
        # raw_path: the path and query exactly as the client encoded them
        url = URL(self.upstream + request.raw_path, encoded=True)
        async with self._session.request(
            request.method,
            url,
            headers=_end_to_end(request.headers),
            data=await request.read() or None,
            allow_redirects=False,
        ) as answer:
            return answer.status, _end_to_end(answer.headers), await answer.read()


async def _truncated(
    request: web.Request, status: int, headers: CIMultiDict[str], body: bytes
) -> web.StreamResponse:
    """Promise the whole answer (at least one byte more than is sent), send half, drop."""
    stream = web.StreamResponse(status=status, headers=headers)
    stream.content_length = max(len(body), 1)
    await stream.prepare(request)
    await stream.write(body[: len(body) // 2])
    _drop(request)
    return stream


def _drop(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


def _end_to_end(headers: Mapping[str, str]) -> CIMultiDict[str]:
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in _HOP_BY_HOP)


@dataclass
class FaultProxies:
    """The running proxies, by agency."""

    proxies: dict[str, FaultProxy]

    @property
    def urls(self) -> dict[str, str]:
        return {name: proxy.url for name, proxy in self.proxies.items()}

    @property
    def stats(self) -> dict[str, ProxyStats]:
        return {name: proxy.stats for name, proxy in self.proxies.items()}

    def faults(self) -> Counter[str]:
        """Faults injected in front of every agency together, by kind."""
        return sum((s.faults for s in self.stats.values()), Counter[str]())


@asynccontextmanager
async def fault_proxies(
    upstreams: Mapping[str, str],
    *,
    rate: float,
    kinds: Sequence[str] = FAULT_KINDS,
    seed: int = 0,
    retry_after: tuple[float, float] = (0.05, 0.2),
) -> AsyncGenerator[FaultProxies]:
    """A proxy in front of every upstream (``{agency: url}``), each with its own seeded RNG."""
    # Upstream answers pass through as they are: no decompression, no connection limit.
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        running = FaultProxies({})
        try:
            for name, upstream in upstreams.items():
                proxy = FaultProxy(
                    upstream,
                    session,
                    rate=rate,
                    kinds=kinds,
                    seed=f"{seed}:{name}",
                    retry_after=retry_after,
                )
                running.proxies[name] = proxy
                await proxy.start()
            yield running
        finally:
            for proxy in running.proxies.values():
                await proxy.close()
