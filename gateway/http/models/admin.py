"""Administration: teams, officers, tokens, filed cases."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, WithJsonSchema

from gateway.http.models.common import ApiModel
from gateway.http.models.fields import (
    MAX_NAME_LENGTH,
    Amount,
    CaseNumberField,
    problem,
    required_text,
    text_pattern,
)

RoleName = Literal["officer", "commander", "auditor", "admin"]
MAX_TOKEN_DAYS = 3650


def _login(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_NAME_LENGTH:
        raise problem(f"must be at most {MAX_NAME_LENGTH} characters")
    if not value.isprintable() or "/" in value:
        raise problem("must be printable and must not contain '/'")
    return value


#: a team's or an officer's name: printable, no '/', usable in a URL path segment
LoginName = Annotated[
    str,
    BeforeValidator(required_text),
    AfterValidator(_login),
    WithJsonSchema(
        {"type": "string", "maxLength": MAX_NAME_LENGTH, "pattern": text_pattern(MAX_NAME_LENGTH)},
        mode="validation",
    ),
]


class TeamIn(ApiModel):
    name: LoginName


class Team(BaseModel):
    name: str
    created_at: datetime
    officers: int | None = None
    cases: int | None = None


class TeamList(BaseModel):
    items: list[Team]


class OfficerIn(ApiModel):
    name: LoginName
    role: RoleName
    team: LoginName | None = Field(default=None, description="required for officers")


class Officer(BaseModel):
    name: str
    role: RoleName
    team: str | None
    created_at: datetime
    active_tokens: int


class OfficerPage(BaseModel):
    items: list[Officer]
    next_cursor: str | None


class TokenRequest(ApiModel):
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_TOKEN_DAYS, strict=True)


class IssuedToken(BaseModel):
    id: int
    officer: str
    role: RoleName
    team: str | None
    expires_at: datetime | None
    token: str = Field(description="shown once; only its hash is stored")


class TokenInfo(BaseModel):
    id: int
    officer: str
    role: RoleName
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenList(BaseModel):
    items: list[TokenInfo]


class Revocation(BaseModel):
    id: int | None = None
    officer: str
    revoked: int = Field(description="tokens revoked now (0: already revoked)")
    token_ids: list[int] | None = None


class CaseRegistration(ApiModel):
    case_number: CaseNumberField
    team: LoginName
    amount_to_enforce: Amount | None = Field(
        default=None,
        description="the amount the judgment requires (执行标的, yuan): what freezes on the "
        "case may total without a commander's override; absent: unchanged",
    )


class CaseRegistered(BaseModel):
    case_number: str
    team: str
    registered: int
    transferred: int
    unchanged: int


class CaseImport(BaseModel):
    rows: int
    registered: int
    transferred: int
    unchanged: int


class Case(BaseModel):
    case_number: str
    team: str
    registered_by: str
    registered_at: datetime
    updated_at: datetime


class CasePage(BaseModel):
    items: list[Case]
    next_cursor: str | None
