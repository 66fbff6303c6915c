"""``LocalLinks``: this node's links to connected devices, by device id."""

from __future__ import annotations

import uuid

from gridlinks.delivery.links import LocalLinks
from gridlinks.delivery.messages import AttributePush, CloseConnection, RpcCall, ToDevice

DEVICE = uuid.uuid4()
OTHER = uuid.uuid4()


class Link:
    """A link that records what it is offered and takes it when ``takes`` is set."""

    def __init__(self, takes: bool = True) -> None:
        self.takes = takes
        self.offered: list[ToDevice] = []

    def deliver(self, message: ToDevice) -> bool:
        self.offered.append(message)
        return self.takes


def rpc(device_id: uuid.UUID = DEVICE) -> RpcCall:
    return RpcCall(device_id, 1, "reboot")


def recording(links: LocalLinks) -> list[tuple[uuid.UUID, bool]]:
    changes: list[tuple[uuid.UUID, bool]] = []
    links.on_change(lambda device_id, connected: changes.append((device_id, connected)))
    return changes


def test_a_registered_link_gets_its_devices_messages() -> None:
    links, link = LocalLinks(), Link()
    links.register(DEVICE, link)
    assert links.deliver(rpc()) is True
    assert link.offered == [rpc()]


def test_a_device_without_links_is_not_delivered_to() -> None:
    links, link = LocalLinks(), Link()
    links.register(OTHER, link)
    assert links.deliver(rpc()) is False
    assert link.offered == []
    assert not links.has(DEVICE)


def test_the_newest_link_is_offered_first_and_the_first_taker_ends_the_offer() -> None:
    links, old, new = LocalLinks(), Link(), Link()
    links.register(DEVICE, old)
    links.register(DEVICE, new)
    assert links.deliver(rpc()) is True
    assert (old.offered, new.offered) == ([], [rpc()])


def test_an_older_link_gets_what_the_newest_declines() -> None:
    links, old, new = LocalLinks(), Link(), Link(takes=False)
    links.register(DEVICE, old)
    links.register(DEVICE, new)
    assert links.deliver(rpc()) is True
    assert (old.offered, new.offered) == ([rpc()], [rpc()])


def test_a_message_no_link_takes_is_not_delivered() -> None:
    links, first, second = LocalLinks(), Link(takes=False), Link(takes=False)
    links.register(DEVICE, first)
    links.register(DEVICE, second)
    assert links.deliver(AttributePush(DEVICE, {"fw": 2})) is False
    assert len(first.offered) == len(second.offered) == 1


def test_close_goes_to_every_link_even_when_the_newest_takes_it() -> None:
    links, first, second = LocalLinks(), Link(takes=False), Link()
    links.register(DEVICE, first)
    links.register(DEVICE, second)
    close = CloseConnection(DEVICE, "deleted")
    assert links.deliver(close) is True
    assert first.offered == second.offered == [close]


class ClosingLink(Link):
    """Removes itself from the links as soon as it is told to close (as a connection does)."""

    def __init__(self, links: LocalLinks) -> None:
        super().__init__()
        self.remove = links.register(DEVICE, self)

    def deliver(self, message: ToDevice) -> bool:
        super().deliver(message)
        self.remove()
        return True


def test_a_link_may_remove_itself_while_it_is_told_to_close() -> None:
    links = LocalLinks()
    closing = [ClosingLink(links), ClosingLink(links)]
    assert links.deliver(CloseConnection(DEVICE, "credentials")) is True
    assert [len(link.offered) for link in closing] == [1, 1]
    assert not links.has(DEVICE)


def test_removing_a_link_twice_removes_only_that_link() -> None:
    links, kept, gone = LocalLinks(), Link(), Link()
    links.register(DEVICE, kept)
    remove = links.register(DEVICE, gone)
    remove()
    remove()
    assert links.has(DEVICE)
    assert links.deliver(rpc()) is True
    assert (kept.offered, gone.offered) == ([rpc()], [])


def test_one_link_registered_twice_needs_two_removals() -> None:
    links, link = LocalLinks(), Link()
    first = links.register(DEVICE, link)
    second = links.register(DEVICE, link)
    first()
    assert links.has(DEVICE)
    second()
    assert not links.has(DEVICE)


def test_removing_the_last_link_forgets_the_device() -> None:
    links = LocalLinks()
    remove = links.register(DEVICE, Link())
    links.register(OTHER, Link())
    remove()
    assert not links.has(DEVICE)
    assert links.device_ids() == [OTHER]
    assert len(links) == 1


def test_listeners_hear_of_the_first_link_and_the_last_removal_only() -> None:
    links = LocalLinks()
    changes = recording(links)
    remove_first = links.register(DEVICE, Link())
    remove_second = links.register(DEVICE, Link())
    remove_first()
    assert changes == [(DEVICE, True)]
    remove_second()
    remove_second()
    assert changes == [(DEVICE, True), (DEVICE, False)]


def test_a_device_that_comes_back_is_announced_again() -> None:
    links = LocalLinks()
    changes = recording(links)
    links.register(DEVICE, Link())()
    links.register(DEVICE, Link())
    assert changes == [(DEVICE, True), (DEVICE, False), (DEVICE, True)]


def test_every_listener_hears_every_change() -> None:
    links = LocalLinks()
    first, second = recording(links), recording(links)
    links.register(DEVICE, Link())
    links.register(OTHER, Link())
    assert first == second == [(DEVICE, True), (OTHER, True)]
