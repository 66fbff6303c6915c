"""ThingsBoard's device and gateway topics over the MQTT transport: a thin adapter over the
transport-neutral device service."""
