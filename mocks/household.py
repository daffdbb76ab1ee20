"""Stand-in 户政 household registry: synchronous identity, photo by a second request."""

from __future__ import annotations

from aiohttp import web

from mocks.http import CONTROL, json_error, json_response, read_json, subject_of
from mocks.people import household, photo_png


async def identity(request: web.Request) -> web.Response:
    id_number, kind = subject_of(await read_json(request), "gmsfhm")
    request.app[CONTROL].stats.asked[id_number] += 1
    data = household(id_number, kind)
    if data is None:
        return json_response({"result": "not_found"})
    request.app[CONTROL].memory.put(data["zpbh"], id_number)  # photo number -> resident ID
    return json_response({"result": "found", "data": data})


async def photo(request: web.Request) -> web.Response:
    # Like the real registry, a photo number is only good after the identity was asked for.
    id_number = request.app[CONTROL].memory.get(request.match_info["ref"])
    if id_number is None:
        return json_error(404, "unknown photo number")
    return web.Response(body=photo_png(id_number), content_type="image/png")


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/identity", identity)
    app.router.add_get("/v1/photos/{ref}", photo)
