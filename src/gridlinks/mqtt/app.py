"""Assemble the MQTT transport for a platform (the MQTT twin of ``api.app.create_app``)."""

from __future__ import annotations

import ssl

from gridlinks.bootstrap import Platform
from gridlinks.config import Settings
from gridlinks.errors import ConfigurationError
from gridlinks.mqtt.thingsboard.auth import PlatformAuthenticator
from gridlinks.mqtt.transport.server import MqttServer, tls_context
from gridlinks.mqtt.transport.state import ConnectionLimits


def create_mqtt_server(platform: Platform) -> MqttServer:
    settings = platform.settings
    limits = ConnectionLimits(
        max_packet_bytes=settings.mqtt_max_packet_bytes,
        receive_maximum=settings.mqtt_receive_maximum,
        connect_timeout_seconds=settings.mqtt_connect_timeout_seconds,
    )
    return MqttServer(
        PlatformAuthenticator(platform.device_link),
        limits,
        settings.mqtt_max_connections,
        platform.metrics,
    )


def mqtt_tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS listener's context, or None when no certificate is configured."""
    if not settings.mqtt_tls_cert_file and not settings.mqtt_tls_key_file:
        return None
    if not settings.mqtt_tls_cert_file or not settings.mqtt_tls_key_file:
        raise ConfigurationError(
            "MQTT over TLS needs both GRIDLINKS_MQTT_TLS_CERT_FILE and GRIDLINKS_MQTT_TLS_KEY_FILE"
        )
    try:
        return tls_context(
            settings.mqtt_tls_cert_file,
            settings.mqtt_tls_key_file,
            settings.mqtt_tls_ca_file or None,
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"cannot load the MQTT TLS certificate, key or CA file ({exc}); check "
            "GRIDLINKS_MQTT_TLS_CERT_FILE, GRIDLINKS_MQTT_TLS_KEY_FILE and "
            "GRIDLINKS_MQTT_TLS_CA_FILE"
        ) from None
