"""MQTT device transport. The sans-IO codec lives in ``codec`` (decoder, re-exported ``encode``),
``encoding``, ``packets`` (dataclasses, reason codes, ``MalformedPacket``), ``properties``,
``rules``, ``topics`` and ``wire``; none of them imports asyncio or sockets."""
