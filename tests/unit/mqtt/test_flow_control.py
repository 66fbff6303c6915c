"""FlowControl against a fake transport: reading pauses at the high-water mark and resumes at
the low-water mark; writing back-pressure makes ``drain`` wait; shutdown stops reading for good."""

from __future__ import annotations

import asyncio

from gridlinks.mqtt.transport.flow_control import FlowControl


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.reading = True
        self.calls: list[str] = []
        self.closing = False

    def pause_reading(self) -> None:
        self.reading = False
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.reading = True
        self.calls.append("resume")

    def is_closing(self) -> bool:
        return self.closing


def test_reading_pauses_at_high_water_and_resumes_at_half() -> None:
    transport = FakeTransport()
    flow = FlowControl(transport, high_water=10)
    for backlog in range(1, 10):
        flow.backlog_changed(backlog)
    assert transport.reading
    flow.backlog_changed(10)
    assert not transport.reading
    flow.backlog_changed(11)
    flow.backlog_changed(6)
    assert not transport.reading
    flow.backlog_changed(5)
    assert transport.reading
    assert transport.calls == ["pause", "resume"]


def test_a_closing_transport_is_not_resumed() -> None:
    transport = FakeTransport()
    flow = FlowControl(transport, high_water=2)
    flow.backlog_changed(2)
    transport.closing = True
    flow.backlog_changed(0)
    assert transport.calls == ["pause"]


def test_stop_reading_is_for_good() -> None:
    transport = FakeTransport()
    flow = FlowControl(transport, high_water=4)
    flow.stop_reading()
    flow.backlog_changed(0)
    assert transport.calls == ["pause"]
    assert not transport.reading


async def test_drain_waits_while_writing_is_paused() -> None:
    flow = FlowControl(FakeTransport(), high_water=4)
    await asyncio.wait_for(flow.drain(), 0.1)  # not paused: returns at once
    flow.pause_writing()
    waiter = asyncio.create_task(flow.drain())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    flow.resume_writing()
    await asyncio.wait_for(waiter, 1)
