"""Listeners hear each stored event once, in the thread that stored it, even when the feed
(which brings back every process's events, ours included) polls before that thread delivers."""

import threading
from typing import Any

from ffwd.adapters.container import build_service


class PollingFeed:
    """A feed whose poll can be made to fall between a write's commit and its delivery."""

    def __init__(self) -> None:
        self.listener: Any = None

    def follow(self, listener: Any, topics: Any = ()) -> Any:
        self.listener = listener
        return lambda: None


def test_a_feed_polling_between_commit_and_delivery_does_not_steal_the_delivery(sample_spec):
    svc = build_service("memory://")
    gid = svc.create_generator(sample_spec)
    feed = svc.feed = PollingFeed()
    polls: list[threading.Thread] = []
    commit = svc.store.update

    def update_then_poll(generator_id: Any, command: Any) -> Any:
        result, events = commit(generator_id, command)
        poll = threading.Thread(target=feed.listener, args=(events,))
        polls.append(poll)
        poll.start()
        poll.join(0.5)  # the feed's poll delivers them first, unless it waits for this write
        return result, events

    svc.store.update = update_then_poll  # type: ignore[method-assign]
    heard: list[tuple[str, threading.Thread]] = []
    svc.subscribe(
        lambda events: heard.extend((type(e).__name__, threading.current_thread()) for e in events)
    )
    with svc.following():
        svc.request_stop(gid, "tabular", requested_by="bob")
    for poll in polls:
        poll.join(10)
    assert heard == [("StopRequested", threading.current_thread())]


def test_the_feed_delivers_what_another_process_stored(sample_spec):
    there = build_service("memory://")
    stored: list[Any] = []
    there.subscribe(stored.extend)
    gid = there.create_generator(sample_spec)
    there.request_stop(gid, "tabular", requested_by="bob")
    here = build_service("memory://")
    feed = here.feed = PollingFeed()
    heard: list[Any] = []
    here.subscribe(heard.extend)
    with here.following():
        feed.listener(stored)
        feed.listener(stored)  # brought back twice: heard once
    assert [type(e).__name__ for e in heard] == ["Created", "StopRequested"]
