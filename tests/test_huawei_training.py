"""Training states on versions a training job produced: the ModelArts facade answers the unmodified
`huaweicloudsdkmodelarts`' ShowTrainingJobDetails for the jobs the platform's versions came from (and for
no other), the `huawei` provider shows each version's job state in the console's six words, every
ModelArts phase mapped against a loopback server answering cloud-shaped bodies, and its request equals
the SDK's on the wire.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from conftest import Deployment, wait_for
from fixtures.wire_recorder import Captured, Recorder, Reply, Route
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkmodelarts.v1 import model as ma
from test_huawei_modelarts import client, pair_of, server  # noqa: F401  (this module's own server)
from test_huawei_provider import keys, no_huawei_environment, profile, signing_as, wire  # noqa: F401  (fixtures)

import modeldeck as md
from modeldeck.examples import onnx_linear
from modeldeck.providers import huawei
from modeldeck.state import DeckState

JOB = "3f2c7a4e-9b1d-4c55-8e0f-2a6b1c9d7e10"  # a ModelArts training job id is a UUID
PROJECT, AK, SK = "c" * 32, "AKTRAIN123", "SKTRAIN456"


@pytest.fixture(scope="module")
def registered(server: Deployment, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`iris` 1.0.0 registered from training job JOB, 1.1.0 from no job, in the default workspace."""
    checkpoint = onnx_linear(Path(tmp_path_factory.mktemp("training")) / "iris.onnx")
    with md.connect(url=server.url, api_key=server.admin_key) as deck:
        deck.register("iris", checkpoint, version="1.0.0", source_type="TrainingService", source_id=JOB, progress=False)
        deck.register("iris", checkpoint, version="1.1.0", progress=False)
    return {"job": JOB}


def sdk_for(server: Deployment, key: str):  # type: ignore[no-untyped-def]
    from test_huawei_iam import token_for

    project = token_for(server.url, "main", server.admin_key).token.project.id
    return client(server.url, *pair_of(server, key), project)


def test_the_sdk_reads_a_job_a_version_came_from_and_no_other(server: Deployment, keys: dict, registered: dict):
    main = sdk_for(server, keys["main"])
    job = main.show_training_job_details(ma.ShowTrainingJobDetailsRequest(training_job_id=JOB))
    assert job.status_code == 200 and job.kind == "job"
    assert (job.metadata.id, job.metadata.workspace_id) == (JOB, "0")
    assert (job.status.phase, job.status.secondary_phase) == ("Completed", "Completed")
    assert job.metadata.user_name == server.admin.ok("GET", "/api/v1/whoami")["account"]["name"]
    with pytest.raises(ClientRequestException) as unknown:  # the platform runs no jobs: none is made up
        main.show_training_job_details(ma.ShowTrainingJobDetailsRequest(training_job_id="job-never-run"))
    assert (unknown.value.status_code, unknown.value.error_code) == (404, "ModelArts.0102")
    assert "source_id" in unknown.value.error_msg and unknown.value.request_id
    outsider = sdk_for(server, keys["carol"])  # strict mode: no member of the default workspace
    with pytest.raises(ClientRequestException) as hidden:
        outsider.show_training_job_details(ma.ShowTrainingJobDetailsRequest(training_job_id=JOB))
    assert hidden.value.status_code == 404


def test_the_provider_shows_the_job_state_of_a_version_and_registers_one_from_a_job(
        server: Deployment, keys: dict, registered: dict, monkeypatch: pytest.MonkeyPatch):  # fmt: skip
    signing_as(monkeypatch, server, keys["main"])
    with md.connect(profile(server.url, name="hw-train")) as deck:
        trained, plain = sorted(deck.versions("iris"), key=lambda v: v.version_name)
        assert (trained.source_type, trained.source_id, trained.training_state) == ("TrainingService", JOB, "completed")
        assert (plain.source_id, plain.training_state) == (None, None)
        assert deck.version("iris", "1.0.0").training_state == "completed"
        shown = repr(deck.versions("iris"))
        assert "training_state='completed'" in shown and shown.count("training_state") == 1
        assert "<th style='text-align:left'>training_state</th>" in deck.versions("iris")._repr_html_()
        state = DeckState(deck)  # the panel's versions pane reads the same field
        try:
            state.run("refresh")
            state.run("select", model="iris")
            wait_for(lambda: len(state.versions) == 2, timeout=30)
            assert {v["version_name"]: v["training_state"] for v in state.versions} == {"1.0.0": "completed", "1.1.0": None}
        finally:
            state.close()
        huawei.agency(deck, delegate_to="all")  # ModelArts reads OBS through it
        made = deck.register("resnet", "obs://models/ckpt/model.pt", version="1.0.0", framework="pytorch",
                             source_type="TrainingService", source_id="job-7")  # fmt: skip
    listed = subprocess.run([sys.executable, "-m", "modeldeck", "--profile", "hw-train", "versions", "iris", "--json"],
                            capture_output=True, text=True, timeout=120, check=False)  # the CLI, as a user runs it
    assert listed.returncode == 0, listed.stderr
    rows = {r["version_name"]: r.get("training_state") for r in json.loads(listed.stdout)}
    assert rows == {"1.0.0": "completed", "1.1.0": None}
    native = server.admin.ok("GET", f"/api/v1/models/resnet/versions/{made.version_name}")
    assert (native["source_type"], native["source_id"]) == ("TrainingService", "job-7")
    assert made.training_state == "completed"


# ---- every ModelArts phase, from a loopback server answering the cloud's shapes ------------------------

PHASES = {"Creating": "training", "Pending": "training", "Running": "training", "Completed": "completed",
          "Failed": "failed", "Terminating": "stopping", "Terminated": "stopped", "Abnormal": "abnormal"}  # fmt: skip


def model_record(version: str, job: str | None) -> dict:
    """A ListModels item as ModelArts answers it (OTC API reference, "Querying a Model List")."""
    item = {"model_id": f"m-{version}", "model_name": "bert", "model_version": version, "model_type": "PyTorch",
            "model_status": "published", "model_source": "custom", "source_type": "", "workspace_id": "0",
            "source_location": f"obs://models/bert/{version}/", "create_at": 1700000000000, "description": ""}  # fmt: skip
    return {**item, "source_job_id": job} if job else item


def job_record(job: str, phase: str) -> dict:
    """ShowTrainingJobDetails as the cloud answers it (the SDK's ShowTrainingJobDetailsResponse fields)."""
    return {"kind": "job",
            "metadata": {"id": job, "name": f"train-{phase.lower()}", "workspace_id": "0", "description": "",
                         "create_time": 1700000000000, "user_name": "ops"},
            "status": {"phase": phase, "secondary_phase": "Queuing" if phase == "Pending" else phase,
                       "duration": 120000, "start_time": 1700000060000, "tasks": ["worker-0"]},
            "algorithm": {"id": "alg-1", "engine": {"engine_name": "PyTorch", "engine_version": "2.1"}},
            "spec": {"resource": {"flavor_id": "modelarts.vm.cpu.8u", "node_count": 1}}}  # fmt: skip


def cloud_reply(req: Captured) -> Reply:
    if req.path.endswith("/models"):
        items = [model_record(f"1.{i}.0", f"job-{p.lower()}") for i, p in enumerate(PHASES)]
        items += [model_record("2.0.0", "job-running"), model_record("2.1.0", "job-deleted"), model_record("3.0.0", None)]
        wanted = dict(parse_qsl(urlsplit(req.target).query)).get("model_version")
        items = [i for i in items if wanted in (None, i["model_version"])]
        return Reply(200, {"Content-Type": "application/json"}, json.dumps({"total_count": len(items), "count": len(items),
                                                                           "models": items}).encode())  # fmt: skip
    if "/training-jobs/" in req.path:
        job = req.path.rsplit("/", 1)[1]
        phase = next((p for p in PHASES if f"job-{p.lower()}" == job), None)
        if phase is None:
            return Reply(404, {"Content-Type": "application/json", "X-Request-Id": "req-1"},
                         b'{"error_code": "ModelArts.2762", "error_msg": "The training job does not exist."}')  # fmt: skip
        return Reply(200, {"Content-Type": "application/json"}, json.dumps(job_record(job, phase)).encode())
    return Reply(200, {"Content-Type": "application/json"}, b'{"domain_id": "d", "mode": "strict"}')


def cloud_profile(monkeypatch: pytest.MonkeyPatch, url: str) -> str:
    for name, value in (("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", SK), ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)):
        monkeypatch.setenv(name, value)
    return profile(url, name="hw-cloud")


def test_every_phase_maps_to_the_consoles_state(monkeypatch: pytest.MonkeyPatch):
    with Recorder([Route("*", r"/.*", handler=cloud_reply)]) as rec:
        with md.connect(cloud_profile(monkeypatch, rec.url)) as deck:
            rec.requests.clear()
            states = {v.version_name: v.training_state for v in deck.versions("bert")}
        asked = [r.path for r in rec.requests if "/training-jobs/" in r.path]
    assert states == {**{f"1.{i}.0": s for i, s in enumerate(PHASES.values())},
                      "2.0.0": "training", "2.1.0": None, "3.0.0": None}  # fmt: skip
    assert len(asked) == len(set(asked)) == len(PHASES) + 1, "each job is asked once, however many versions it made"


def test_the_training_job_request_equals_the_sdks(monkeypatch: pytest.MonkeyPatch):
    with Recorder([Route("*", r"/.*", handler=cloud_reply)]) as rec:
        client(rec.url, AK, SK, PROJECT).show_training_job_details(
            ma.ShowTrainingJobDetailsRequest(training_job_id="job-running"))  # fmt: skip
        theirs = wire(rec.requests[-1])
        with md.connect(cloud_profile(monkeypatch, rec.url)) as deck:
            assert deck.version("bert", "2.0.0").training_state == "training"
        ours = [wire(r) for r in rec.requests if "/training-jobs/" in r.path][-1]
    assert ours == theirs and theirs["path"] == f"/v2/{PROJECT}/training-jobs/job-running"
