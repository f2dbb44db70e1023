"""Serving the platform over HTTP: as `modeldeck serve`, or in a background thread of this process.

An embedded server does not outlive its use: a watcher thread ends it once it has had no client for the
grace period (`idle_timeout`) and at once when its home is deleted, and it releases loaded runtimes nobody
has used for `runtime_idle` seconds, so an idle server's memory returns to its at-rest size.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import embedded
from .core import Platform
from .metrics import access_log

if TYPE_CHECKING:
    from .api.facades import Facade

log = logging.getLogger(__name__)
WATCH_EVERY = 0.5  # seconds between two looks at the clients, the home and the runtimes
# Seconds an idle keep-alive connection stays open. Longer than clients keep theirs (httpx: 5 s) and than
# balancers' idle timeouts (60 s is common): whoever reuses a connection must not race the server closing it
# (uvicorn's default, 5 s, ties with httpx, and a request sent at that moment fails unanswered).
KEEP_ALIVE = 75
SWITCH_INTERVAL = 0.0005  # seconds a thread may hold the GIL while another waits (Python's default: 0.005)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class IdleWatch:
    """Counts requests in progress (an event stream is one for as long as its subscriber stays) and when
    the last one ended, so an embedded server can leave once nobody uses it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = time.monotonic()
        self.active = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self.active += 1  # one event loop: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
            self.last = time.monotonic()

    def in_use(self, grace: float) -> bool:
        return self.active > 0 or time.monotonic() - self.last < grace


class PlatformServer:
    """A uvicorn server for one platform, on a socket bound before start so the port is known at once."""

    def __init__(
        self,
        platform: Platform,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        idle_timeout: float | None = None,
        facades: Sequence[Facade] | None = None,
        home: Path | None = None,
        runtime_idle: float | None = None,
        **uvicorn_options: Any,
    ) -> None:
        """`idle_timeout`: exit after that long without a client; `home`: an embedded server's home, whose
        connected processes count as clients and whose deletion ends the server; `runtime_idle`: release
        runtimes unused that long."""
        import uvicorn

        from .api import create_app

        self.platform = platform
        self.sock = _bind(host, port)
        self.host, self.port = self.sock.getsockname()[:2]
        self.idle = IdleWatch(create_app(platform) if facades is None else create_app(platform, facades))
        self.idle_timeout = idle_timeout
        self.home = home
        self.runtime_idle = runtime_idle
        options = {"log_level": "warning", "access_log": False, "timeout_graceful_shutdown": 2,
                   "timeout_keep_alive": KEEP_ALIVE, **uvicorn_options}  # fmt: skip
        self.server = uvicorn.Server(uvicorn.Config(self.idle, **options))
        self._uvicorn_shutdown = self.server.shutdown
        self.server.shutdown = self._shutdown  # type: ignore[method-assign]
        self._thread: threading.Thread | None = None

    async def _shutdown(self, sockets: Any = None) -> None:
        """End open event streams first: uvicorn would wait for them, then cancel each with an error logged."""
        self.platform.events.end_streams()
        await self._uvicorn_shutdown(sockets)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        """Serve in this thread until interrupted (or idle for `idle_timeout` seconds)."""
        self.platform.events.closing = False  # a platform served again after an earlier server stopped
        # The event loop answers listings and small predicts itself; with Python's 5 ms switch interval it
        # would wait up to 5 ms for the GIL each time a worker thread (a registration, an upload) holds it,
        # which is the whole tail of a 1 ms listing under mixed load.
        sys.setswitchinterval(SWITCH_INTERVAL)
        if self.idle_timeout or self.home or self.runtime_idle:
            threading.Thread(target=self._watch, name="modeldeck-idle", daemon=True).start()
        try:
            self.server.run(sockets=[self.sock])
        finally:
            access_log.flush()

    def _watch(self) -> None:
        home = _identity(self.home) if self.home else None
        while not self.server.should_exit:
            time.sleep(WATCH_EVERY)
            if self.home and _identity(self.home) != home:
                log.warning("the home %s was deleted: stopping", self.home)
                self.server.should_exit = True
            elif self.idle_timeout and not self.idle.in_use(self.idle_timeout) and not self._connected():
                self.server.should_exit = True
            elif self.runtime_idle and "runtimes" in vars(self.platform):  # loaded once something ran
                self.platform.runtimes.release_idle(self.runtime_idle)

    def _connected(self) -> bool:
        return self.home is not None and embedded.clients(self.home) > 0

    def start(self) -> PlatformServer:
        """Serve in a daemon thread; returns once the server accepts requests."""
        self.server.config.install_signal_handlers = False  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self.run, name="modeldeck-platform", daemon=True)
        self._thread.start()
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the platform server stopped while starting")
            threading.Event().wait(0.005)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.sock.close()

    def __enter__(self) -> PlatformServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _identity(path: Path) -> tuple[int, int] | None:
    """The directory's device and inode: None once it is gone, another value once it was replaced."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino
