"""The embedded platform's process model: one shared local server per home, found through a runtime file.

The first `connect()` on a machine starts `modeldeck serve --embedded` for the home (loopback only, a free
port, the home's admin key as its token) and records it in `home/run/platform.json`. Every later kernel,
the CLI and the Jupyter server find it there, so they share one platform; it outlives kernel restarts.

It does not outlive its use. Its clients are the processes that connected to it (each leaves a lease,
`home/run/clients/<pid>`, void once that process is gone), requests in progress (an event stream lasts as
long as its subscriber) and any request within the grace period; with none for `IDLE_GRACE` seconds it
exits, and at once when its home is deleted. Runtimes unused for `RUNTIME_IDLE` seconds are released.
Only the kernel-light client is imported here: the platform's heavy dependencies load in the server process.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ._home import default_home
from ._version import __version__
from .errors import ConnectionFailed

START_TIMEOUT = 30.0
IDLE_GRACE = 60.0  # seconds without a client before it exits (MODELDECK_IDLE_GRACE)
RUNTIME_IDLE = 300.0  # seconds before an unused loaded model is released (MODELDECK_RUNTIME_IDLE)


@dataclass(frozen=True)
class Target:
    url: str
    admin_key: str | None

    def __repr__(self) -> str:
        return f"Target(url={self.url!r}, admin_key=***)"


def home_dir(home: Path | None) -> Path:
    return (Path(home).expanduser() if home is not None else default_home()).resolve()


def runtime_file(home: Path) -> Path:
    return home / "run" / "platform.json"


def read_admin_key(home: Path) -> str | None:
    try:
        return (home / "admin.key").read_text().strip() or None
    except FileNotFoundError:
        return None


def _alive(info: dict) -> bool:
    """The recorded process exists and answers as this version (a plain loopback request: no TLS setup)."""
    try:
        os.kill(int(info["pid"]), 0)
        url = urlsplit(info["url"])
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=2.0)
        try:
            conn.request("GET", "/health")
            response = conn.getresponse()
            return response.status == 200 and json.loads(response.read()).get("version") == __version__
        finally:
            conn.close()
    except (OSError, KeyError, ValueError, TypeError, http.client.HTTPException):
        return False


def running(home: Path) -> dict | None:
    """The live server recorded for this home, or None."""
    try:
        info = json.loads(runtime_file(home).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return info if _alive(info) else None


@contextlib.contextmanager
def _start_lock(home: Path) -> Iterator[None]:
    run = home / "run"
    run.mkdir(parents=True, exist_ok=True)
    with open(run / "start.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _stop_stale(home: Path) -> None:
    """A server of another modeldeck version (e.g. after an upgrade) is replaced, not reused."""
    try:
        info = json.loads(runtime_file(home).read_text())
        os.kill(int(info["pid"]), signal.SIGTERM)
    except (FileNotFoundError, ValueError, KeyError, OSError):
        pass
    runtime_file(home).unlink(missing_ok=True)


def ensure(home: Path | None = None) -> Target:
    """The URL and admin key of the home's shared server, starting it if none is running."""
    home = home_dir(home)
    info = running(home)
    if info is None:
        with _start_lock(home):
            info = running(home) or _start(home)
    _lease(home)
    return Target(info["url"], read_admin_key(home))


def _leases(home: Path) -> Path:
    return home / "run" / "clients"


def _lease(home: Path) -> None:
    """Count this process among the server's clients for as long as it lives."""
    folder = _leases(home)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / str(os.getpid())).touch()


def clients(home: Path) -> int:
    """How many live processes hold a lease on the home's server (the leases of dead ones are removed)."""
    live = 0
    for lease in _leases(home).glob("[0-9]*"):
        try:
            os.kill(int(lease.name), 0)
        except (ProcessLookupError, ValueError):
            lease.unlink(missing_ok=True)
            continue
        except PermissionError:  # it exists, as another user
            pass
        live += 1
    return live


class Launch:
    """`ensure(home)` in a background thread: the caller does its own work while the server boots."""

    def __init__(self, home: Path | None = None) -> None:
        self._outcome: Target | BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(home,), name="modeldeck-launch", daemon=True)
        self._thread.start()

    def _run(self, home: Path | None) -> None:
        try:
            self._outcome = ensure(home)
        except BaseException as exc:  # raised in the caller's thread by result()
            self._outcome = exc

    def result(self) -> Target:
        self._thread.join()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        assert self._outcome is not None
        return self._outcome


def _start(home: Path) -> dict:
    _stop_stale(home)
    log = home / "run" / "platform.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "modeldeck", "serve", "--home", str(home), "--port", "0", "--embedded",
             "--idle-timeout", os.environ.get("MODELDECK_IDLE_GRACE", str(IDLE_GRACE)),
             "--runtime-idle", os.environ.get("MODELDECK_RUNTIME_IDLE", str(RUNTIME_IDLE))],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            info = json.loads(runtime_file(home).read_text())
            if info.get("pid") == proc.pid:
                return info
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.005)
    tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
    if proc.poll() is None:
        proc.terminate()
    raise ConnectionFailed(
        f"The embedded platform for {home} did not start" + (f": {tail[-1]}" if tail else "."),
        hint=f"See {log}; `modeldeck doctor` checks the installation.",
    )


def stop(home: Path | None = None) -> bool:
    """Stop the home's shared server if one runs; returns whether one did."""
    home = home_dir(home)
    info = running(home)
    if info is None:
        return False
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (runtime_file(home).exists() or not _exited(pid)):
        time.sleep(0.05)
    return True


def _exited(pid: int) -> bool:
    """Whether the process is gone, so its home can be removed (reaped first if it is our child)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
