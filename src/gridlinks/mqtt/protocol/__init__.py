"""MQTT 3.1, 3.1.1 and 5 on the wire, sans-IO: bytes in, packets out (and back). No
sockets, no asyncio, no GridLinks features."""
