"""A session's topic filters with the QoS granted for each, and MQTT topic matching."""

from __future__ import annotations

import sys


def filter_matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching: ``+`` is one whole level, ``#`` (last) any number of levels, or none."""
    if topic_filter == topic:
        return True
    levels = topic.split("/")
    parts = topic_filter.split("/")
    for index, part in enumerate(parts):
        if part == "#":
            return True
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(parts) == len(levels)


class Subscriptions:
    """Filter -> granted QoS (0 or 1)."""

    __slots__ = ("_granted",)

    def __init__(self) -> None:
        self._granted: dict[str, int] = {}

    def add(self, topic_filter: str, qos: int) -> None:
        self._granted[sys.intern(topic_filter)] = qos

    def remove(self, topic_filter: str) -> bool:
        return self._granted.pop(topic_filter, None) is not None

    def qos_for(self, topic: str) -> int | None:
        """The highest QoS of the filters matching ``topic``; None when none matches."""
        granted = [qos for f, qos in self._granted.items() if filter_matches(f, topic)]
        return max(granted) if granted else None

    def __contains__(self, topic_filter: object) -> bool:
        return topic_filter in self._granted

    def __len__(self) -> int:
        return len(self._granted)
