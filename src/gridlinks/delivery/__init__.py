"""The outbound port: how the platform reaches a connected device, on whichever node holds
its connection (bus -> that node's local links -> the connection)."""
