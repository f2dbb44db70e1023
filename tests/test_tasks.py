"""Asynchronous tasks over real HTTP: submit, poll, cancel, list; typed failures; isolation; expiry; restarts."""

from __future__ import annotations

import re

import secrets
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from conftest import Api, Deployment, deploy, wait_for
from modeldeck import examples, transfer
from modeldeck.platform import Platform, PlatformServer, Settings
from modeldeck.platform.db import Store
from modeldeck.platform.ids import utcnow
from modeldeck.platform.schema import Task, Workspace
from modeldeck.platform.tasks import INTERRUPTED, process_start, this_process

X, _ = examples.tabular_data(n=8, seed=1)
FINISHED = {"SUCCEEDED", "FAILED", "CANCELED"}


def register_linear(api: Api, tmp_path: Path) -> None:
    artifact = transfer.upload_artifact(api, examples.onnx_linear(tmp_path / "linear.onnx"))
    api.ok("POST", "/api/v1/models", json={"model_name": "linear"})
    api.ok("POST", "/api/v1/models/linear/versions", json={"uri": artifact["uri"], "format_type": "ONNX"})


def submit(api: Api, kind: str = "predict", input: dict | None = None, **extra: Any) -> dict:
    r = api.post("/api/v1/tasks", json={"kind": kind, "model": "linear", "input": input or {}, **extra})
    assert r.status_code == 202, r.text
    return r.json()


def poll(api: Api, task_id: str, until: set[str] = FINISHED, check: Any = None) -> dict:
    """GET the task until its status is in `until` (and `check(task)` holds)."""
    seen: dict = {}

    def ready() -> bool:
        seen.update(api.ok("GET", f"/api/v1/tasks/{task_id}"))
        return seen["status"] in until and (check is None or check(seen))

    wait_for(ready, timeout=30)
    return seen


def sleeper(platform, caller, request, progress, cancelled) -> dict:
    """A test-only slow job: small steps, reporting progress, returning early once cancelled."""
    steps = request["input"].get("steps", 600)
    for i in range(steps):
        if cancelled.wait(0.02):
            return {}
        progress((i + 1) / steps)
    return {"steps": steps}


def boom(platform, caller, request, progress, cancelled) -> dict:
    raise RuntimeError("SECRET-INTERNAL-DETAIL")


def rows(store: Store) -> dict[str, Task]:
    with store.read() as db:
        return {t.id: t for t in db.scalars(select(Task))}


def test_a_predict_task_gives_the_synchronous_result(store_deployment: Deployment, tmp_path: Path):
    api = store_deployment.admin
    register_linear(api, tmp_path)
    body = {"inputs": {"X": X.tolist()}}
    expected = api.ok("POST", "/api/v1/models/linear/predict", json=body)

    with store_deployment.client() as gone:  # the submitting client leaves; the task runs on
        accepted = submit(gone, input=body, version="0.1.0")
    assert accepted["status"] == "PENDING" and accepted["id"].startswith("task-") and accepted["result"] is None
    assert not re.search(r"sk-[A-Za-z0-9]{24,}", accepted["id"])  # ids never look like keys to secret scanners
    done = poll(api, accepted["id"])
    assert done["status"] == "SUCCEEDED", done
    assert done["result"] == expected and done["error"] is None and done["progress"] == 1.0
    assert done["model"] == "linear" and done["version"] == "0.1.0" and done["kind"] == "predict"
    created, started, finished, expires = (
        datetime.fromisoformat(done[k]) for k in ("created_at", "started_at", "finished_at", "expires_at")
    )
    assert created <= started <= finished and expires - finished == timedelta(hours=24)
    # the single-input shorthand the native endpoint takes works under "input" too
    short = poll(api, submit(api, input={"inputs": X.tolist()})["id"])
    assert short["result"]["outputs"] == expected["outputs"]

    ids = [accepted["id"], short["id"], submit(api, input=body)["id"]]
    poll(api, ids[-1])
    first = api.ok("GET", "/api/v1/tasks", params={"limit": 2})
    second = api.ok("GET", "/api/v1/tasks", params={"limit": 2, "cursor": first["next_cursor"]})
    listed = [t["id"] for t in first["items"] + second["items"]]
    assert listed == ids[::-1] and second["next_cursor"] is None  # newest first
    assert "result" not in first["items"][0]
    assert [t["id"] for t in api.ok("GET", "/api/v1/tasks", params={"status": "succeeded"})["items"]] == ids[::-1]
    assert api.ok("GET", "/api/v1/tasks", params={"status": "RUNNING"})["items"] == []
    assert api.get("/api/v1/tasks", params={"status": "DONE"}).json()["code"] == "InvalidParameter.Status"


def test_a_slow_task_shows_progress_and_can_be_canceled(store_deployment: Deployment, tmp_path: Path):
    store_deployment.platform.tasks.register("sleep", sleeper)
    api = store_deployment.admin
    register_linear(api, tmp_path)
    task = submit(api, "sleep")
    running = poll(api, task["id"], {"RUNNING"}, check=lambda t: (t["progress"] or 0) > 0)
    assert 0 < running["progress"] < 1 and running["started_at"]

    asked = api.ok("POST", f"/api/v1/tasks/{task['id']}/cancel")
    assert asked["status"] == "CANCELED" or (asked["status"] == "RUNNING" and asked["cancel_requested"])
    done = poll(api, task["id"])
    assert done["status"] == "CANCELED" and done["result"] is None and done["finished_at"]
    again = api.post(f"/api/v1/tasks/{task['id']}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "Task.AlreadyFinished"
    assert "CANCELED" in again.json()["message"] and again.json()["hint"]


def test_a_pending_task_is_canceled_at_once(deployment: Deployment, tmp_path: Path):
    deployment.platform.tasks.register("sleep", sleeper)
    api = deployment.admin
    register_linear(api, tmp_path)
    busy = [submit(api, "sleep")["id"] for _ in range(2)]  # both workers
    for task_id in busy:
        poll(api, task_id, {"RUNNING"})
    queued = submit(api, "predict", {"inputs": {"X": X.tolist()}})
    canceled = api.ok("POST", f"/api/v1/tasks/{queued['id']}/cancel")
    assert canceled["status"] == "CANCELED" and canceled["finished_at"]
    for task_id in busy:
        api.ok("POST", f"/api/v1/tasks/{task_id}/cancel")
        assert poll(api, task_id)["status"] == "CANCELED"
    after = api.ok("GET", f"/api/v1/tasks/{queued['id']}")
    assert after["status"] == "CANCELED" and after["started_at"] is None  # it never ran


def test_failures_are_typed_and_never_echo_inputs(deployment: Deployment, tmp_path: Path):
    deployment.platform.tasks.register("boom", boom)
    api = deployment.admin
    register_linear(api, tmp_path)
    sentinel = 987654.125
    for bad in ({"inputs": {"X": [[sentinel, 1.0, 2.0]]}}, {"inputs": {"X": [[sentinel, "SECRET-INPUT-TEXT", 1, 2]]}}):
        done = poll(api, submit(api, input=bad)["id"])
        assert done["status"] == "FAILED" and done["result"] is None
        sync = api.post("/api/v1/models/linear/predict", json=bad).json()
        assert done["error"] == {k: sync[k] for k in ("code", "message", "hint")} and done["error"]["hint"]
        text = str(done["error"])
        assert "987654" not in text and "SECRET-INPUT-TEXT" not in text and "Traceback" not in text

    crashed = poll(api, submit(api, "boom")["id"])
    assert crashed["error"]["code"] == "InternalError" and "SECRET-INTERNAL-DETAIL" not in str(crashed)

    # refused at submit, and no task is created
    before = len(api.ok("GET", "/api/v1/tasks")["items"])
    malformed = api.post("/api/v1/tasks", json={"model": "linear", "input": {"nope": [[sentinel]]}})
    assert malformed.status_code == 400 and malformed.json()["code"] == "InvalidParameter.Body"
    unknown = api.post("/api/v1/tasks", json={"kind": "train", "model": "linear", "input": {}})
    assert unknown.status_code == 400 and unknown.json()["code"] == "InvalidParameter.Kind"
    missing = api.post("/api/v1/tasks", json={"model": "nope", "input": {}})
    assert missing.status_code == 404 and missing.json()["code"] == "Model.NotFound"
    assert len(api.ok("GET", "/api/v1/tasks")["items"]) == before


def test_access_is_checked_at_submit(deployment: Deployment, tmp_path: Path):
    api = deployment.admin
    register_linear(api, tmp_path)
    api.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    bob = deployment.client(deployment.subaccount("bob", {"team-b": "developer"}), "team-b")
    body = {"model": "linear", "input": {"inputs": {"X": X.tolist()}}}
    denied = bob.post("/api/v1/tasks", json=body)
    assert denied.status_code == 403 and denied.json()["code"] == "Model.AccessDenied"
    assert bob.ok("GET", "/api/v1/tasks")["items"] == []
    viewer = deployment.client(deployment.subaccount("vera", {"default": "viewer"}), "default")
    assert viewer.post("/api/v1/tasks", json=body).json()["code"] == "AccessDenied"

    api.ok("PUT", "/api/v1/models/linear/grants/team-b", json={"actions": ["inference"]})
    assert poll(bob, submit(bob, input=body["input"])["id"])["status"] == "SUCCEEDED"


def test_tasks_belong_to_their_workspace(deployment: Deployment, tmp_path: Path):
    api = deployment.admin
    register_linear(api, tmp_path)
    api.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    other = deployment.client(workspace="team-b")
    task = poll(api, submit(api, input={"inputs": {"X": X.tolist()}})["id"])
    missing = other.get("/api/v1/tasks/task-00000000000000000000")
    for r in (other.get(f"/api/v1/tasks/{task['id']}"), other.post(f"/api/v1/tasks/{task['id']}/cancel"), missing):
        assert r.status_code == 404 and r.json()["code"] == "Task.NotFound"
        assert r.json()["hint"] == missing.json()["hint"]
    assert other.ok("GET", "/api/v1/tasks")["items"] == []
    assert [t["id"] for t in api.ok("GET", "/api/v1/tasks")["items"]] == [task["id"]]


def test_finished_tasks_expire(deployment: Deployment, tmp_path: Path):
    api = deployment.admin
    register_linear(api, tmp_path)
    body = {"inputs": {"X": X.tolist()}}
    kept = poll(api, submit(api, input=body)["id"])
    assert kept["expires_at"] > kept["finished_at"]
    missing = api.get("/api/v1/tasks/task-00000000000000000000").json()
    assert "24 hours" in missing["hint"]

    deployment.platform.task_ttl = timedelta(seconds=1)
    gone = submit(api, input=body)["id"]
    wait_for(lambda: api.get(f"/api/v1/tasks/{gone}").status_code == 404, timeout=30)
    r = api.get(f"/api/v1/tasks/{gone}")
    assert r.json()["code"] == "Task.NotFound" and "1 second" in r.json()["hint"]
    assert [t["id"] for t in api.ok("GET", "/api/v1/tasks")["items"]] == [kept["id"]]
    deployment.platform.tasks.sweep()
    assert set(rows(deployment.platform.store)) == {kept["id"]}  # the expired row is deleted


def test_closing_a_platform_fails_its_unfinished_tasks(tmp_path: Path):
    dep = deploy(Settings(home=tmp_path / "home"))
    try:
        dep.platform.tasks.register("sleep", sleeper)
        register_linear(dep.admin, tmp_path)
        ids = [submit(dep.admin, "sleep")["id"] for _ in range(3)]  # two run, one waits
        poll(dep.admin, ids[0], {"RUNNING"})
    finally:
        dep.close()
    store = Store(Settings(home=tmp_path / "home").database_url)
    assert {t.status for t in rows(store).values()} == {"FAILED"}
    assert all(t.error == INTERRUPTED for t in rows(store).values())
    store.dispose()


def _task(workspace_id: str, runner: str, status: str = "RUNNING", age: float = 0.0) -> Task:
    now = utcnow()
    beat = now - timedelta(seconds=age)
    return Task(
        id=f"task-{secrets.token_hex(12)}", workspace_id=workspace_id, account_id="acc", kind="predict",
        model_ref="linear", version=None, request={}, status=status, runner=runner, heartbeat_at=beat,
        created_at=beat, started_at=beat if status == "RUNNING" else None, cancel_requested=False,
    )  # fmt: skip


def test_a_restart_fails_the_tasks_of_processes_that_are_gone(tmp_path: Path):
    home = tmp_path / "home"
    server = subprocess.Popen(
        [sys.executable, "-m", "modeldeck", "serve", "--home", str(home), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        url = server.stdout.readline().split("serving on ")[1].strip()
        key = (home / "admin.key").read_text().strip()
        store = Store(Settings(home=home).database_url)
        with store.read() as db:
            ws = db.scalar(select(Workspace.id).where(Workspace.is_default.is_(True)))
        host, _, boot, _ = this_process().rsplit(":", 3)
        # Rows as the server process would write them while running a job, and rows of another host.
        of_server = f"{host}:{server.pid}:{boot}:{process_start(server.pid)}"
        tasks = {
            "server-running": _task(ws, of_server),
            "server-pending": _task(ws, of_server, "PENDING"),
            "remote-stale": _task(ws, "elsewhere:4242:other-boot:1", age=120),
            "remote-live": _task(ws, "elsewhere:4242:other-boot:1"),
        }
        with store.write() as db:
            db.add_all(tasks.values())
        ids = {name: t.id for name, t in tasks.items()}
        with Api(url, key) as api:  # the server is alive: its tasks are left alone
            assert api.ok("GET", f"/api/v1/tasks/{ids['server-running']}")["status"] == "RUNNING"
    finally:
        server.send_signal(signal.SIGKILL)  # dies without any cleanup
        server.wait(30)
        server.stdout.close()

    platform = Platform(Settings(home=home))
    try:
        after = rows(store)
        for name in ("server-running", "server-pending", "remote-stale"):
            assert after[ids[name]].status == "FAILED" and after[ids[name]].error == INTERRUPTED, name
        assert after[ids["remote-live"]].status == "RUNNING"
        # a remote runner that stops heartbeating is failed by the next reader
        with store.write() as db:
            db.execute(
                update(Task).where(Task.id == ids["remote-live"]).values(heartbeat_at=utcnow() - timedelta(minutes=2))
            )
        with PlatformServer(platform) as srv, Api(srv.url, key) as api:
            got = api.ok("GET", f"/api/v1/tasks/{ids['remote-live']}")
            assert got["status"] == "FAILED" and got["error"] == INTERRUPTED and got["finished_at"]
            listed = api.ok("GET", "/api/v1/tasks")["items"]
            assert {t["status"] for t in listed} == {"FAILED"} and len(listed) == 4
    finally:
        platform.close()
        store.dispose()
