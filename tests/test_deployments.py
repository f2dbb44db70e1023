"""Deployments on the local engine: a version served by replica processes, upgraded under load, rolled
back when broken, healed when a replica is killed. Real platform, real HTTP, real worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modeldeck as md
from modeldeck import examples
from modeldeck.errors import AccessDenied, Conflict, InvalidParameter, ModelAccessDenied, NotFound
from modeldeck.platform import Settings

from conftest import deploy, wait_for
from test_cli import cli  # noqa: F401  (fixtures: the terminal and the notebook, as their tests run them)
from test_magics import ip  # noqa: F401
from test_magics import md as magic

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
    # forked from one warm template (no interpreter start, no imports per replica), serving at normal priority
    parents = {_parent(pid) for pid in pids}
    assert len(parents) == 1 and parents != {os.getpid()} and _parent(parents.pop()) == os.getpid()
    assert {os.sched_getscheduler(pid) for pid in pids} == {os.SCHED_OTHER}
    answer = deck.predict(None, X, deployment="iris-prod")
    assert answer.version == "1.0.0"
    assert answer.outputs["logits"][0] == pytest.approx(outputs(deck, "1.0.0"))
    assert answer.raw["deployment"] == "iris-prod" and answer.raw["replica"]
    assert [d.name for d in deck.deployments()] == ["iris-prod"]
    kinds = [e.kind for e in deck.deployment_events("iris-prod")]
    assert kinds == ["running", "created"]


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


class Load:
    """A closed-loop client: `clients` threads, each with its own deck (its own connection), predicting
    through the deployment back to back; every answer's version and replica is kept in order."""

    def __init__(self, deployment: Any, name: str, clients: int = 4) -> None:
        self.decks = [md.connect(url=deployment.url, api_key=deployment.admin_key) for _ in range(clients)]
        self.name = name
        self.answers: list[list[tuple[str, str, list[float]]]] = [[] for _ in range(clients)]
        self.failures: list[BaseException] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(clients)]

    def _run(self, i: int) -> None:
        while not self.stopping.is_set():
            try:
                answer = self.decks[i].predict(None, X, deployment=self.name)
            except Exception as exc:
                self.failures.append(exc)
                continue
            self.answers[i].append((answer.version, answer.raw["replica"], answer.outputs["logits"][0]))

    def count(self) -> int:
        return sum(len(a) for a in self.answers)

    def more(self, n: int) -> None:
        """Wait until `n` more answers arrived."""
        target = self.count() + n
        wait_for(lambda: self.count() >= target, timeout=60)

    def replicas(self) -> set[str]:
        return {replica for answers in self.answers for _, replica, _ in list(answers)}

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        self.more(20)
        self.until_every_replica_answered()
        return self

    def until_every_replica_answered(self) -> None:
        """Until each replica the deployment has now answered at least once (connections land where the
        kernel puts them, and move on after a few dozen requests)."""
        serving = {r["replica"] for r in self.decks[0].deployment(self.name).replica_status if r["replica"]}
        wait_for(lambda: serving <= self.replicas(), timeout=60)

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)
        for deck in self.decks:
            deck.close()


def assert_switched_once(load: Load, old: str, new: str, expected: dict[str, list[float]]) -> None:
    """Every answer is exactly one version's output; every replica slot served the old version from one
    replica, then the new version from its one replacement; and every client's answers went from old to new."""
    slots: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for answers in load.answers:
        assert answers[0][0] == old and answers[-1][0] == new
        for version, replica, logits in answers:
            assert logits == pytest.approx(expected[version])
            slot, generation = replica.split(".")
            slots[slot][version].add(generation)
    for slot, versions in slots.items():
        assert set(versions) == {old, new}, (slot, versions)
        assert len(versions[old]) == len(versions[new]) == 1, (slot, versions)  # exactly one switch
        assert int(*versions[old]) < int(*versions[new])


@pytest.mark.parametrize("mode", ["full", "rolling"])
def test_an_upgrade_under_load_fails_no_request_and_switches_each_client_once(deck: Any, deployment: Any, mode: str):
    expected = {v: outputs(deck, v) for v in ("1.0.0", "2.0.0")}
    assert expected["1.0.0"] != pytest.approx(expected["2.0.0"])
    deck.deploy("iris", "1.0.0", name="iris-prod", replicas=2, upgrade=mode)
    with Load(deployment, "iris-prod") as load:
        dep = deck.upgrade("iris-prod", "2.0.0")
        load.until_every_replica_answered()
    assert dep.status == "Running" and dep.version == "2.0.0" and dep.previous_version == "1.0.0"
    assert dep.versions == ["2.0.0"] and len(dep.replica_status) == 2
    assert load.failures == []
    assert_switched_once(load, "1.0.0", "2.0.0", expected)
    upgraded = next(e for e in deck.deployment_events("iris-prod") if e.kind == "upgrading")
    assert upgraded.actor == deck.whoami()["account"]["name"]
    assert upgraded.changes["version"] == ["1.0.0", "2.0.0"] and upgraded.changes["upgrade"]["mode"] == mode


def test_rollback_returns_to_the_version_the_upgrade_replaced(deck: Any):
    deck.deploy("iris", "1.0.0", name="iris-prod", replicas=1)
    deck.upgrade("iris-prod", "2.0.0", mode="full")
    dep = deck.rollback("iris-prod")
    assert (dep.status, dep.version, dep.versions, dep.previous_version) == ("Running", "1.0.0", ["1.0.0"], "2.0.0")
    assert deck.predict(None, X, deployment="iris-prod").version == "1.0.0"


@pytest.mark.parametrize("upgrade", [{"mode": "full"}, {"mode": "rolling", "batch_size": 1, "max_unavailable": 1}])
def test_a_broken_version_is_rolled_back_by_itself_and_the_event_says_why(
    deck: Any, deployment: Any, tmp_path: Path, upgrade: dict[str, Any]
):
    broken = failing_on_real_inputs(tmp_path / "broken" / "model.onnx", rows=0)  # registers, fails its warm-up
    deck.register("iris", broken, version="3.0.0", format="ONNX", progress=False)
    deck.deploy("iris", "1.0.0", name="iris-prod", replicas=2, upgrade=upgrade)
    with Load(deployment, "iris-prod") as load:
        dep = deck.upgrade("iris-prod", "3.0.0")
        load.more(20)
    assert load.failures == []
    assert {v for answers in load.answers for v, _, _ in answers} == {"1.0.0"}
    assert (dep.status, dep.version, dep.versions) == ("Running", "1.0.0", ["1.0.0"])
    assert len(dep.replica_status) == 2
    assert "3.0.0" in dep.status_reason and "failed its health check" in dep.status_reason
    rolled = next(e for e in deck.deployment_events("iris-prod") if e.kind == "rolled_back")
    assert rolled.actor == "platform" and "could not run" in rolled.reason
    assert rolled.changes == {"version": ["3.0.0", "1.0.0"]}


def failing_on_real_inputs(path: Path, rows: int = 1) -> Path:
    """A valid ONNX graph that gathers row max(int(X)) of a table of `rows` rows: with one row it answers
    zeros (so its warm-up passes) and fails on real inputs above 1; with none it fails on every input."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    table = numpy_helper.from_array(np.zeros((rows, 3), dtype=np.float32), "table")
    weights = numpy_helper.from_array(np.ones((4, 3), dtype=np.float32), "W")
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["X"], ["i"], to=TensorProto.INT64),
            helper.make_node("ReduceMax", ["i"], ["m"], keepdims=0),
            helper.make_node("Gather", ["table", "m"], ["row"], axis=0),
            helper.make_node("MatMul", ["X", "W"], ["XW"]),
            helper.make_node("Add", ["XW", "row"], ["logits"]),
        ],
        "picky",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 3])],
        initializer=[table, weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("upgrade", [{"mode": "full"}, {"mode": "rolling", "batch_size": 1, "max_unavailable": 1}])
def test_a_version_failing_its_first_requests_is_rolled_back_and_no_caller_sees_a_failure(
    deck: Any, deployment: Any, tmp_path: Path, upgrade: dict[str, Any]
):
    """Its health check passes; the requests it fails on probation are answered by the old replicas."""
    deck.register("iris", failing_on_real_inputs(tmp_path / "picky" / "model.onnx"), version="3.0.0",
                  format="ONNX", progress=False)  # fmt: skip
    deck.deploy("iris", "1.0.0", name="iris-prod", replicas=2, upgrade=upgrade)
    with Load(deployment, "iris-prod") as load:
        dep = deck.upgrade("iris-prod", "3.0.0")
        load.more(20)
    assert load.failures == []
    expected = outputs(deck, "1.0.0")
    assert all(v == "1.0.0" and logits == pytest.approx(expected) for a in load.answers for v, _, logits in a)
    assert (dep.status, dep.version, dep.versions) == ("Running", "1.0.0", ["1.0.0"]) and len(dep.replica_status) == 2
    rolled = next(e for e in deck.deployment_events("iris-prod") if e.kind == "rolled_back")
    assert rolled.actor == "platform" and rolled.changes == {"version": ["3.0.0", "1.0.0"]}
    assert "3.0.0 failed" in rolled.reason and "first" in rolled.reason and "health check" not in rolled.reason
    assert "could not run on the given input" in rolled.reason and "Inference.InvalidInput" in rolled.reason
    assert deck.predict(None, X, deployment="iris-prod").version == "1.0.0"


def test_a_killed_replica_is_restarted_while_the_others_answer(deck: Any, deployment: Any):
    dep = deck.deploy("iris", "1.0.0", name="iris-prod", replicas=2)
    victim = dep.replica_status[0]
    with Load(deployment, "iris-prod") as load:
        os.kill(victim["pid"], signal.SIGKILL)

        def replaced() -> bool:
            pids = {r["pid"] for r in deck.deployment("iris-prod").replica_status if r["state"] == "serving"}
            return len(pids) == 2 and victim["pid"] not in pids

        wait_for(replaced, timeout=60)
        replacement = next(r["replica"] for r in deck.deployment("iris-prod").replica_status if r["pid"] != dep.replica_status[1]["pid"])

        def answered_by() -> set[str]:
            return {replica for answers in load.answers for _, replica, _ in answers}

        wait_for(lambda: replacement in answered_by(), timeout=60)  # clients' connections spread out again
    assert load.failures == []  # a request the killed replica held is retried by the client
    restarted = next(e for e in deck.deployment_events("iris-prod") if e.kind == "replica_restarted")
    assert str(victim["pid"]) in restarted.message and restarted.actor == "platform"
    # (4 connections are hashed over the replicas' sockets: the victim may have had none of them)
    assert replacement in answered_by() <= {victim["replica"], dep.replica_status[1]["replica"], replacement}


def test_a_killed_template_is_replaced_and_its_replicas_still_drain(deck: Any):
    dep = deck.deploy("iris", "1.0.0", name="iris-prod", replicas=1)
    old = dep.replica_status[0]["pid"]
    os.kill(_parent(old), signal.SIGKILL)  # the template that forked the replicas
    dep = deck.upgrade("iris-prod", "2.0.0", mode="full")
    assert (dep.status, dep.versions) == ("Running", ["2.0.0"]), dep.status_reason
    assert deck.predict(None, X, deployment="iris-prod").version == "2.0.0"
    assert old not in {r["pid"] for r in dep.replica_status}
    wait_for(lambda: not Path(f"/proc/{old}").exists() or "Z" in _state(old), timeout=30)  # drained and gone


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_stop_start_and_delete(deck: Any):
    deck.deploy("iris", "1.0.0", name="iris-prod", replicas=1)
    dep = deck.stop("iris-prod")
    assert (dep.status, dep.replica_status, dep.endpoint) == ("Stopped", [], None)
    with pytest.raises(InvalidParameter) as err:
        deck.predict(None, X, deployment="iris-prod")
    assert err.value.code == "Deployment.NotServing"
    assert deck.start("iris-prod").status == "Running"
    assert deck.predict(None, X, deployment="iris-prod").version == "1.0.0"
    deck.delete_deployment("iris-prod")
    with pytest.raises(NotFound) as err:
        deck.deployment("iris-prod")
    assert err.value.code == "Deployment.NotFound"


def test_a_restart_serves_what_served_and_finishes_what_was_being_deleted(tmp_path: Path):
    import sqlite3

    from sqlalchemy.engine import make_url

    settings = Settings(home=tmp_path / "home")
    first = deploy(settings)
    try:
        with md.connect(url=first.url, api_key=first.admin_key) as deck:
            deck.register("iris", examples.onnx_linear(tmp_path / "linear.onnx"), format="ONNX", progress=False)
            for name in ("kept", "gone"):
                deck.deploy("iris", name=name, replicas=1)
    finally:
        first.close()
    with sqlite3.connect(make_url(settings.database_url).database) as db:  # stopped while deleting `gone`
        db.execute("UPDATE deployments SET status = 'Deleting' WHERE name = 'gone'")
    second = deploy(settings)
    try:
        with md.connect(url=second.url, api_key=second.admin_key) as deck:
            wait_for(lambda: [(d.name, d.status) for d in deck.deployments()] == [("kept", "Running")], timeout=120)
            assert deck.predict(None, X, deployment="kept").raw["deployment"] == "kept"
            with pytest.raises(NotFound):
                deck.deployment("gone")
    finally:
        second.close()


def test_the_platform_route_predicts_through_the_replicas(deck: Any, deployment: Any):
    deck.deploy("iris", "1.0.0", name="iris-prod", replicas=2)
    answer = deployment.admin.ok("POST", "/api/v1/deployments/iris-prod/predict", json={"inputs": X})
    assert answer["version"] == "1.0.0" and answer["deployment"] == "iris-prod"
    bad = deployment.admin.post("/api/v1/deployments/iris-prod/predict", json={"nope": 1})
    assert bad.status_code == 400 and bad.json()["code"] == "InvalidParameter.Body"


def test_bad_requests_get_typed_errors(deck: Any):
    for kwargs, code in (
        ({"replicas": 0}, "InvalidParameter.Replicas"),
        ({"engine": "k8s"}, "InvalidParameter.engine"),
        ({"upgrade": "sideways"}, "InvalidParameter.upgrademode"),
        ({"upgrade": {"mode": "rolling", "max_unavailable": 2}, "replicas": 2}, "InvalidParameter.Upgrade"),
        ({"resources": {"gpus": 1}}, "InvalidParameter.Resources"),
        ({"name": "../x"}, "InvalidParameter.DeploymentName"),
    ):
        with pytest.raises(InvalidParameter) as err:
            deck.deploy("iris", "1.0.0", **{"name": "iris-prod", **kwargs})
        assert err.value.code == code and err.value.hint
    with pytest.raises(NotFound):
        deck.deploy("iris", "9.9.9", name="iris-prod")
    deck.deploy("iris", "1.0.0", name="iris-prod")
    with pytest.raises(Conflict) as err:
        deck.deploy("iris", "2.0.0", name="iris-prod")
    assert err.value.code == "Deployment.AlreadyExists"
    with pytest.raises(Conflict) as err:
        deck.rollback("iris-prod")
    assert err.value.code == "Deployment.NoPrevious"
    with pytest.raises(NotFound):
        deck.upgrade("iris-prod", "9.9.9")
    with pytest.raises(NotFound):
        deck.upgrade("nothing-here", "2.0.0")
    with pytest.raises(InvalidParameter):
        deck.predict("other-model", X, deployment="iris-prod")


def test_deploying_needs_the_deploy_grant_and_a_developer_role(deck: Any, deployment: Any):
    deck.create_workspace("team-b")
    viewer_key = deployment.subaccount("vera", {"default": "viewer", "team-b": "viewer"})
    dev_key = deployment.subaccount("dave", {"team-b": "developer"})
    deck.deploy("iris", "1.0.0", name="iris-prod")
    with md.connect(url=deployment.url, api_key=viewer_key, workspace="default") as as_viewer:
        with pytest.raises(AccessDenied):
            as_viewer.deploy("iris", "1.0.0", name="mine")
        with pytest.raises(AccessDenied):  # a viewer may not invoke: the replicas check that themselves
            as_viewer.predict(None, X, deployment="iris-prod")
    with md.connect(url=deployment.url, api_key=dev_key, workspace="team-b") as as_dev:
        with pytest.raises(ModelAccessDenied):
            as_dev.deploy("iris", "1.0.0", name="borrowed")
        deck.authorize("iris", "team-b", actions=["inference"])
        with pytest.raises(ModelAccessDenied) as err:
            as_dev.deploy("iris", "1.0.0", name="borrowed")
        assert "deploy" in err.value.hint
        deck.authorize("iris", "team-b", actions=["inference", "deploy"])
        dep = as_dev.deploy("iris", "1.0.0", name="borrowed")
        assert dep.status == "Running" and as_dev.predict(None, X, deployment="borrowed").version == "1.0.0"
        assert [d.name for d in as_dev.deployments()] == ["borrowed"]
        with pytest.raises(NotFound):  # another workspace's deployment is not visible
            as_dev.deployment("iris-prod")
        as_dev.delete_deployment("borrowed")


def test_the_cli_and_the_magic_deploy_upgrade_roll_back_and_stop(deck: Any, cli: Any, ip: Any):
    shown = cli("deploy", "iris", "--version", "1.0.0", "--name", "iris-prod", "--replicas", "1", "--json")
    assert json.loads(shown.stdout)[0]["status"] == "Running"
    assert json.loads(cli("upgrade", "iris-prod", "2.0.0", "--mode", "full", "--json").stdout)[0]["version"] == "2.0.0"
    listed = cli("deployments").stdout
    assert "name=iris-prod" in listed and "version=2.0.0" in listed and "status=Running" in listed
    assert magic(ip, "rollback iris-prod").version == "1.0.0"
    one = magic(ip, "deployments iris-prod")
    assert one.first(1)[0].name == "iris-prod" and "rolling_back" in [e.kind for e in one.list()[1:]]
    assert cli("stop", "iris-prod").returncode == 0 and deck.deployment("iris-prod").status == "Stopped"
    failed = cli("upgrade", "nothing", "2.0.0", ok=False)
    assert failed.returncode == 1 and "Deployment.NotFound" in failed.stderr


def test_the_platform_and_a_local_deployment_never_import_ray(tmp_path: Path):
    """Ray loads only for a deployment on the ray engine: checked in a fresh interpreter."""
    script = f"""
import sys
import modeldeck as md
from modeldeck import examples
from modeldeck.platform import Platform, PlatformServer, Settings
assert "ray" not in sys.modules
platform = Platform(Settings(home={str(tmp_path / "home")!r}))
with PlatformServer(platform) as server, md.connect(url=server.url, api_key=platform.admin_key()) as deck:
    deck.register("iris", examples.onnx_linear({str(tmp_path / "m.onnx")!r}), format="ONNX", progress=False)
    assert deck.deploy("iris", name="iris-prod").status == "Running"
    assert deck.predict(None, {X!r}, deployment="iris-prod").version
    deck.delete_deployment("iris-prod")
platform.close()
print("ray" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_tritonclient_runs_unmodified_against_a_deployment(deck: Any, deployment: Any):
    """The Open Inference Protocol (V2) on the replicas: health, metadata, infer in JSON and binary tensors."""
    httpclient = pytest.importorskip("tritonclient.http")
    dep = deck.deploy("iris", "1.0.0", name="iris-prod", replicas=2)
    auth = {"Authorization": f"Bearer {deployment.admin_key}"}
    client = httpclient.InferenceServerClient(url=dep.endpoint.removeprefix("http://"))
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("iris-prod", headers=auth)
        meta = client.get_model_metadata("iris-prod", headers=auth)
        assert meta["versions"] == ["1.0.0"] and meta["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]
        for binary in (False, True):
            tensor = httpclient.InferInput("X", [1, 4], "FP32")
            tensor.set_data_from_numpy(np.asarray(X, dtype=np.float32), binary_data=binary)
            result = client.infer("iris-prod", [tensor], headers=auth)
            assert result.as_numpy("logits")[0] == pytest.approx(outputs(deck, "1.0.0"), rel=1e-6)
            assert result.get_response()["model_version"] == "1.0.0"
        from tritonclient.utils import InferenceServerException

        with pytest.raises(InferenceServerException):  # no key: the replica refuses, as predict does
            client.infer("iris-prod", [tensor])
        with pytest.raises(InferenceServerException):
            client.get_model_metadata("other-model", headers=auth)
    finally:
        client.close()
