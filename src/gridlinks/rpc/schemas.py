"""API shapes of server-side RPC (documentation of the body the service validates itself)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gridlinks.rpc.domain import (
    MAX_METHOD_LENGTH,
    MAX_RETRIES,
    MAX_TIMEOUT_MS,
)


class RpcRequestBody(BaseModel):
    """``POST /api/rpc/{oneway|twoway}/{deviceId}``; unknown fields are ignored."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    method: str = Field(min_length=1, max_length=MAX_METHOD_LENGTH, examples=["setGpio"])
    params: Any = Field(default=None, description="any JSON, at most 64 KiB")
    timeout: int | None = Field(
        default=None,
        ge=0,
        le=MAX_TIMEOUT_MS,
        description="ms to wait for the device (default 10000, at least 5000 is used)",
    )
    expiration_time: int | None = Field(
        default=None,
        alias="expirationTime",
        description="epoch ms; wins over timeout (persistent: at most 30 days ahead)",
    )
    persistent: bool = Field(default=False, description="store and deliver when connected")
    retries: int | None = Field(default=None, ge=0, le=MAX_RETRIES, description="default 5")
    additional_info: Any = Field(default=None, alias="additionalInfo")
