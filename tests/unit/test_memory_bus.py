"""``MemoryBus``: in-process delivery, in order, to named and ``*`` subscribers."""

from __future__ import annotations

import logging

import pytest

from gridlinks.bus.base import Event, EventHandler
from gridlinks.bus.memory import MemoryBus


def recorder(into: list[Event]) -> EventHandler:
    async def record(event: Event) -> None:
        into.append(event)

    return record


async def failing(event: Event) -> None:
    raise RuntimeError(f"handler broke on {event.name}")


async def create_bus() -> MemoryBus:
    bus = MemoryBus()
    await bus.start()
    return bus


async def test_events_arrive_in_the_order_they_were_published() -> None:
    bus, got = await create_bus(), []
    bus.subscribe("DeviceClaimed", recorder(got))
    published = [Event("DeviceClaimed", {"n": n}) for n in range(5)]
    for event in published:
        await bus.publish(event)
    assert got == published


async def test_handlers_of_one_event_run_in_subscription_order() -> None:
    bus, calls = await create_bus(), []

    async def first(event: Event) -> None:
        calls.append("first")

    async def second(event: Event) -> None:
        calls.append("second")

    bus.subscribe("DeviceClaimed", first)
    bus.subscribe("DeviceClaimed", second)
    await bus.publish(Event("DeviceClaimed"))
    assert calls == ["first", "second"]


async def test_named_subscriber_hears_only_its_event() -> None:
    bus, got = await create_bus(), []
    bus.subscribe("DeviceClaimed", recorder(got))
    await bus.publish(Event("DeviceReleased", {"id": "d1"}))
    await bus.publish(Event("DeviceClaimed", {"id": "d2"}))
    assert got == [Event("DeviceClaimed", {"id": "d2"})]


async def test_star_subscriber_hears_every_event() -> None:
    bus, got = await create_bus(), []
    bus.subscribe("*", recorder(got))
    events = [Event("DeviceClaimed"), Event("DeviceReleased"), Event("AttributesUpdated")]
    for event in events:
        await bus.publish(event)
    assert got == events


async def test_event_reaches_named_and_star_subscribers_once_each() -> None:
    bus, named, everything = await create_bus(), [], []
    bus.subscribe("DeviceClaimed", recorder(named))
    bus.subscribe("*", recorder(everything))
    await bus.publish(Event("DeviceClaimed"))
    assert (len(named), len(everything)) == (1, 1)


async def test_unsubscribed_handler_hears_nothing_more() -> None:
    bus, got = await create_bus(), []
    unsubscribe = bus.subscribe("DeviceClaimed", recorder(got))
    await bus.publish(Event("DeviceClaimed", {"n": 1}))
    unsubscribe()
    await bus.publish(Event("DeviceClaimed", {"n": 2}))
    assert got == [Event("DeviceClaimed", {"n": 1})]


async def test_unsubscribing_one_handler_keeps_the_others() -> None:
    bus, gone, kept = await create_bus(), [], []
    unsubscribe = bus.subscribe("DeviceClaimed", recorder(gone))
    bus.subscribe("DeviceClaimed", recorder(kept))
    unsubscribe()
    await bus.publish(Event("DeviceClaimed"))
    assert (gone, kept) == ([], [Event("DeviceClaimed")])


async def test_unsubscribing_twice_is_harmless() -> None:
    bus, got = await create_bus(), []
    unsubscribe = bus.subscribe("*", recorder(got))
    unsubscribe()
    unsubscribe()
    await bus.publish(Event("DeviceClaimed"))
    assert got == []


async def test_failing_handler_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    bus, named, everything = await create_bus(), [], []
    bus.subscribe("DeviceClaimed", failing)
    bus.subscribe("DeviceClaimed", recorder(named))
    bus.subscribe("*", failing)
    bus.subscribe("*", recorder(everything))
    with caplog.at_level(logging.ERROR, logger="gridlinks.bus"):
        await bus.publish(Event("DeviceClaimed"))
    assert (named, everything) == ([Event("DeviceClaimed")], [Event("DeviceClaimed")])
    assert len([r for r in caplog.records if r.name == "gridlinks.bus"]) == 2


async def test_failing_handler_keeps_hearing_later_events() -> None:
    bus, calls = await create_bus(), []

    async def fails_once(event: Event) -> None:
        calls.append(event.data["n"])
        if len(calls) == 1:
            raise RuntimeError("first call fails")

    bus.subscribe("DeviceClaimed", fails_once)
    await bus.publish(Event("DeviceClaimed", {"n": 1}))
    await bus.publish(Event("DeviceClaimed", {"n": 2}))
    assert calls == [1, 2]


async def test_publishing_without_subscribers_is_fine() -> None:
    bus = await create_bus()
    await bus.publish(Event("DeviceClaimed"))
    await bus.close()
