"""Attacker-style tests (``pytest -m security``): the integration fixtures, re-used."""

from __future__ import annotations

from tests.integration.conftest import api, client  # noqa: F401
