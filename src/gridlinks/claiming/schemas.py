"""API shapes of claiming."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gridlinks.claiming.domain import ClaimDataError, secret_text


class ClaimRequest(BaseModel):
    """``{"secretKey": "..."}``; a missing body or key means the empty key."""

    model_config = ConfigDict(extra="ignore")

    secret_key: str | None = Field(default=None, alias="secretKey")

    @field_validator("secret_key", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> str | None:
        try:
            return secret_text(value)
        except ClaimDataError as exc:
            raise ValueError(str(exc)) from None
