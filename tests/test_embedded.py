"""The zero-configuration default: one shared embedded platform per home, for kernels and the CLI alike."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import modeldeck as md
from modeldeck import embedded

KERNEL = """
import json, sys, modeldeck as md
deck = md.connect()
action = sys.argv[1]
if action == "create":
    deck.create_model("from-kernel-1")
print(json.dumps({"url": deck.url, "models": [m.name for m in deck.models()]}))
"""


def kernel(action: str) -> dict:
    """A fresh Python process, like a new or restarted kernel."""
    out = subprocess.run([sys.executable, "-c", KERNEL, action], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_nothing_configured_means_the_shared_embedded_platform(isolated_user: Path):
    home = Path(os.environ["MODELDECK_HOME"])
    first = kernel("create")
    assert first["url"].startswith("http://127.0.0.1:") and first["models"] == ["from-kernel-1"]
    info = json.loads((home / "run" / "platform.json").read_text())
    assert info["url"] == first["url"]
    # a restarted kernel and this process find the same platform and the same state
    assert kernel("list") == first
    with md.connect() as deck:
        assert deck.url == first["url"] and deck.profile == "local"
        assert [m.name for m in deck.models()] == ["from-kernel-1"]
    # the CLI shares it too
    cli = subprocess.run([sys.executable, "-m", "modeldeck", "models", "--json"], capture_output=True, text=True)
    assert [m["model_name"] for m in json.loads(cli.stdout)] == ["from-kernel-1"]


def test_a_dead_server_is_replaced_and_no_data_is_lost(isolated_user: Path):
    home = Path(os.environ["MODELDECK_HOME"])
    kernel("create")
    pid = json.loads((home / "run" / "platform.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    again = kernel("list")
    assert again["models"] == ["from-kernel-1"]
    assert json.loads((home / "run" / "platform.json").read_text())["pid"] != pid


def test_concurrent_first_connects_start_one_server(isolated_user: Path):
    procs = [subprocess.Popen([sys.executable, "-c", KERNEL, "list"], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    urls = {json.loads(p.communicate(timeout=120)[0])["url"] for p in procs}
    assert len(urls) == 1


def test_another_home_and_stop(tmp_path: Path):
    other = tmp_path / "other-home"
    with md.connect(home=other) as deck:
        assert deck.workspace.name == "default"
        assert (other / "admin.key").exists()
    assert embedded.stop(other) is True
    assert not (other / "run" / "platform.json").exists()
    assert embedded.stop(other) is False
