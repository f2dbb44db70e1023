"""Following a platform's change events from a background thread, so every view of a deck stays in step.

`follow(deck, on_change, on_resync)` reads `GET /api/v1/events` (server-sent events) on its own connection:
it reconnects with backoff and jitter, resumes with `Last-Event-ID`, and calls `on_resync()` whenever it may
have missed something (a resync frame, a reconnect). A platform without events (a 404, or a provider that
does not declare the `events` capability) is polled instead: `on_resync()` every POLL_EVERY seconds while
`visible()` says a view shows it, and while `busy()` says a deployment is changing, its rows again every
BUSY_POLL_EVERY (`on_change({"kind": "deployment"})`), so an upgrade's steps show as they happen.
Callbacks run on the follower's threads; they must hand work off quickly.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

log = logging.getLogger(__name__)

PATH = "/api/v1/events"
POLL_EVERY = 10.0  # seconds between two reloads of a view whose platform has no events (3 small GETs each)
BUSY_POLL_EVERY = 1.0  # seconds between two reloads of its deployments while one changes (one or two GETs)
TICK = 0.5  # how often the follower checks that its deck is still open (an attribute read)
BACKOFF = (0.25, 30.0)  # first and longest wait before reconnecting
READ_TIMEOUT = 60.0  # the server sends a keepalive comment every 15 s


def frames(lines: Iterable[str]) -> Iterator[tuple[str, str, str | None]]:
    """(event, data, id) for each server-sent event in `lines` (the SSE format; comments skipped)."""
    event, data, seq = "message", [], None
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data), seq
            event, data, seq = "message", [], None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            seq = value


class Follower:
    """The threads behind `follow`: a stream reader (or a poller) and a ticker that notices a closed deck."""

    def __init__(
        self,
        deck: Any,
        on_change: Callable[[dict[str, Any]], None],
        on_resync: Callable[[], None],
        *,
        on_closed: Callable[[], None] = lambda: None,
        visible: Callable[[], bool] = lambda: True,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.deck, self.on_change, self.on_resync, self.on_closed, self.visible, self.busy = (
            deck, on_change, on_resync, on_closed, visible, busy
        )  # fmt: skip
        self.last_id: str | None = None
        self.connected = threading.Event()
        self.polling = "events" not in getattr(deck, "capabilities", {"events"})
        self._stop = threading.Event()
        self._client: Any = None
        self._threads = [threading.Thread(target=self._tick, name="modeldeck-follow-tick", daemon=True)]
        if not self.polling:
            self._threads.append(threading.Thread(target=self._read, name="modeldeck-follow", daemon=True))

    def start(self) -> Follower:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        client = self._client
        if client is not None:
            client.close()  # ends a blocked read at once

    # ---- the threads ----------------------------------------------------------------------------

    def _tick(self) -> None:
        waited = since_busy = 0.0
        while not self._stop.wait(TICK):
            if is_closed(self.deck):
                self.stop()
                self.on_closed()
                return
            waited, since_busy = waited + TICK, since_busy + TICK
            if not self.polling or not self.visible():
                continue
            if waited >= POLL_EVERY:
                waited = since_busy = 0.0
                self._call(self.on_resync)
            elif since_busy >= BUSY_POLL_EVERY and self.busy():
                since_busy = 0.0
                self._call(self.on_change, {"kind": "deployment"})

    def _read(self) -> None:
        import httpx

        from ._http import client_options

        transport = self.deck._transport
        settings = transport.settings
        options = client_options(settings, transport.wire)
        options["timeout"] = httpx.Timeout(READ_TIMEOUT, connect=settings.connect_timeout)
        delay, first = BACKOFF[0], True
        while not self._stop.is_set():
            try:
                with httpx.Client(**options) as self._client:
                    headers = {"Accept": "text/event-stream"}
                    if self.last_id:
                        headers["Last-Event-ID"] = self.last_id
                    with self._client.stream("GET", PATH, headers=headers) as response:
                        if response.status_code in (404, 405, 501):  # this platform has no events: poll
                            self.polling = True
                            return
                        if response.status_code != 200:
                            raise httpx.HTTPStatusError("refused", request=response.request, response=response)
                        self.connected.set()
                        if not first:  # what happened while the stream was down is unknown
                            self._call(self.on_resync)
                        first, delay = False, BACKOFF[0]
                        self._consume(response.iter_lines())
            except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: closed by stop() meanwhile
                if self._stop.is_set():
                    return
                log.debug("event stream interrupted (%s); reconnecting", type(exc).__name__)
            self.connected.clear()
            if self._stop.wait(delay * random.uniform(0.5, 1.0)):
                return
            delay = min(delay * 2, BACKOFF[1])

    def _consume(self, lines: Iterable[str]) -> None:
        for event, data, seq in frames(itertools.takewhile(lambda _: not self._stop.is_set(), lines)):
            if seq is not None:
                self.last_id = seq
            if event == "resync":
                self._call(self.on_resync)
            elif event == "change":
                try:
                    change = json.loads(data)
                except ValueError:
                    continue
                if isinstance(change, dict):
                    self._call(self.on_change, change)

    @staticmethod
    def _call(callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:  # a view's failure must not end the follower
            log.exception("a change-event callback failed")


def is_closed(deck: Any) -> bool:
    """Whether `deck.close()` was called (its connection pool is gone)."""
    client = getattr(getattr(deck, "_transport", None), "client", None)
    return bool(getattr(client, "is_closed", False))


def follow(
    deck: Any,
    on_change: Callable[[dict[str, Any]], None],
    on_resync: Callable[[], None],
    **options: Any,
) -> Follower:
    """Start following `deck`'s platform; `.stop()` ends it."""
    return Follower(deck, on_change, on_resync, **options).start()
