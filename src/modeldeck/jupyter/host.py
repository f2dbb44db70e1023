"""The sidebar's host: one DeckState per Jupyter server, shown to every open sidebar socket.

The state connects on its first action, on its worker thread, so the server's event loop never waits for a
platform. Its traits change on worker threads; each change is encoded there and handed to the event loop
(`call_soon_threadsafe`), which alone writes to sockets. A browser's frame is checked before it reaches the
state: anything the protocol does not define gets a typed `error` and changes nothing.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from traitlets import List, Unicode

from ..errors import InvalidParameter
from ..profiles import ProfileFile, save_workspace
from ..state import SYNCED, DeckState

log = logging.getLogger(__name__)

TRAITS = (*SYNCED, "host", "profiles")
# what one profile's connection showed, forgotten when the sidebar changes profile
SHOWN = ("workspace", "workspaces", "models", "selected", "versions", "grants", "chat", "prediction", "deployments",
         "deployment_events")  # fmt: skip
VIEW_TABS = ("workspaces", "models", "register", "inference", "deployments")


class Socket(Protocol):
    def send_text(self, text: str) -> None: ...


class SidebarState(DeckState):
    """DeckState as the sidebar shows it: `use` also becomes the default of new connections, and `use_profile`
    reconnects on another configured profile (a sub-user's, say) without restarting the server."""

    host = Unicode("sidebar")
    profiles = List()  # the profiles file's names and kinds: what the profile picker offers, never a secret
    OPENS_ITSELF = frozenset({"use_profile"})

    def __init__(self, connect: Callable[[str | None], Any], profile: str | None, **kwargs: Any) -> None:
        super().__init__(connect=lambda: connect(self.profile), **kwargs)
        self.profile = profile  # None: the one `modeldeck.connect()` picks

    def _open(self) -> None:
        self._load_profiles()  # before connecting, so a profile that cannot connect can still be left
        super()._open()

    def _do_refresh(self, initial: bool = False) -> None:
        self._load_profiles()
        super()._do_refresh(initial)

    def _do_use(self, workspace: str) -> dict[str, Any]:
        switched = super()._do_use(workspace)
        save_workspace(self.deck.profile, switched["name"])
        return switched

    def _do_use_profile(self, profile: str) -> dict[str, Any]:
        """Connect on `profile` (its own credentials and workspace), then show only what it sees; if it cannot
        connect, the sidebar stays on the profile it had."""
        if not isinstance(profile, str) or not profile or len(profile) > 200:
            raise InvalidParameter("`profile` is the name of a configured profile.", code="Profile.Invalid",
                                   hint="Pick one of the profiles the sidebar lists.")
        self._load_profiles().get(profile)  # Profile.NotFound, with the known ones, before anything connects
        chosen, self.profile = self.profile, profile
        try:
            deck = self._connect()
        except Exception:
            self.profile = chosen
            raise
        for job in list(self._running.values()):
            job.cancelled.set()  # the old profile's jobs: nobody is left to show them
        old = self._replace_deck(deck)
        if old is not None:
            old.close()
        for name in SHOWN:
            setattr(self, name, copy.deepcopy(self.trait_defaults(name)))
        self._do_refresh()
        return self.connection

    def _load_profiles(self) -> ProfileFile:
        file = ProfileFile.load()
        self.profiles = [{"name": name, "kind": p.kind} for name, p in sorted(file.profiles.items())]
        return file


class Sidebar:
    """The server's one state and the sockets showing it."""

    def __init__(self, connect: Callable[[str | None], Any], profile: str | None = None) -> None:
        self._connect = connect
        self._profile = profile
        self.state: SidebarState | None = None
        self.sockets: set[Socket] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def join(self, socket: Socket) -> None:
        """A socket opened (on the event loop): the first one creates the state; each gets the whole state."""
        if self.state is None:
            self._loop = asyncio.get_running_loop()
            self.state = SidebarState(self._connect, self._profile, visible=lambda: bool(self.sockets))
            self.state.observe(self._changed, names=list(TRAITS))
            self.state.submit("refresh", initial=True)
        self.sockets.add(socket)
        socket.send_text(_encode({"type": "state", "state": {name: getattr(self.state, name) for name in TRAITS}}))

    def leave(self, socket: Socket) -> None:
        self.sockets.discard(socket)

    def receive(self, socket: Socket, frame: str | bytes) -> None:
        """One frame from a browser: an action, the `view` it shows, or a typed refusal."""
        assert self.state is not None
        message = _parse(frame)
        if isinstance(message, str):
            socket.send_text(_refusal(message))
        elif message["type"] == "set":
            self.state.view = message["value"]
        else:
            self.state.dispatch(message["id"], message["name"], message["args"], lambda done: self._reply(socket, done))

    def close(self) -> None:
        """Cancel running jobs and close the connection (the server is stopping)."""
        state, self.state = self.state, None
        if state is not None:
            state.close()
            if state.deck is not None:
                state.deck.close()
        self.sockets.clear()

    def _changed(self, change: Any) -> None:
        self._hand_over(self._broadcast, _encode({"type": "change", "name": change.name, "value": change.new}))

    def _reply(self, socket: Socket, done: dict[str, Any]) -> None:
        self._hand_over(socket.send_text, _encode(done))

    def _broadcast(self, text: str) -> None:
        for socket in list(self.sockets):
            socket.send_text(text)

    def _hand_over(self, write: Callable[[str], None], text: str) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(write, text)
        except RuntimeError:  # the server's loop has closed: it is shutting down, nobody to tell
            log.debug("sidebar message dropped after the server stopped")


def _parse(frame: str | bytes) -> dict[str, Any] | str:
    """A well-formed message, or why the frame is refused."""
    if not isinstance(frame, str):
        return "Send JSON text frames, not binary ones."
    try:
        message = json.loads(frame)
    except ValueError:
        return "The frame is not JSON."
    if not isinstance(message, dict):
        return "A message is a JSON object with a `type`."
    kind = message.get("type")
    if kind == "action":
        if not isinstance(message.get("id"), str) or not isinstance(message.get("name"), str):
            return "An action needs a string `id` and `name`."
        if not isinstance(message.get("args", {}), (dict, type(None))):
            return "An action's `args` is an object."
        return {"type": kind, "id": message["id"], "name": message["name"], "args": message.get("args")}
    if kind == "set":
        if message.get("name") != "view":
            return "The sidebar sets only the `view` trait."
        if message.get("value") not in VIEW_TABS:
            return f"`view` is one of {', '.join(VIEW_TABS)}."
        return {"type": kind, "value": message["value"]}
    return f"Unknown message type {str(kind)[:40]!r}."


def _refusal(reason: str) -> str:
    hint = "The sidebar and the server extension disagree: reload the page; if it persists, run `modeldeck doctor`."
    return _encode({"type": "error", "error": {"code": "Sidebar.BadMessage", "message": reason, "hint": hint}})


def _encode(message: dict[str, Any]) -> str:
    return json.dumps(message, default=str)
