"""Change events: what the SQLite wake-up costs, and how soon a change reaches a subscriber.

1. One look at `PRAGMA data_version` (what the watcher does every 50 ms) vs the query it spares,
   `SELECT max(seq) FROM events`, on the same home's database.
2. The server's CPU while idle with one subscriber (the watcher running) vs with none.
3. Commit to frame: a workspace created by one client until the subscriber's frame arrives, vs the same
   request's own round trip (the floor). Target: the median under a quarter of a second (views: 1 s).
And the polling fallback's rate for a provider without events, from `modeldeck.events.POLL_EVERY`.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from _common import Server, env_line, median, verdict
from modeldeck.events import POLL_EVERY, frames


def looks(db: Path, rounds: int) -> tuple[float, float]:
    conn = sqlite3.connect(db)
    try:
        def each(sql: str) -> float:
            start = time.perf_counter()
            for _ in range(rounds):
                conn.execute(sql).fetchone()
            return (time.perf_counter() - start) / rounds

        return each("PRAGMA data_version"), each("SELECT max(seq) FROM events")
    finally:
        conn.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 1/100 s


def idle_cpu(server: Server, seconds: float) -> float:
    before = cpu_seconds(server.proc.pid)
    time.sleep(seconds)
    return (cpu_seconds(server.proc.pid) - before) / seconds


class Subscriber:
    def __init__(self, server: Server) -> None:
        self.client = server.client()
        self.arrived: list[float] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.ready.wait(30)

    def _read(self) -> None:
        try:
            with self.client.stream("GET", "/api/v1/events", timeout=None) as response:
                self.ready.set()
                for event, _, _ in frames(response.iter_lines()):
                    if event == "change":
                        self.arrived.append(time.perf_counter())
        except (httpx.HTTPError, RuntimeError):
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="changes to time (default 30)")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measurement (default 10)")
    args = parser.parse_args()
    print(env_line())
    with tempfile.TemporaryDirectory() as tmp, Server(Path(tmp) / "home") as server:
        writer = server.client()
        writer.post("/api/v1/workspaces", json={"name": "warm-up"}).raise_for_status()
        look, query = looks(Path(tmp) / "home" / "modeldeck.db", 20_000)
        print(f"one look: data_version {look * 1e6:.2f} us, max(seq) query {query * 1e6:.2f} us "
              f"({query / look:.1f}x); at 20 looks a second: {20 * look * 1e3:.3f} ms of CPU per second")
        quiet = idle_cpu(server, args.idle)
        subscriber = Subscriber(server)
        watching = idle_cpu(server, args.idle)
        print(f"idle server CPU: {quiet * 100:.2f}% of a core with no subscriber, {watching * 100:.2f}% with one")
        latencies, round_trips = [], []
        for i in range(args.rounds):
            sent = time.perf_counter()
            writer.post("/api/v1/workspaces", json={"name": f"w-{i}"}).raise_for_status()
            round_trips.append(time.perf_counter() - sent)
            deadline = time.monotonic() + 5
            while len(subscriber.arrived) <= i and time.monotonic() < deadline:
                time.sleep(0.001)
            latencies.append(subscriber.arrived[i] - sent if len(subscriber.arrived) > i else 5.0)
            writer.delete(f"/api/v1/workspaces/w-{i}").raise_for_status()
            while len(subscriber.arrived) <= i + 1 and time.monotonic() < deadline:  # the delete's event
                time.sleep(0.001)
            subscriber.arrived[i + 1:] = []  # keep one arrival per round
        print(f"commit to frame: median {median(latencies) * 1e3:.1f} ms (max {max(latencies) * 1e3:.1f} ms); "
              f"the request's own round trip: median {median(round_trips) * 1e3:.1f} ms")
        print(f"without events a visible view reloads every {POLL_EVERY:.0f} s: 3 GETs, {3 / POLL_EVERY:.1f} requests/s")
        ok = verdict("events_latency", f"{median(latencies) * 1e3:.0f} ms median (< 250 ms)", median(latencies) < 0.25)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
