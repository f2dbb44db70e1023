"""The `ray` engine on a real local Ray cluster (started here on loopback with 2 CPUs, stopped after):
the same deployment as on the local engine, its replicas and rolling updates done by Ray Serve."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import modeldeck as md
from conftest import deploy
from services import free_port
from modeldeck import examples
from modeldeck.platform import Settings

pytestmark = pytest.mark.slow
pytest.importorskip("ray.serve", reason="the [serve] extra (ray[serve]) is not installed")
X = [[0.5, -1.0, 2.0, 0.25]]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A Ray instance of this process on 127.0.0.1 with 2 CPUs (Ray's own processes are children of this
    one, and `ray.shutdown()` stops exactly them); the platform's Ray engine joins it."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # Ray turns 127.0.0.1 into the machine's outward address unless it believes it runs on one laptop.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_agent_register_timeout_ms"] = "120000"  # Ray's agents start slowly on a busy 2-core machine
    import ray

    temp = tempfile.mkdtemp(prefix="ray-")  # short: Ray's socket paths must fit in 107 bytes
    try:
        context = ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", _temp_dir=temp,
                           namespace="modeldeck", logging_level="WARNING", log_to_driver=False)  # fmt: skip
    except Exception as exc:  # Ray gives its node a fixed 30 s to start, which a busy 2-core machine can miss
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
        pytest.skip(f"Ray could not start a node on this machine: {exc}")
    try:
        yield context.address_info["address"]
    finally:
        from ray import serve

        serve.shutdown()
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def ray_deck(ray_cluster: str, tmp_path: Path) -> Iterator[Any]:
    dep = deploy(Settings(home=tmp_path / "home", ray_address=ray_cluster, ray_serve_port=free_port()))
    try:
        with md.connect(url=dep.url, api_key=dep.admin_key) as deck:
            for seed, version in ((0, "1.0.0"), (1, "2.0.0")):
                path = examples.onnx_linear(tmp_path / f"v{seed}" / "linear.onnx", seed=seed)
                deck.register("iris", path, version=version, format="ONNX", progress=False)
            yield deck
    finally:
        dep.close()


def test_a_deployment_runs_upgrades_and_rolls_back_on_ray_serve(ray_deck: Any, tmp_path: Path):
    deck = ray_deck
    expected = {v: deck.predict("iris", X, version=v).outputs["logits"][0] for v in ("1.0.0", "2.0.0")}
    dep = deck.deploy("iris", "1.0.0", name="iris-ray", replicas=2, engine="ray")
    assert dep.status == "Running", dep.status_reason
    assert dep.engine == "ray" and len(dep.replica_status) == 2
    assert {r["state"] for r in dep.replica_status} == {"running"}  # as Ray Serve reports them
    answer = deck.predict(None, X, deployment="iris-ray")
    assert answer.version == "1.0.0" and answer.outputs["logits"][0] == pytest.approx(expected["1.0.0"])

    dep = deck.upgrade("iris-ray", "2.0.0")
    assert (dep.status, dep.version) == ("Running", "2.0.0"), dep.status_reason
    answer = deck.predict(None, X, deployment="iris-ray")
    assert answer.version == "2.0.0" and answer.outputs["logits"][0] == pytest.approx(expected["2.0.0"])

    broken = tmp_path / "broken" / "model.onnx"
    broken.parent.mkdir()
    broken.write_bytes(b"this is not an ONNX graph")
    deck.register("iris", broken, version="3.0.0", format="ONNX", progress=False)
    dep = deck.upgrade("iris-ray", "3.0.0")
    assert (dep.status, dep.version) == ("Running", "2.0.0")
    assert "3.0.0" in dep.status_reason
    assert deck.predict(None, X, deployment="iris-ray").version == "2.0.0"
    rolled = next(e for e in deck.deployment_events("iris-ray") if e.kind == "rolled_back")
    assert "Ray Serve" in rolled.reason
    deck.delete_deployment("iris-ray")
