"""Errors a connector raises when its agency cannot give an answer.

The tree, drawn once here (as httpx does)::

    AgencyError                   the agency could not answer
    ├── TransientAgencyError      worth trying again later
    │   ├── AgencyUnavailable     5xx, refused or reset connection, outage
    │   ├── AgencyRateLimited     429 (carries ``retry_after`` when the agency said)
    │   ├── AgencyTimeout         no answer within the per-attempt timeout
    │   ├── AgencyBadAnswer       truncated, unparseable or wrongly shaped answer
    │   └── AgencyForgot          the agency no longer knows what we refer to (an expired
    │                             ticket): ask again from the start, not this step alone
    └── PermanentAgencyError      retrying will not help
        └── AgencyRejected        the agency refused the request (4xx other than 429)
            └── ControlRefused    it refused a control action and said why: ``code``
                                  (unknown_asset, already_held, expired, ...) and ``reason``

Library errors (aiohttp, json, xml) are translated at the connector boundary with
``raise ... from exc``; nothing else escapes a connector. Messages name the agency and
the problem and never contain a resident ID or a name: they are stored, logged and
shown to officers.
"""

from __future__ import annotations


class AgencyError(Exception):
    """The agency could not answer."""

    transient: bool = False

    def __init__(self, agency: str, reason: str | None = None) -> None:
        self.agency = agency
        self.reason = reason or (self.__doc__ or "").strip().splitlines()[0]
        super().__init__(f"{agency}: {self.reason}")


class TransientAgencyError(AgencyError):
    """The agency failed in a way that may pass; worth trying again later."""

    transient = True


class AgencyUnavailable(TransientAgencyError):
    """The agency's service is unavailable."""


class AgencyRateLimited(TransientAgencyError):
    """The agency asked us to slow down."""

    def __init__(
        self, agency: str, reason: str | None = None, *, retry_after: float | None = None
    ) -> None:
        super().__init__(agency, reason)
        self.retry_after = retry_after


class AgencyTimeout(TransientAgencyError):
    """The agency did not answer in time."""


class AgencyBadAnswer(TransientAgencyError):
    """The agency's answer could not be understood."""


class AgencyForgot(TransientAgencyError):
    """The agency no longer knows what the request refers to."""


class PermanentAgencyError(AgencyError):
    """The agency failed in a way that retrying will not help."""


class AgencyRejected(PermanentAgencyError):
    """The agency refused the request."""


class ControlRefused(AgencyRejected):
    """The agency refused the control action."""

    def __init__(self, agency: str, code: str, reason: str | None = None) -> None:
        super().__init__(agency, reason or f"control action refused ({code})")
        #: the agency's code for the refusal (``connectors.controls`` lists the known ones)
        self.code = code
