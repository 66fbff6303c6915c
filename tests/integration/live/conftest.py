"""The live tests use the claiming tests' shop: a tenant, a buyer, a device with a token."""

from __future__ import annotations

from tests.integration.claiming.conftest import (  # noqa: F401 (fixtures)
    clock,
    platform,
    settings_overrides,
    shop,
)
