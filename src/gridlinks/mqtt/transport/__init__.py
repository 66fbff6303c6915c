"""The MQTT server: listeners, one asyncio protocol per connection (flow control, keep-alive,
acknowledgements), shared server state. It knows sessions only through ``state.Session``."""
