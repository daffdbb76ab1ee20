"""The pages' own files (stylesheet, scripts, the vendored chart library), served by the
gateway: nothing is loaded from the internet."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web

from gateway.http.web.pages import public_page

ROOT = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@public_page
async def static_file(request: web.Request) -> web.StreamResponse:
    wanted = _file_named(request.match_info["path"])
    if wanted is None:
        raise web.HTTPNotFound(text="no such file")
    kind = _TYPES.get(wanted.suffix) or mimetypes.guess_type(wanted.name)[0] or "text/plain"
    return web.FileResponse(
        wanted,
        headers={
            "Content-Type": f"{kind}; charset=utf-8" if kind.startswith("text/") else kind,
            "Cache-Control": "public, max-age=3600",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _file_named(name: str) -> Path | None:
    """The file under ``ROOT`` that ``name`` names, or None: outside the root, missing, or a name
    no file can have (a NUL is a ValueError, one too long for the file system an OSError)."""
    try:
        wanted = (ROOT / name).resolve()
        return wanted if ROOT.resolve() in wanted.parents and wanted.is_file() else None
    except (OSError, ValueError):
        return None
