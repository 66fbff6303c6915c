"""QoS 1 messages the server sent and the client has not acknowledged yet: packet ids, the
client's Receive Maximum, and what to do on each PUBACK.

Sessions are not kept across connections (every CONNACK says "no session present"), so the
table lives and dies with its connection: a message never acknowledged stays unacknowledged,
and whoever sent it re-sends it on the next connection if it must arrive (persistent RPC)."""

from __future__ import annotations

from gridlinks.mqtt.transport.state import Acknowledged

MAX_PACKET_ID = 65535
# The client's Receive Maximum when it names none (MQTT 5 section 3.1.2.11.3); levels 3 and 4
# have no such limit, so the same bound applies.
DEFAULT_CLIENT_RECEIVE_MAXIMUM = 65535


class InFlight:
    """Packet id -> the callback for its PUBACK (None: nothing to do)."""

    __slots__ = ("_next_id", "_pending", "receive_maximum")

    def __init__(self, receive_maximum: int = DEFAULT_CLIENT_RECEIVE_MAXIMUM) -> None:
        self.receive_maximum = max(1, min(receive_maximum, MAX_PACKET_ID))
        self._pending: dict[int, Acknowledged | None] = {}
        self._next_id = 0

    def add(self, on_acknowledged: Acknowledged | None) -> int | None:
        """A packet id for a new message; None when Receive Maximum of them are in flight."""
        if len(self._pending) >= self.receive_maximum:
            return None
        while True:
            self._next_id = self._next_id % MAX_PACKET_ID + 1
            if self._next_id not in self._pending:
                self._pending[self._next_id] = on_acknowledged
                return self._next_id

    def forget(self, packet_id: int) -> None:
        """The message was not sent after all."""
        self._pending.pop(packet_id, None)

    def acknowledged(self, packet_id: int) -> tuple[bool, Acknowledged | None]:
        """(whether ``packet_id`` was in flight, its callback)."""
        if packet_id not in self._pending:
            return False, None
        return True, self._pending.pop(packet_id)

    def __len__(self) -> int:
        return len(self._pending)
