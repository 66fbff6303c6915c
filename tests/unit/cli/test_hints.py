"""The line a taken port prints: what to run instead, for MQTT also how to run HTTP only."""

from __future__ import annotations

from gridlinks.cli.hints import PortTakenError, port_hint


def taken(env_name: str, port: int) -> PortTakenError:
    return PortTakenError("cannot listen", env_name, port)


def test_a_taken_mqtt_port_suggests_the_next_port_or_http_only() -> None:
    hint = port_hint(taken("GRIDLINKS_MQTT_PORT", 1883), "scripts/serve")
    assert hint == (
        "port 1883 is taken (another MQTT broker?): run GRIDLINKS_MQTT_PORT=1884 scripts/serve, "
        "or GRIDLINKS_MQTT_ENABLED=false scripts/serve for HTTP only"
    )


def test_a_taken_mqtt_tls_port_names_its_own_setting() -> None:
    hint = port_hint(taken("GRIDLINKS_MQTT_TLS_PORT", 8883), "gridlinks serve")
    assert hint.startswith("port 8883 is taken (another MQTT broker?): run ")
    assert "GRIDLINKS_MQTT_TLS_PORT=8884 gridlinks serve" in hint


def test_a_taken_http_port_suggests_the_next_port_only() -> None:
    hint = port_hint(taken("GRIDLINKS_HTTP_PORT", 8080), "gridlinks serve")
    assert (
        hint == "port 8080 is taken (another server?): run GRIDLINKS_HTTP_PORT=8081 gridlinks serve"
    )
