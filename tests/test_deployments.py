"""Deployments on the local engine: a version served by replica processes, upgraded under load, rolled
back when broken, healed when a replica is killed. Real platform, real HTTP, real worker processes."""

from __future__ import annotations

import os
import signal
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modeldeck as md
from modeldeck import examples
from modeldeck.errors import AccessDenied, Conflict, InvalidParameter, ModelAccessDenied, NotFound

from conftest import wait_for

X = [[0.5, -1.0, 2.0, 0.25]]


@pytest.fixture
def deck(deployment: Any, tmp_path: Path) -> Any:
    """The admin's deck with model `iris` in two versions whose outputs differ (1.0.0 and 2.0.0)."""
    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        for seed, version in ((0, "1.0.0"), (1, "2.0.0")):
            path = examples.onnx_linear(tmp_path / f"v{seed}" / "linear.onnx", seed=seed)
            deck.register("iris", path, version=version, format="ONNX", progress=False)
        yield deck
        for dep in deck.deployments():
            deck.delete_deployment(dep.name)


def outputs(deck: Any, version: str) -> list[float]:
    return deck.predict("iris", X, version=version).outputs["logits"][0]


def test_a_deployment_serves_its_version_from_replica_processes(deck: Any):
    dep = deck.deploy("iris", "1.0.0", name="iris-prod", replicas=2)
    assert dep.status == "Running", dep.status_reason
    assert dep.versions == ["1.0.0"] and len(dep.replica_status) == 2
    pids = {r["pid"] for r in dep.replica_status}
    assert os.getpid() not in pids and len(pids) == 2
    answer = deck.predict(None, X, deployment="iris-prod")
    assert answer.version == "1.0.0"
    assert answer.outputs["logits"][0] == pytest.approx(outputs(deck, "1.0.0"))
    assert answer.raw["deployment"] == "iris-prod" and answer.raw["replica"]
    assert [d.name for d in deck.deployments()] == ["iris-prod"]
    kinds = [e.kind for e in deck.deployment_events("iris-prod")]
    assert kinds == ["running", "created"]
