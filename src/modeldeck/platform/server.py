"""Serving the platform over HTTP: as `modeldeck serve`, or in a background thread of this process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .core import Platform

if TYPE_CHECKING:
    from .api.facades import Facade


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class IdleWatch:
    """Remembers when the last request arrived, so an embedded server can leave once nobody uses it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = time.monotonic()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.last = time.monotonic()
        await self.app(scope, receive, send)


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
        **uvicorn_options: Any,
    ) -> None:
        import uvicorn

        from .api import create_app

        self.platform = platform
        self.sock = _bind(host, port)
        self.host, self.port = self.sock.getsockname()[:2]
        self.idle = IdleWatch(create_app(platform) if facades is None else create_app(platform, facades))
        self.idle_timeout = idle_timeout
        options = {"log_level": "warning", "access_log": False, "timeout_graceful_shutdown": 2, **uvicorn_options}
        self.server = uvicorn.Server(uvicorn.Config(self.idle, **options))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        """Serve in this thread until interrupted (or idle for `idle_timeout` seconds)."""
        if self.idle_timeout:
            threading.Thread(target=self._exit_when_idle, name="modeldeck-idle", daemon=True).start()
        self.server.run(sockets=[self.sock])

    def _exit_when_idle(self) -> None:
        assert self.idle_timeout
        while not self.server.should_exit:
            time.sleep(min(30.0, self.idle_timeout / 4))
            if time.monotonic() - self.idle.last > self.idle_timeout:
                self.server.should_exit = True

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
