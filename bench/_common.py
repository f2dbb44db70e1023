"""Shared by the bench scripts: the platform as a subprocess, a light HTTP client, an environment line,
alternated timings (calls, fresh interpreters), medians and verdicts.

The server runs in its own process (`python -m modeldeck serve`) so the client's CPU use does not slow it
through the GIL, as it would for a server thread inside the benchmark's process.
"""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def env_line() -> str:
    import fastapi
    import uvicorn

    return (
        f"env: python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus, "
        f"fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}"
    )


class Server:
    """`python -m modeldeck serve --home HOME --port 0 [OPTIONS]`: URL from its first stdout line, key in
    admin.key. `--embedded` makes it the home's own server, as `connect()` starts it (it imports by path)."""

    def __init__(self, home: Path, *options: str) -> None:
        self.home = home
        command = [sys.executable, "-m", "modeldeck", "serve", "--home", str(home), "--port", "0", *options]
        # stderr carries the server's JSON access log (one line per request): not for the bench's output.
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        found = re.search(r"serving on (http://\S+)", line)
        if not found:
            self.stop()
            raise RuntimeError(f"the platform did not start: {line!r}")
        self.url = found.group(1)
        self.key = (home / "admin.key").read_text().strip()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).is_success:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("the platform did not answer /health")

    def client(self) -> httpx.Client:
        """A keep-alive client with the admin key (the main account's default workspace)."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=120)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Connection:
    """One kept-alive HTTP/1.1 connection speaking what the benches send (JSON bodies; answers with a
    Content-Length or chunked), for timing a server rather than its client. httpx costs a client about
    2 ms of CPU per request (and 30 ms to start, for its TLS context): more than a listing costs the server,
    and 50 such clients in one process queued on their own event loop for seconds while the server sat
    mostly idle. This costs a tenth of it."""

    def __init__(self, url: str, key: str) -> None:
        self.host, port = url.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)
        self.auth = f"Authorization: Bearer {key}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"", headers: str = "") -> tuple[int, bytes]:
        if self.reader is None or self.reader.at_eof():
            self.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.writer is not None
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.auth}{headers}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
        try:
            self.writer.write(head.encode() + body)
            status, answer, keep = await self._response(self.reader)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self.close()
            raise ConnectionError(f"{method} {path}: {type(exc).__name__}") from exc
        if not keep:
            self.close()
        return status, answer

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        if fields.get("transfer-encoding") == "chunked":
            chunks = []
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                chunks.append((await reader.readexactly(size + 2))[:-2])
            await reader.readuntil(b"\r\n")
            answer = b"".join(chunks)
        else:
            answer = await reader.readexactly(int(fields.get("content-length", "0")))
        return status, answer, fields.get("connection") != "close"

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def verdict(name: str, text: str, ok: bool) -> bool:
    print(f"RESULT {name}: {text} {'PASS' if ok else 'FAIL'}", flush=True)
    return ok


def alternate(ours: Callable[[], object], theirs: Callable[[], object], calls: int, rounds: int = 6,
              warmup: int = 20) -> list[tuple[list[float], list[float]]]:  # fmt: skip
    """Milliseconds per call of each side in `rounds` rounds of `calls // rounds` calls each, after a warm-up.
    Within a round the sides alternate call by call, each first every other call, so noise hits both alike;
    the garbage collector runs between rounds, so it interrupts neither side's calls more than the other's."""
    for _ in range(warmup):
        ours(), theirs()
    per_round = max(1, calls // rounds)
    out = []
    for _ in range(rounds):
        gc.collect()
        mine: list[float] = []
        base: list[float] = []
        for i in range(per_round):
            pair = [(ours, mine), (theirs, base)]
            for call, times in pair if i % 2 else pair[::-1]:
                t0 = time.perf_counter()
                call()
                times.append((time.perf_counter() - t0) * 1000)
        out.append((mine, base))
    return out


def versus_sdk(name: str, what: str, rounds: list[tuple[list[float], list[float]]]) -> bool:
    """Our time against the SDK's on the same call, target at most 1.0x. The verdict is the median of the
    paired ratios (each of our calls over the SDK's call beside it, so a busy moment of a shared machine
    slows both halves of a pair alike); all calls' medians, the paired differences and each round's ratio
    of medians are printed beside it."""
    pairs = [(a, b) for mine, sdk in rounds for a, b in zip(mine, sdk)]
    ratio = median([a / b for a, b in pairs])
    by_round = sorted(median(mine) / median(sdk) for mine, sdk in rounds)
    print(f"{what}: ours p50 {median([a for a, _ in pairs]):.3f} ms, the SDK's p50 {median([b for _, b in pairs]):.3f} ms, "
          f"paired difference p50 {median([a - b for a, b in pairs]):+.3f} ms ({len(pairs)} pairs in {len(rounds)} "
          f"rounds; the rounds' ratios of medians {by_round[0]:.3f}..{by_round[-1]:.3f})")  # fmt: skip
    return verdict(name, f"{ratio:.3f}x the SDK's time (median paired ratio; target <= 1.0x)", ratio <= 1.0)


def fresh_imports(ours: str, theirs: str, rounds: int, work: Path) -> tuple[list[float], list[float]]:
    """Seconds to run each code in a fresh interpreter, alternated. Both sides from compiled bytecode, as
    installed packages import (a source checkout run with PYTHONDONTWRITEBYTECODE would compile modeldeck on
    every start): one untimed start each fills a cache."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")

    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        return time.perf_counter() - start

    run(ours), run(theirs)
    mine, base = [], []
    for i in range(rounds):
        pair = [(ours, mine), (theirs, base)]
        for code, times in pair if i % 2 else pair[::-1]:
            times.append(run(code))
    return mine, base
