"""A warm template process that forks the local engine's replicas.

Starting a replica as a fresh interpreter costs a second or two of CPU (the interpreter, then numpy,
onnxruntime, uvicorn, the platform's modules), taken from the replicas that serve meanwhile on a small
machine: that is what made an upgrade's p99 several times the p99 at rest. The template pays it once: it
imports what a replica needs (and a version format's runtime, the first time one is asked for), then forks
each replica, which starts with all of it loaded and only reads its version's files.

The platform speaks to the template over a Unix socket: a JSON line `{"format_type": ...}` with two file
descriptors (the replica's stdin and stdout, see `replica`) asks for a replica; the template answers
`{"pid": n}`, and `{"exited": n, "code": c}` when that replica ends (`c` as `Popen.returncode` says it: a
negative signal number for a killed one). End of input means the platform is gone: the template exits
(its replicas exit too, at the end of their own stdin).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

MAX_MESSAGE = 4096
ENTRY = "import sys; from modeldeck.platform.deployments.forks import main; sys.exit(main(int(sys.argv[1])))"


class Forked:
    """A replica process forked by the template; what `Replica` needs of a `subprocess.Popen`."""

    def __init__(self, pid: int, stdin: Any, stdout: Any) -> None:
        self.pid, self.stdin, self.stdout = pid, stdin, stdout
        self.returncode: int | None = None
        self.orphaned = False  # its template ended: its exit code will not be told, only seen
        self._ended = threading.Event()

    def _exited(self, code: int) -> None:
        self.returncode = code
        self._ended.set()

    def poll(self) -> int | None:
        if self.returncode is None and self.orphaned and not _exists(self.pid):
            self._exited(-1)  # the template died: its replica's code is unknown
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(f"replica {self.pid}", timeout or 0)
            self._ended.wait(0.5 if left is None else min(left, 0.5))
        return self.returncode  # type: ignore[return-value]

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _packet(sock: socket.socket) -> dict[str, Any] | None:
    """The next message from the template (one packet each), or None once it is gone."""
    try:
        data = sock.recv(MAX_MESSAGE)
    except OSError:
        return None
    return json.loads(data) if data else None


def _exists(pid: int) -> bool:
    """Whether `pid` still runs (a zombie no one reaps, once its template is gone, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class Template:
    """The platform's side of the template process: started on first use, stopped by `close`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._children: dict[int, Forked] = {}
        self._pids: list[int] = []
        self._early: dict[int, int] = {}  # exit codes heard before `spawn` took its replica's pid
        self._answered = threading.Condition()
        self.lost = False  # the template process ended (the next `spawn` starts another)

    def _ensure(self) -> socket.socket:
        if self._sock is not None and self._proc is not None and self._proc.poll() is None:
            return self._sock
        self._stop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)  # one request, one packet
        self._proc = subprocess.Popen(
            [sys.executable, "-c", ENTRY, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, close_fds=True,
        )  # fmt: skip
        theirs.close()
        self._sock, self.lost = ours, False
        threading.Thread(target=self._read, args=(ours,), name="modeldeck-template", daemon=True).start()
        return ours

    def spawn(self, format_type: str) -> Forked:
        """A new replica process, its stdin and stdout connected to pipes of this process (from a new
        template if the one there was has ended)."""
        with self._lock:
            try:
                return self._fork(format_type)
            except OSError:
                self._stop()
                return self._fork(format_type)

    def _fork(self, format_type: str) -> Forked:
        sock = self._ensure()
        child_in, our_in = os.pipe()
        our_out, child_out = os.pipe()
        try:
            with self._answered:
                socket.send_fds(sock, [json.dumps({"format_type": format_type}).encode() + b"\n"],
                                [child_in, child_out])  # fmt: skip
                while not self._pids and not self.lost:
                    self._answered.wait(1.0)
                if not self._pids:
                    raise OSError("the replica template process ended")
                pid = self._pids.pop(0)
                forked = Forked(pid, os.fdopen(our_in, "w", buffering=1), os.fdopen(our_out, "r"))
                self._children[pid] = forked
                if pid in self._early:
                    forked._exited(self._early.pop(pid))
        except BaseException:
            os.close(our_in), os.close(our_out)
            raise
        finally:
            os.close(child_in), os.close(child_out)
        return forked

    def _read(self, sock: socket.socket) -> None:
        while message := _packet(sock):
            with self._answered:
                if "exited" not in message:
                    self._pids.append(message["pid"])
                    self._answered.notify_all()
                elif (child := self._children.pop(message["exited"], None)) is not None:
                    child._exited(message["code"])
                else:
                    self._early[message["exited"]] = message["code"]
        with self._answered:
            self.lost = self.lost or sock is self._sock
            for child in self._children.values():
                child.orphaned = True
            self._answered.notify_all()

    def _stop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)  # end of input: the template exits (and our reader wakes)
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def close(self) -> None:
        with self._lock:
            self._stop()


# ---- the template process ------------------------------------------------------------------------


def _warm(format_type: str | None) -> None:
    """Import what a replica needs (and, given a format, its runtime) so that forks start with it."""
    import numpy  # noqa: F401
    import uvicorn  # noqa: F401
    import uvicorn.loops.auto  # noqa: F401
    import uvicorn.protocols.http.auto  # noqa: F401

    from . import replica  # noqa: F401

    if format_type:
        replica.prepare(format_type)


def _code(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _child(control: socket.socket, fds: list[int]) -> None:
    """In the forked replica: its pipes as stdin and stdout, then the replica's own main."""
    control.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.dup2(fds[0], 0)
    os.dup2(fds[1], 1)
    for fd in fds:
        os.close(fd)
    sys.stdin, sys.stdout = os.fdopen(0, "r", closefd=False), os.fdopen(1, "w", buffering=1, closefd=False)
    code = 1
    try:
        from . import replica

        code = replica.main()
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # no interpreter teardown: the template's modules are not this process's to clean


def main(fd: int) -> int:
    control = socket.socket(fileno=fd)
    _warm(None)
    while True:
        readable, _, _ = select.select([control], [], [], 0.2)
        while True:  # the replicas that ended
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            control.sendall(json.dumps({"exited": pid, "code": _code(status)}).encode() + b"\n")
        if not readable:
            continue
        data, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, 2)
        if not data:
            return 0  # the platform is gone
        request = json.loads(data)
        _warm(request.get("format_type"))
        pid = os.fork()
        if pid == 0:
            _child(control, fds)
        for f in fds:
            os.close(f)
        control.sendall(json.dumps({"pid": pid}).encode() + b"\n")
