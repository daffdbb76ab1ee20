"""Who may call a handler, declared on it: ``@roles("officer", "commander")``.

The auth middleware enforces it (a handler without a declaration is nobody's: 403), and the
OpenAPI document publishes it as ``x-roles``, so the rule sits next to the code it guards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web

from gateway.accountability.auth import Role

RoleOrPublic = Role | Literal["public"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_ROLES_ATTRIBUTE = "__roles__"


def roles(*allowed: RoleOrPublic) -> Callable[[Handler], Handler]:
    """Declare who may call a handler; ``"public"`` needs no token."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, _ROLES_ATTRIBUTE, tuple(allowed))
        return handler

    return mark


def allowed_roles(handler: Any) -> tuple[str, ...] | None:
    return getattr(handler, _ROLES_ATTRIBUTE, None)
