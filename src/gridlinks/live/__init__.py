"""Live updates for browsers and scripts: ThingsBoard's telemetry WebSocket subscriptions."""
