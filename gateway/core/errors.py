"""The gateway's own errors.

::

    GatewayError                  something went wrong in the gateway
    ├── ConfigurationError        a GATEWAY_* setting is missing or malformed
    ├── DecryptionFailed          a sealed value could not be opened (wrong key, or altered)
    ├── DatabaseError             PostgreSQL refused or failed a statement
    │   ├── DatabaseUnavailable   it could not be reached, or went away: try again later
    │   └── TransactionConflict   chosen as a deadlock or serialization victim: the
    │                             transaction rolled back whole; run it again
    └── RequestError              the caller's request cannot be served (maps to 4xx)
        ├── BadRequest            400: the body is not JSON, or not an object
        ├── Unauthorized          401: no token, or an unknown, expired or revoked one
        ├── Forbidden             403: the caller's role or a rule forbids this
        ├── NotFound              404: no such thing, or not the caller's to see
        ├── Conflict              409: the state does not allow this now
        ├── Gone                  410: its personal data was purged after the retention period
        ├── PayloadTooLarge       413: the body or batch is over the limit
        ├── ValidationFailed      422: fields or rows are invalid; carries the list
        └── ShuttingDown          503: this gateway is shutting down; ask again shortly

Each class's docstring is its default message. Database errors are raised only by
``gateway.store`` (asyncpg's errors are translated there, once). ``RequestError`` renders to
the JSON body ``{"error": {"code", "message", ...}}``; messages never contain personal data.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """Something went wrong in the gateway."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip().splitlines()[0]
        super().__init__(self.message)


class ConfigurationError(GatewayError):
    """A GATEWAY_* setting is missing or malformed."""


class DecryptionFailed(GatewayError):
    """A sealed value could not be opened: wrong key, or the value was altered."""


class DatabaseError(GatewayError):
    """The database refused or failed a statement."""


class DatabaseUnavailable(DatabaseError):
    """PostgreSQL could not be reached or started."""


class TransactionConflict(DatabaseError):
    """The transaction was chosen as a deadlock or serialization victim and rolled back."""


class RequestError(GatewayError):
    """The request cannot be served."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class BadRequest(RequestError):
    """The request body is not valid JSON."""

    status = 400
    code = "bad_request"


class Unauthorized(RequestError):
    """A valid bearer token is required."""

    status = 401
    code = "unauthorized"


class Forbidden(RequestError):
    """Your role does not allow this."""

    status = 403
    code = "forbidden"


class NotFound(RequestError):
    """No such resource."""

    status = 404
    code = "not_found"


class Conflict(RequestError):
    """The resource's state does not allow this."""

    status = 409
    code = "conflict"


class PayloadTooLarge(RequestError):
    """The request is larger than allowed."""

    status = 413
    code = "payload_too_large"


class ValidationFailed(RequestError):
    """The request has invalid fields."""

    status = 422
    code = "validation_failed"

    def __init__(self, problems: list[dict[str, Any]], message: str | None = None) -> None:
        super().__init__(message, problems=problems)
        self.problems = problems

    @classmethod
    def of_field(cls, field: str, problem: str) -> ValidationFailed:
        """One problem with a top-level field (no row)."""
        return cls([{"row": None, "field": field, "problem": problem}])


class Gone(RequestError):
    """The resource's data is no longer kept."""

    status = 410
    code = "gone"


class ShuttingDown(RequestError):
    """This gateway is shutting down; ask again shortly."""

    status = 503
    code = "shutting_down"
