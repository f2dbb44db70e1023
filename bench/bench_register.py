"""Registering a large checkpoint through the platform vs a one-pass hash-while-copy of the same file.

The platform path is what `deck.register` does: `transfer.upload_artifact`, then POST
/api/v1/models/{m}/versions with the artifact uri, against two servers:

- the home's embedded server (`modeldeck serve --embedded`, what `connect()` starts): the client asks it
  to import the file by path, and the server hash-copies it into the blob store itself, fsyncs it and
  checks it is the file described. This is the figure with the target.
- a team server (`modeldeck serve`): the client hashes while it sends one streamed PATCH; the server
  hashes while it writes, fsyncs, verifies the digest. Shown for comparison, no target.

The floor is the least any registration must do: read the file once, sha256 it and write a copy, as a
2-thread pipeline in plain Python (it does not fsync; the platform does).

Fairness: all read the same file, warm in the page cache, and every run starts after os.sync() so none
pays for another's dirty pages. The first bytes of the file change before each round, so every platform
round really stores the file (the platform skips blobs it already holds). Rounds rotate the order.
Each round leaves one blob in each temporary home: budget (2 x rounds + 3) x size of free space.

    python bench/bench_register.py [--size-mib 1024] [--rounds 5]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from _common import Server, env_line, median, verdict

from modeldeck import transfer

CHUNK = 8 << 20
TARGET = 0.8


def write_checkpoint(path: Path, size: int) -> None:
    """Random-ish bytes: one random 8 MiB block, varied per chunk so no two chunks are equal."""
    block = bytearray(os.urandom(CHUNK))
    with open(path, "wb") as fh:
        for i in range(0, size, CHUNK):
            block[:8] = i.to_bytes(8, "little")
            fh.write(block[: min(CHUNK, size - i)])


def stamp(path: Path, nonce: int) -> None:
    """New content (and digest) for the next round, without rewriting the file."""
    with open(path, "r+b") as fh:
        fh.write(nonce.to_bytes(16, "little"))


def warm(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(CHUNK):
            pass


def floor_copy(src: Path, dst: Path) -> str:
    """Read 8 MiB chunks and hash them in this thread while a second thread writes them to `dst`."""
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=4)

    def writer() -> None:
        with open(dst, "wb") as out:
            while (data := chunks.get()) is not None:
                out.write(data)

    thread = threading.Thread(target=writer)
    thread.start()
    hasher = hashlib.sha256()
    try:
        with open(src, "rb") as fh:
            while data := fh.read(CHUNK):
                chunks.put(data)
                hasher.update(data)
    finally:
        chunks.put(None)
        thread.join()
    return hasher.hexdigest()


def register(client: httpx.Client, path: Path) -> str:
    """Upload the file as an artifact and register it as a new version of model `big`."""
    artifact = transfer.upload_artifact(client, path)
    transfer.check(client.post("/api/v1/models/big/versions", json={"uri": artifact["uri"]}))
    return artifact["files"][0]["sha256"]


def timed(fn: Callable[[], str]) -> tuple[float, str]:
    os.sync()
    start = time.perf_counter()
    digest = fn()
    return time.perf_counter() - start, digest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="checkpoint size in MiB (default 1024)")
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds of each (default 5, min 3)")
    args = parser.parse_args()
    size = args.size_mib << 20
    print(env_line())
    tmp = Path(tempfile.mkdtemp(prefix="modeldeck-bench-register-"))
    try:
        src, dst = tmp / "checkpoint.bin", tmp / "floor-copy.bin"
        write_checkpoint(src, size)
        with Server(tmp / "embedded", "--embedded") as home, Server(tmp / "team") as team, \
                home.client() as local, team.client() as remote:  # fmt: skip
            for client in (local, remote):
                transfer.check(client.post("/api/v1/models", json={"model_name": "big"}))
                stamp(src, 0)
                register(client, src)  # warm-up: imports, the first connection, the first blob directory
            runs = {"floor": lambda: floor_copy(src, dst), "import": lambda: register(local, src),
                    "upload": lambda: register(remote, src)}  # fmt: skip
            seconds: dict[str, list[float]] = {name: [] for name in runs}
            order = list(runs)
            sent: list[str] = []  # what the embedded side sent: it must import, never upload
            local.event_hooks["request"].append(lambda request: sent.append(request.method))
            for i in range(max(3, args.rounds)):
                stamp(src, i + 1)
                warm(src)
                digests = set()
                for name in order[i % 3:] + order[: i % 3]:
                    took, digest = timed(runs[name])
                    seconds[name].append(took)
                    digests.add(digest)
                    gbs = size / took / 1e9
                    print(f"  round {i + 1} {name:8s} {took:6.2f} s {gbs:5.2f} GB/s  sha256 {digest[:12]}")
                dst.unlink()
                assert len(digests) == 1, "the platform stored other bytes than the floor copied"
            assert "PATCH" not in sent, "the embedded server did not import: the client uploaded"
        floor, imported, uploaded = (median(seconds[name]) for name in runs)
        print(f"floor (hash-while-copy, 2 threads):  median {floor:.2f} s = {size / floor / 1e9:.2f} GB/s")
        print(f"embedded (import by path + version): median {imported:.2f} s = {size / imported / 1e9:.2f} GB/s")
        print(f"team server (upload + version):      median {uploaded:.2f} s = {size / uploaded / 1e9:.2f} GB/s"
              f"  ({floor / uploaded:.2f}x of floor, no target)")  # fmt: skip
        ratio = floor / imported  # = platform GB/s over floor GB/s
        label = f"{args.size_mib // 1024}GiB" if args.size_mib % 1024 == 0 else f"{args.size_mib}MiB"
        ok = verdict(f"register_{label}", f"{ratio:.2f}x of floor (target >= {TARGET}x)", ratio >= TARGET)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
