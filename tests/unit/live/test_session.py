"""A live session's bounded send queue and the order of a subscription's first frames."""

from __future__ import annotations

import json
import uuid

from gridlinks.accounts.domain import Authority, Principal
from gridlinks.live.domain import Subscribe
from gridlinks.live.session import (
    CLOSE_POLICY_VIOLATION,
    CLOSE_TRY_AGAIN_LATER,
    Ending,
    LiveSession,
    Subscription,
)


def session(max_queued_frames: int = 10) -> LiveSession:
    principal = Principal(uuid.uuid4(), "a@b.test", Authority.TENANT_ADMIN, uuid.uuid4(), None)
    return LiveSession(principal, max_queued_frames)


async def test_frames_come_out_in_the_order_they_were_offered() -> None:
    live = session()
    live.offer({"n": 1})
    live.offer({"n": 2})
    assert [json.loads(str(await live.next_frame()))["n"] for _ in range(2)] == [1, 2]


async def test_a_client_that_lets_the_queue_fill_is_ended_and_its_frames_dropped() -> None:
    live = session(max_queued_frames=3)
    for n in range(4):
        live.offer({"n": n})
    assert live.ended == Ending(CLOSE_TRY_AGAIN_LATER, "Client too slow: send queue full")
    assert live.dropped.is_set()
    assert await live.next_frame() == live.ended
    live.offer({"n": 5})  # ignored once ended
    assert live.queued() == 0


async def test_an_ended_session_sends_its_queued_frames_before_closing() -> None:
    live = session()
    live.offer({"n": 1})
    live.end(CLOSE_POLICY_VIOLATION, "Token has expired")
    assert not live.dropped.is_set()
    assert json.loads(str(await live.next_frame())) == {"n": 1}
    assert await live.next_frame() == Ending(CLOSE_POLICY_VIOLATION, "Token has expired")


async def test_updates_during_the_first_read_follow_the_first_values() -> None:
    live = session()
    subscription = Subscription(live, Subscribe(1, "TIMESERIES", uuid.uuid4()))
    subscription.offer({"update": 1})
    assert live.queued() == 0
    subscription.go_live({"first": True})
    subscription.offer({"update": 2})
    frames = [json.loads(str(await live.next_frame())) for _ in range(3)]
    assert frames == [{"first": True}, {"update": 1}, {"update": 2}]
