"""Stand-in 乡镇协查 township offices: a township list and a paged payment listing each."""

from __future__ import annotations

from aiohttp import web

from mocks.assets import subsidy, townships
from mocks.http import CONTROL, BadRequest, json_error, json_response, read_json, subject_of

PAGE_SIZE = 4
_CODES = frozenset(code for code, _ in townships())


async def township_list(request: web.Request) -> web.Response:
    listing = [{"code": code, "name": name} for code, name in townships()]
    return json_response({"townships": listing})


async def payments(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    if code not in _CODES:
        return json_error(404, "unknown township")
    data = await read_json(request)
    id_number, kind = subject_of(data)
    page = data.get("page", 1)
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise BadRequest("page must be a positive integer")
    if page == 1 and code == townships()[0][0]:  # a subject's question: every township's page 1
        request.app[CONTROL].stats.asked[id_number] += 1
    mine = subsidy(id_number, kind).get(code, [])
    chunk = mine[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    more = page * PAGE_SIZE < len(mine)
    return json_response(
        {
            "township": code,
            "page": page,
            "payments": chunk,
            "next_page": page + 1 if more else None,
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/townships", township_list)
    app.router.add_post("/v1/townships/{code}/payments", payments)
