"""Registering a large checkpoint through the platform vs a one-pass hash-while-copy of the same file.

The platform path is what `deck.register` does: `transfer.upload_artifact` (the client hashes while it
sends one streamed PATCH; the server hashes while it writes, fsyncs, verifies the digest) and then POST
/api/v1/models/{m}/versions with the artifact uri. The floor is the least any registration must do: read
the file once, sha256 it and write a copy, as a 2-thread pipeline in plain Python.

Fairness: both read the same file, warm in the page cache, and every round starts after os.sync() so
neither pays for the other's dirty pages. The first bytes of the file change before each round, so every
platform round really sends the file (the platform skips blobs it already holds). Rounds alternate order.

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
from pathlib import Path

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


def register(client, path: Path, model: str) -> str:  # type: ignore[no-untyped-def]
    artifact = transfer.upload_artifact(client, path)
    response = client.post(f"/api/v1/models/{model}/versions", json={"uri": artifact["uri"], "format_type": "ONNX"})
    transfer.check(response)
    return artifact["files"][0]["sha256"]


def timed(fn, *args) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    os.sync()
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


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
        with Server(tmp / "home") as server, server.client() as client:
            transfer.check(client.post("/api/v1/models", json={"model_name": "big"}))
            stamp(src, 0)
            register(client, src, "big")  # warm-up: imports, first connection, first blob directory
            floor_s, platform_s = [], []
            for i in range(max(3, args.rounds)):
                stamp(src, i + 1)
                warm(src)
                runs = [("floor", floor_copy, (src, dst)), ("platform", register, (client, src, "big"))]
                for name, fn, fn_args in runs if i % 2 == 0 else runs[::-1]:
                    seconds, digest = timed(fn, *fn_args)
                    (floor_s if name == "floor" else platform_s).append(seconds)
                    print(f"  round {i + 1} {name:8s} {seconds:6.2f} s  {size / seconds / 1e9:5.2f} GB/s  {digest[:12]}")
                dst.unlink()
        floor_gbs, platform_gbs = size / median(floor_s) / 1e9, size / median(platform_s) / 1e9
        print(f"floor (hash-while-copy, 2 threads): median {median(floor_s):.2f} s = {floor_gbs:.2f} GB/s")
        print(f"platform (upload_artifact + version): median {median(platform_s):.2f} s = {platform_gbs:.2f} GB/s")
        ratio = platform_gbs / floor_gbs
        name = f"register_{args.size_mib}MiB" if args.size_mib % 1024 else f"register_{args.size_mib // 1024}GiB"
        ok = verdict(name, f"{ratio:.2f}x of floor (target >= {TARGET}x)", ratio >= TARGET)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
