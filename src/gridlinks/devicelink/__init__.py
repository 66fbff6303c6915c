"""The transport-neutral device service: what a device says (telemetry, attributes, claims,
requests, RPC replies), whatever transport carried it. MQTT and the HTTP device API are thin
adapters over it."""
