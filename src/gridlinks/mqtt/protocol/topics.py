"""Topic name and topic filter rules (spec §4.7)."""

from __future__ import annotations

from gridlinks.mqtt.protocol.packets import protocol_error


def validate_topic_name(topic: str, *, may_be_empty: bool = False) -> None:
    """A PUBLISH topic: no wildcards; empty only when a v5 topic alias stands in for it."""
    if not topic and not may_be_empty:
        raise protocol_error("topic name is empty")
    if "+" in topic or "#" in topic:
        raise protocol_error("topic name contains a wildcard")


def validate_topic_filter(topic_filter: str) -> None:
    """A subscription filter: ``+`` fills a whole level, ``#`` only the whole last level."""
    if not topic_filter:
        raise protocol_error("topic filter is empty")
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "+" in level and level != "+":
            raise protocol_error("'+' must fill a whole topic level")
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise protocol_error("'#' must be the whole last topic level")
