"""Deployments in the workspace named by the X-ModelDeck-Workspace header: create, read, change, call.

Changes answer 202 at once with the deployment in its new status (Creating, Upgrading, RollingBack,
Deleting); `GET /{name}?wait=N` returns as soon as the change is done (or after N seconds).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict

from ...errors import Conflict, ServerError
from ..deployments import Command
from ..deployments import service
from ..pagination import PageRequest
from ..schema import Deployment, DeploymentEvent, Model
from .deps import CallerDep, PlatformDep
from .routing import Router

router = Router(prefix="/api/v1/deployments", tags=["deployments"], strict_query=True)
MAX_WAIT = 60.0


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Any = None
    model: Any = None
    version: Any = None
    replicas: Any = 1
    engine: Any = None
    resources: Any = None
    upgrade: Any = None


class UpgradeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Any = None
    mode: Any = None


def deployment_json(platform: Any, db: Any, row: Deployment) -> dict[str, Any]:
    live = platform.deployments.live(row.id)
    model = db.get(Model, row.model_id)
    return {
        "id": row.id, "name": row.name, "workspace_id": row.workspace_id, "model_id": row.model_id,
        "model_name": model.model_name if model else None, "version": row.version,
        "previous_version": row.previous_version,
        "versions": sorted({r["version"] for r in live["replicas"]}), "replicas": row.replicas,
        "resources": row.resources, "engine": row.engine, "upgrade": row.upgrade, "status": row.status,
        "status_reason": row.status_reason, "endpoint": live["endpoint"], "replica_status": live["replicas"],
        "created_by": row.created_by, "created_at": row.created_at, "updated_at": row.updated_at,
    }  # fmt: skip


def event_json(row: DeploymentEvent) -> dict[str, Any]:
    return {"seq": row.seq, "at": row.at, "actor": row.actor, "kind": row.kind, "message": row.message,
            "changes": row.changes, "reason": row.reason}  # fmt: skip


def _answer(platform: Any, dep_id: str) -> dict[str, Any]:
    with platform.store.read() as db:
        return deployment_json(platform, db, db.get_one(Deployment, dep_id))


@router.post("", status_code=201)
def create(platform: PlatformDep, caller: CallerDep, body: DeploymentCreate) -> dict[str, Any]:
    with platform.store.write() as db:
        row = service.create(db, caller, body.model_dump())
    platform.deployments.command(row.id, Command("start", caller.principal.account_name))
    return _answer(platform, row.id)


@router.get("")
def listing(platform: PlatformDep, caller: CallerDep, limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
    with platform.store.read() as db:
        rows, nxt = service.listing(db, caller, PageRequest(platform.cursors, limit, cursor))
        return {"items": [deployment_json(platform, db, r) for r in rows], "next_cursor": nxt}


@router.get("/{name}")
def get(platform: PlatformDep, caller: CallerDep, name: str, wait: float = 0) -> dict[str, Any]:
    """`wait`: up to this many seconds (at most 60) for a change under way to finish."""
    with platform.store.read() as db:
        dep_id = service.find(db, caller, name).id
    if wait > 0:
        platform.deployments.wait(dep_id, min(wait, MAX_WAIT))
    with platform.store.read() as db:
        return deployment_json(platform, db, service.find(db, caller, name))


@router.post("/{name}/upgrade", status_code=202)
def upgrade(platform: PlatformDep, caller: CallerDep, name: str, body: UpgradeRequest) -> dict[str, Any]:
    with platform.store.write() as db:
        row, before = service.request_upgrade(db, caller, name, body.version, body.mode)
    platform.deployments.command(row.id, Command("upgrade", caller.principal.account_name, before))
    return _answer(platform, row.id)


@router.post("/{name}/rollback", status_code=202)
def rollback(platform: PlatformDep, caller: CallerDep, name: str) -> dict[str, Any]:
    with platform.store.write() as db:
        row, before = service.request_rollback(db, caller, name)
    platform.deployments.command(row.id, Command("upgrade", caller.principal.account_name, before))
    return _answer(platform, row.id)


@router.post("/{name}/stop")
def stop(platform: PlatformDep, caller: CallerDep, name: str) -> dict[str, Any]:
    """Drains every replica (requests in flight finish) and answers once they are gone."""
    with platform.store.write() as db:
        row = service.request_stop(db, caller, name)
    command = Command("stop", caller.principal.account_name)
    platform.deployments.command(row.id, command)
    command.done.wait(MAX_WAIT)
    return _answer(platform, row.id)


@router.post("/{name}/start", status_code=202)
def start(platform: PlatformDep, caller: CallerDep, name: str) -> dict[str, Any]:
    with platform.store.write() as db:
        row = service.request_start(db, caller, name)
    platform.deployments.command(row.id, Command("start", caller.principal.account_name))
    return _answer(platform, row.id)


@router.delete("/{name}", status_code=202)
def delete(platform: PlatformDep, caller: CallerDep, name: str) -> dict[str, Any]:
    """Stops the replicas, then deletes the deployment and its events; GET answers 404 once it is gone."""
    with platform.store.write() as db:
        row = service.request_delete(db, caller, name)
        answer = deployment_json(platform, db, row)  # read now: the row may be gone by the time we answer
    platform.deployments.command(row.id, Command("delete", caller.principal.account_name))
    return answer


@router.get("/{name}/events")
def events(platform: PlatformDep, caller: CallerDep, name: str, limit: int | None = None,
           cursor: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Newest first: who changed what, when, and why a change failed."""
    with platform.store.read() as db:
        rows, nxt = service.events(db, caller, name, PageRequest(platform.cursors, limit, cursor))
        return {"items": [event_json(r) for r in rows], "next_cursor": nxt}


@router.get("/{name}/export")
def export(platform: PlatformDep, caller: CallerDep, name: str, format: str | None = None,
           storage_uri: str | None = None, model_path: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The deployment written out for KServe, Triton, vLLM or Ray Serve: texts, and the version's files
    (each with the artifact it is fetched from)."""
    from ..deployments import controller, exports
    from ..registry import Artifact

    fmt = exports.check(format, storage_uri, model_path)
    with platform.store.read() as db:
        row = service.find(db, caller, name)
        model_name = db.get_one(Model, row.model_id).model_name
    served = controller.served(platform, row, row.version)
    with platform.store.read() as db:
        files = db.get_one(Artifact, (served.target.owner_workspace_id, served.target.artifact_digest)).files
    runtime = None
    if fmt == "triton" and served.target.format_type == "ONNX":
        from .. import runtimes

        runtime = runtimes.load_runtime(served.folder, "ONNX", entry=served.target.entry)
    return exports.export(row, model_name, served.target, files, runtime, fmt, storage_uri, model_path)


@router.post("/{name}/predict")
async def predict(platform: PlatformDep, caller: CallerDep, request: Request, name: str) -> Response:
    """Predict through the platform, for callers that cannot reach the deployment's endpoint: one more hop.

    Clients that can reach it (`endpoint` in the deployment) send `POST {endpoint}/predict` directly."""
    caller.require("invoke")

    def find() -> Deployment:
        with platform.store.read() as db:
            return service.find(db, caller, name)

    row = await run_in_threadpool(find)
    return await forward_predict(request, row, await request.body(), request.headers.get("authorization", ""))


async def forward_predict(request: Request, row: Deployment, body: bytes, authorization: str) -> Response:
    """Send a predict to the deployment's replicas with `authorization` (they check it themselves) and
    answer what they answered; shared by this route and the EAS facade."""
    endpoint = request.app.state.platform.deployments.live(row.id)["endpoint"]
    if endpoint is None:
        raise Conflict(f"Deployment '{row.name}' is {row.status} and has no replica serving.",
                       code="Deployment.NotServing", hint="Start it, or wait until it is Running.")  # fmt: skip
    import httpx

    client = _client(request)
    try:
        answer = await client.post(f"{endpoint}/predict", content=body,
                                   headers={"Authorization": authorization, "Content-Type": "application/json"})  # fmt: skip
    except httpx.HTTPError as exc:
        raise ServerError(f"The deployment's replicas could not be reached ({type(exc).__name__}).",
                          code="Deployment.Unreachable", status=503, hint="Retry; replicas are restarted.") from None  # fmt: skip
    keep = {k: v for k, v in answer.headers.items() if k in ("content-type", "x-modeldeck-replica")}
    return Response(answer.content, status_code=answer.status_code, headers=keep)


def _client(request: Request) -> Any:
    import httpx

    state = request.app.state
    if getattr(state, "deployment_client", None) is None:
        state.deployment_client = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0), follow_redirects=False)
    return state.deployment_client
