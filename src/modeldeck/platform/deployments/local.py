"""The `local` engine: a deployment's replicas as worker processes of the platform host.

Replicas share the deployment's port through SO_REUSEPORT (see `replica`), so requests go from the client
straight to a replica and the port stays the same across upgrades. A replica that dies leaves the group at
once (the others keep answering) and is replaced. Upgrades:

- full: all new replicas start beside the old ones; once every one is healthy they start listening and
  the old ones drain;
- rolling: batch by batch, at most `max_unavailable` old replicas stop before their replacements serve.

Each batch of new replicas is then on probation: the old replicas keep listening until the new ones
answered their first `PROBATION_REQUESTS` requests (or `PROBATION_SECONDS` passed). A request the new
version fails meanwhile (a server error, or inputs its model refuses) is answered by an old replica instead
(see `replica`), so callers see no failure; `PROBATION_FAILURES` such failures, or a majority of the first
requests, fail the version. A version that fails its health check or its probation is taken away again and
the old one is left (or put back) serving: `ReplicaFailed` says why.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..inference import Target
from .forks import Template

START_TIMEOUT = 120.0
DRAIN_TIMEOUT = 15.0
RESTART_INTERVAL = 5.0
PROBATION_REQUESTS = 20
PROBATION_SECONDS = 2.0
PROBATION_FAILURES = 3


class ReplicaFailed(Exception):
    """A new version did not become healthy, or failed its first requests; the message says why."""


@dataclass(frozen=True)
class Served:
    """A version ready to be served: its target and its files on this host."""

    target: Target
    folder: Path

    @property
    def version(self) -> str:
        return self.target.version


class Replica:
    """One worker process (forked by the deployments' `Template`), driven through its stdin and read through
    its stdout."""

    def __init__(self, ident: str, slot: int, served: Served, config: dict[str, Any], template: Template) -> None:
        self.ident, self.slot, self.served, self.host = ident, slot, served, config["host"]
        self.state, self.reason = "loading", ""
        self.counts = (0, 0)  # served, failed
        self.last_failure = ""
        self.address: str | None = None  # its private http://host:port, once serving
        self._changed = threading.Condition()
        self.proc = template.spawn(served.target.format_type)
        target = served.target.__dict__
        self._send(json.dumps({**config, "replica": ident, "folder": str(served.folder), "target": target}))
        threading.Thread(target=self._read, name=f"modeldeck-replica-{ident}", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _send(self, line: str) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass  # it is gone already; the state it reached says so

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            with self._changed:
                if message.get("state") == "counts":
                    self.counts = (message["served"], message["failed"])
                    self.last_failure = message.get("failure", "")
                else:
                    self.state, self.reason = message["state"], message.get("reason", "")
                if message.get("private"):
                    self.address = f"http://{self.host}:{message['private']}"
                self._changed.notify_all()
        code = self.proc.wait()
        with self._changed:
            if self.state == "loading":
                self.reason = f"the replica process exited with code {code} while loading"
            self.state = "exited"
            self._changed.notify_all()

    def wait_for(self, *states: str, timeout: float = START_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.state not in states and self.state not in ("failed", "exited"):
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout"
                self._changed.wait(left)
            return self.state

    def serve(self, fallback: list[str] | None = None) -> None:
        """Start listening; with `fallback` (the old version's replicas), on probation."""
        self._send("serve " + json.dumps({"fallback": fallback}) if fallback else "serve")

    def settle(self) -> None:
        """Probation passed: stop handing failed requests to the old version."""
        self._send("settle")

    def drain(self) -> None:
        self._send("drain")

    def stop(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Drain, and kill if it will not leave in time."""
        self.drain()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def describe(self) -> dict[str, Any]:
        return {"replica": self.ident, "slot": self.slot, "version": self.served.version, "pid": self.pid,
                "state": self.state, "served": self.counts[0], "failed": self.counts[1]}  # fmt: skip


def reserve_port(host: str, port: int = 0) -> socket.socket:
    """Hold the deployment's port without listening: replicas join it, and no one else takes it meanwhile."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class LocalEngine:
    """The replicas of one deployment. Called from its controller's thread only."""

    def __init__(self, host: str, port: int | None, config: dict[str, Any], template: Template) -> None:
        self.reservation = reserve_port(host, port or 0)
        self.host, self.port = host, self.reservation.getsockname()[1]
        self.config = {**config, "host": host, "port": self.port}
        self.template = template
        self.slots: list[Replica] = []
        self._generation = 0
        self._restarted: dict[int, float] = {}  # slot -> when it was last restarted

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _spawn(self, slot: int, served: Served) -> Replica:
        self._generation += 1
        return Replica(f"r{slot}.{self._generation}", slot, served, self.config, self.template)

    def start(self, served: Served, replicas: int) -> None:
        """Bring up `replicas` replicas of a version (nothing else is serving)."""
        self.slots = self._healthy([self._spawn(i, served) for i in range(replicas)])
        self._switch(self.slots, [])

    def upgrade(self, served: Served, mode: dict[str, Any], on_rollback: Any) -> None:
        """Serve `served` instead; on a failed health check, put the old version back and raise."""
        old = self.slots[0].served if self.slots else None
        if mode["mode"] == "full":
            new = self._healthy([self._spawn(r.slot, served) for r in self.slots])
            self._switch(new, self.slots, probation=True)
            self.slots = new
            return
        try:
            self._roll(served, mode["batch_size"], mode["max_unavailable"], probation=True)
        except ReplicaFailed as exc:
            on_rollback(str(exc))
            if old is not None:
                self._roll(old, mode["batch_size"], 0)
            raise

    def _roll(self, served: Served, batch_size: int, max_unavailable: int, probation: bool = False) -> None:
        """Replace, batch by batch, every replica that is not a live one of `served`."""
        stale = [r for r in self.slots if r.served != served or not r.alive]
        for start in range(0, len(stale), batch_size):
            batch = stale[start : start + batch_size]
            freed = [r for r in batch if not r.alive] + [r for r in batch if r.alive][: max_unavailable]
            self._stop(freed)  # frees capacity first: still `replicas - max_unavailable` serving
            new = self._healthy([self._spawn(r.slot, served) for r in batch])
            self._switch(new, [r for r in batch if r not in freed], probation)
            self.slots = sorted([r for r in self.slots if r not in batch] + new, key=lambda r: r.slot)

    def _healthy(self, replicas: list[Replica]) -> list[Replica]:
        """Wait until every replica loaded and passed its health check; else stop them all and raise."""
        for replica in replicas:
            state = replica.wait_for("ready")
            if state != "ready":
                reason = replica.reason or f"the replica did not become healthy ({state})"
                self._stop(replicas)
                raise ReplicaFailed(f"replica {replica.ident} of version {replica.served.version} failed its "
                                    f"health check: {reason}")  # fmt: skip
        return replicas

    def _switch(self, new: list[Replica], old: list[Replica], probation: bool = False) -> None:
        """The new replicas start listening, then the old ones stop: the port is never without a listener.
        On `probation`, the old version's replicas keep serving until the new ones passed their first requests."""
        served = new[0].served if new else None
        fallback = [r.address for r in self.slots if r.served != served and r.alive and r.address] if probation else []
        for replica in new:
            replica.serve(fallback)
        for replica in new:
            replica.wait_for("serving", timeout=30)
        if fallback:
            try:
                self._probation(new)
            except ReplicaFailed:
                self._stop(new)
                raise
            for replica in new:
                replica.settle()
        self._stop(old)

    def _probation(self, new: list[Replica]) -> None:
        """Until the new replicas answered their first requests (or the window closed): raise when they failed them."""
        deadline = time.monotonic() + PROBATION_SECONDS
        while True:
            served, failed = (sum(r.counts[i] for r in new) for i in (0, 1))
            over = served + failed >= PROBATION_REQUESTS or time.monotonic() >= deadline
            if failed >= PROBATION_FAILURES or over and failed > served or not all(r.alive for r in new):
                why = next((r.last_failure for r in new if r.last_failure), "") or "a replica exited"
                raise ReplicaFailed(f"version {new[0].served.version} failed {failed} of its first {served + failed} "
                                    f"requests (each answered by the version it replaces): {why}")  # fmt: skip
            if over:
                return
            time.sleep(0.02)

    def _stop(self, replicas: list[Replica]) -> None:
        for replica in replicas:
            replica.drain()
        for replica in replicas:
            replica.stop()

    def heal(self, replacing: Any = None) -> list[tuple[Replica, Replica]]:
        """Replace replicas that died (the others answer meanwhile): the (dead, replacement) pairs. A slot
        is restarted at most once per `RESTART_INTERVAL`, so a replica that keeps dying does not spin.
        `replacing(pairs)` hears of them as soon as they are found, before the replacements are ready."""
        replaced = []
        now = time.monotonic()
        for i, replica in enumerate(self.slots):
            if now - self._restarted.get(replica.slot, -RESTART_INTERVAL) < RESTART_INTERVAL:
                continue
            if replica.state in ("serving", "ready") and not replica.alive or replica.state == "exited":
                self._restarted[replica.slot] = now
                new = self._spawn(replica.slot, replica.served)
                self.slots[i] = new
                replaced.append((replica, new))
        if replaced and replacing is not None:
            replacing(replaced)
        for dead, new in replaced:
            if new.wait_for("ready") == "ready":
                new.serve()
                new.wait_for("serving", timeout=30)
        return replaced

    def replicas(self) -> list[dict[str, Any]]:
        return [r.describe() for r in self.slots]

    def stop(self) -> None:
        self._stop(self.slots)
        self.slots = []

    def close(self) -> None:
        self.stop()
        self.reservation.close()
