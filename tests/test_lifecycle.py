"""The embedded server does not outlive its use: it leaves after its last client, at once when its home is
deleted, and gives back the memory of models nobody runs. Each server here is a real `modeldeck serve
--embedded` process, watched by its pid."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_for

import modeldeck as md
from modeldeck import embedded, examples

GRACE = 0.5  # the sleeps below are multiples of it: idle far past it, with clients alive
KERNEL = """
import sys, modeldeck as md
deck = md.connect()
print(len(list(deck.models())), flush=True)
sys.stdin.readline()  # a kernel that stays, doing nothing, until told to go
"""


@pytest.fixture
def grace(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setenv("MODELDECK_IDLE_GRACE", str(GRACE))
    return GRACE


def start_kernel() -> subprocess.Popen:
    kernel = subprocess.Popen([sys.executable, "-c", KERNEL], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert kernel.stdout is not None and kernel.stdout.readline().strip() == "0"
    return kernel


def server_pid() -> int:
    return json.loads((Path(os.environ["MODELDECK_HOME"]) / "run" / "platform.json").read_text())["pid"]


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie its parent (the kernel that started it) has not reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.fixture
def kernels() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for kernel in started:
        if kernel.poll() is None:
            kernel.kill()
            kernel.wait()


def test_the_server_stays_while_a_client_lives_and_leaves_after_the_last(grace: float, kernels: list):
    first, second = start_kernel(), start_kernel()
    kernels += [first, second]
    pid = server_pid()
    assert embedded.clients(Path(os.environ["MODELDECK_HOME"])) == 2
    time.sleep(3 * grace)  # idle far past the grace period, with clients alive
    assert not gone(pid)
    first.communicate("\n", timeout=30)
    time.sleep(2 * grace)  # one client left
    assert not gone(pid)
    second.communicate("\n", timeout=30)
    wait_for(lambda: gone(pid), timeout=grace + 10)
    assert not (Path(os.environ["MODELDECK_HOME"]) / "run" / "platform.json").exists()


def test_the_server_leaves_at_once_when_its_home_is_deleted(kernels: list):
    kernel = start_kernel()  # a client that stays: only the deletion ends the server
    kernels.append(kernel)
    pid = server_pid()
    shutil.rmtree(os.environ["MODELDECK_HOME"])
    wait_for(lambda: gone(pid), timeout=10)


def rss(pid: int) -> int:
    """The process's resident memory in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_idle_runtimes_are_released_and_memory_returns_to_its_baseline(monkeypatch, tmp_path: Path):
    runtime_idle = 2.0
    monkeypatch.setenv("MODELDECK_RUNTIME_IDLE", str(runtime_idle))
    n_features, n_classes = 8192, 4096  # 128 MiB of weights
    with md.connect() as deck:
        pid = server_pid()
        deck.register("tiny", examples.onnx_linear(tmp_path / "tiny.onnx"), format="ONNX", progress=False)
        deck.predict("tiny", {"X": [[0.1, 0.2, 0.3, 0.4]]})  # the ONNX runtime's libraries: part of at rest
        big = examples.onnx_linear(tmp_path / "big.onnx", n_features=n_features, n_classes=n_classes)
        deck.register("big", big, format="ONNX", progress=False)
        time.sleep(runtime_idle + 1.5)  # let the tiny model's runtime go too: what stays is the baseline
        baseline = rss(pid)
        deck.predict("big", {"X": [[0.0] * n_features]})
        loaded = rss(pid)
        assert loaded - baseline > 100 << 20
        wait_for(lambda: rss(pid) - baseline < 0.2 * (loaded - baseline), timeout=30)
        after = rss(pid)
        print(f"server RSS: at rest {baseline >> 20} MiB, loaded {loaded >> 20} MiB, released {after >> 20} MiB")
