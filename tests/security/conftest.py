"""Attacker-style tests of issue 9 (``pytest -m security``): the real app over real databases,
the real MQTT transport. Fixtures come from the integration suite."""

from __future__ import annotations

from tests.integration.conftest import api, client  # noqa: F401
from tests.integration.mqtt.conftest import maker, mqtt  # noqa: F401
