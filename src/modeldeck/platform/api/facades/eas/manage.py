"""EAS service management (eas 2021-07-01) over the platform's deployments: CreateService, UpdateService,
UpdateServiceVersion, StopService, StartService, DeleteService and ListServiceVersions, as
`alibabacloud-eas20210701` sends them (ACS3-signed). Each goes through the native deployment routes with a
caller in the service's workspace, so the rules are the platform's: `deploy` in the workspace and the
`deploy` action on the model (owned, or granted for deploy).

- CreateService: the spec (`spec.py`) in the workspace `WorkspaceId` names (PAI's numeric id, the
  platform's id or its name; the default workspace for the main account without one). `model_path` is the
  `Uri` of a registered model version; `Labels` `model` and `version` pick one when several share that Uri.
- UpdateService: the spec merged into the current one (`UpdateType=replace`: instead of it) is a new EAS
  version, rolled out as an upgrade of the deployment to the version its `model_path` names, fully or
  rolling per `metadata.rolling_strategy` (the service's own when left out). The instance count and
  resources stay what they are (scaling is not served here).
- UpdateServiceVersion: back (or forth) to an EAS version: the platform's rollback when it is the version
  the last upgrade replaced, else an upgrade to the model version it served.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .....errors import WorkspaceAccessDenied
from .....providers.alibaba.eas import PROCESSORS, upgrade_mode
from ....authz import Caller, Principal, enter
from ....ids import utcnow
from ....schema import Deployment, Model, ModelVersion
from ....wirejson import parse_json
from ... import routes_deployments
from ...deps import PrincipalDep
from ...errors import request_id
from ...routing import Router
from ..aiworkspace.ids import platform_workspace_id
from . import spec, versions
from .services import REGION, STATUSES, PageQuery, SizeQuery, endpoint, find_service

router = Router(tags=["eas"])
SERVICE = "/api/v2/services/{cluster_id}/{service_name}"


def _workspace(db: Session, principal: Principal, workspace: str | None) -> Caller:
    """The caller in the workspace `WorkspaceId` names."""
    if not workspace and not principal.is_main:
        raise WorkspaceAccessDenied("A RAM user's service must name its workspace; this request named none.",
                                    hint="Pass WorkspaceId (the PAI workspace's id, or the platform's workspace id or name).")  # fmt: skip
    return enter(db, principal, platform_workspace_id(workspace) if workspace and workspace.strip().isdigit() else workspace)


def _labels(raw: str | None) -> dict[str, str]:
    """CreateService's `Labels`, a JSON object of strings (as the SDK sends the map)."""
    try:
        labels = json.loads(raw) if raw else {}
    except ValueError:
        labels = None
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise spec.invalid("Labels must be a JSON object of strings.", 'Send Labels={"model": "iris", "version": "1.0.0"}.')
    return labels


def _registered(db: Session, caller: Caller, model_path: str, labels: dict[str, str],
                model_id: str | None = None) -> tuple[str, ModelVersion]:  # fmt: skip
    """The model (id) and version whose `Uri` is `model_path` (in `model_id` only, when given)."""
    stmt = select(ModelVersion, Model).join(Model, Model.id == ModelVersion.model_id).where(ModelVersion.uri == model_path)
    if model_id or labels.get("model"):
        ref = model_id or labels["model"]
        stmt = stmt.where(or_(Model.id == ref, Model.model_name == ref))
    if labels.get("version"):
        stmt = stmt.where(ModelVersion.version_name == labels["version"])
    found = db.execute(stmt.order_by(ModelVersion.created_at.desc()).limit(20)).all()
    here = [f for f in found if f[1].workspace_id == caller.workspace_id]
    found = here or found
    if not found:
        raise spec.invalid(f"No registered model version has the Uri '{model_path[:200]}'.",
                           "model_path is a PAI model version's Uri (GetModelVersion shows it): register the version "
                           "first (CreateModelVersion), then send its Uri.")  # fmt: skip
    if len({(m.id, v.version_name) for v, m in found}) > 1:
        raise spec.invalid("Several registered versions have this Uri.",
                           'Say which with Labels={"model": "<name>", "version": "<version>"}.')  # fmt: skip
    version, model = found[0]
    return model.id, version


def _fits(config: dict[str, Any], version: ModelVersion) -> None:
    wanted = PROCESSORS.get(version.format_type or "", "")
    if config.get("processor", wanted) != wanted:
        raise spec.invalid(f"processor '{config['processor']}' does not serve version {version.version_name} "
                           f"({version.format_type}).", f'Send "processor": "{wanted}", or leave it out.')  # fmt: skip


def _mode(config: dict[str, Any], replicas: int) -> dict[str, Any] | None:
    strategy = (config.get("metadata") or {}).get("rolling_strategy")
    return None if strategy is None else upgrade_mode(strategy, replicas)


def _done(request: Request, message: str) -> dict[str, Any]:
    return {"RequestId": request_id(request), "Message": message}


# ---- create -------------------------------------------------------------------------------------------


def _create(request: Request, principal: Principal, raw: bytes, workspace: str | None, labels: str | None) -> dict[str, Any]:
    config = spec.check(spec.parse(raw))
    if "name" not in config or "model_path" not in config:
        raise spec.invalid("A service spec needs name and model_path.")
    replicas = (config.get("metadata") or {}).get("instance", 1)
    platform = request.app.state.platform
    with platform.store.read() as db:
        caller = _workspace(db, principal, workspace)
        model_id, version = _registered(db, caller, config["model_path"], _labels(labels))
    _fits(config, version)
    wanted = routes_deployments.DeploymentCreate(name=config["name"], model=model_id, version=version.version_name,
                                                 replicas=replicas, resources=spec.resources(config),
                                                 upgrade=_mode(config, replicas))  # fmt: skip
    item = routes_deployments.create(platform, caller, wanted)
    with platform.store.write() as db:
        history = versions.History().added({**config, "processor": PROCESSORS.get(version.format_type or "", "")},
                                           version.version_name, utcnow().strftime(versions.TIME))  # fmt: skip
        versions.save(db, item["id"], history)
    url = endpoint(request, item["name"])
    return {"RequestId": request_id(request), "ServiceId": item["id"], "ServiceName": item["name"], "Region": REGION,
            "Status": STATUSES.get(item["status"], item["status"]), "InternetEndpoint": url, "IntranetEndpoint": url}  # fmt: skip


@router.post("/api/v2/services")
async def create_service(request: Request, principal: PrincipalDep, WorkspaceId: str | None = None,
                         Labels: str | None = None, Develop: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A service serving a registered model version (Develop mode is a console's notion: ignored)."""
    raw = await request.body()
    return await run_in_threadpool(_create, request, principal, raw, WorkspaceId, Labels)


# ---- change -------------------------------------------------------------------------------------------


def _in_service(request: Request, principal: Principal, cluster_id: str, name: str) -> tuple[Caller, Deployment, versions.History]:
    with request.app.state.platform.store.read() as db:
        row, _ = find_service(db, principal, cluster_id, name)
        db.expunge(row)
        return enter(db, principal, row.workspace_id), row, versions.of(db, row)


def _update(request: Request, principal: Principal, cluster_id: str, name: str, raw: bytes, kind: str | None) -> dict[str, Any]:
    if kind not in (None, "merge", "replace"):
        raise spec.invalid(f"UpdateType '{kind[:20]}' is not merge or replace.", "Leave UpdateType out (merge), or send replace.")
    change = spec.check(spec.parse(raw))
    caller, row, history = _in_service(request, principal, cluster_id, name)
    current = history.config()
    config = spec.check(change if kind == "replace" else spec.merge(current, change))
    if config.get("name", row.name) != row.name:
        raise spec.invalid("A service keeps its name.", f'Send "name": "{row.name}", or leave it out.')
    if (config.get("metadata") or {}).get("instance", row.replicas) != row.replicas or spec.resources(config) != spec.resources(current):
        raise spec.invalid("Changing metadata.instance, cpu or memory is not served here: an update keeps them.",
                           f"Leave them out (the service runs {row.replicas} instance(s)), or create another service.")  # fmt: skip
    platform = request.app.state.platform
    with platform.store.read() as db:
        model_path = config.get("model_path") or current.get("model_path") or ""
        _, version = _registered(db, caller, model_path, {}, row.model_id)
    _fits(config, version)
    wanted = routes_deployments.UpgradeRequest(version=version.version_name, mode=_mode(config, row.replicas))
    routes_deployments.upgrade(platform, caller, row.id, wanted)
    with platform.store.write() as db:
        history = history.added({**config, "processor": PROCESSORS.get(version.format_type or "", "")},
                                version.version_name, utcnow().strftime(versions.TIME))  # fmt: skip
        versions.save(db, row.id, history)
    return _done(request, f"Service '{name}' is updating to version {history.current} ({version.version_name}).")


@router.put(SERVICE)
async def update_service(request: Request, principal: PrincipalDep, cluster_id: str, service_name: str,
                         UpdateType: str | None = None) -> dict[str, Any]:  # fmt: skip
    raw = await request.body()
    return await run_in_threadpool(_update, request, principal, cluster_id, service_name, raw, UpdateType)


def _to_version(request: Request, principal: Principal, cluster_id: str, name: str, raw: bytes) -> dict[str, Any]:
    body = parse_json(raw) if raw.strip() else None
    number = body.get("Version") if isinstance(body, dict) else None
    caller, row, history = _in_service(request, principal, cluster_id, name)
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(history.versions):
        raise spec.invalid(f"Version must be one of the service's versions, 1 to {len(history.versions)}.",
                           'Send {"Version": 1}; ListServiceVersions lists them.')  # fmt: skip
    platform, target = request.app.state.platform, history.versions[number - 1]["version"]
    if target == row.previous_version and target != row.version:
        routes_deployments.rollback(platform, caller, row.id)
    elif target != row.version:
        routes_deployments.upgrade(platform, caller, row.id, routes_deployments.UpgradeRequest(version=target))
    history.current = number
    with platform.store.write() as db:
        versions.save(db, row.id, history)
    return _done(request, f"Service '{name}' is going to version {number} ({target}).")


@router.put(SERVICE + "/version")
async def update_service_version(request: Request, principal: PrincipalDep, cluster_id: str, service_name: str) -> dict[str, Any]:
    raw = await request.body()
    return await run_in_threadpool(_to_version, request, principal, cluster_id, service_name, raw)


@router.put(SERVICE + "/stop")
def stop_service(request: Request, principal: PrincipalDep, cluster_id: str, service_name: str) -> dict[str, Any]:
    """Answers once every instance has drained."""
    caller, row, _ = _in_service(request, principal, cluster_id, service_name)
    routes_deployments.stop(request.app.state.platform, caller, row.id)
    return _done(request, f"Service '{service_name}' is stopped.")


@router.put(SERVICE + "/start")
def start_service(request: Request, principal: PrincipalDep, cluster_id: str, service_name: str) -> dict[str, Any]:
    caller, row, _ = _in_service(request, principal, cluster_id, service_name)
    routes_deployments.start(request.app.state.platform, caller, row.id)
    return _done(request, f"Service '{service_name}' is starting.")


@router.delete(SERVICE)
def delete_service(request: Request, principal: PrincipalDep, cluster_id: str, service_name: str) -> dict[str, Any]:
    """Stops the instances, then the service is gone (DescribeService answers 404); its versions go now."""
    caller, row, _ = _in_service(request, principal, cluster_id, service_name)
    platform = request.app.state.platform
    routes_deployments.delete(platform, caller, row.id)
    with platform.store.write() as db:
        versions.forget(db, row.id)
    return _done(request, f"Service '{service_name}' is being deleted.")


@router.get(SERVICE + "/versions")
def list_service_versions(request: Request, principal: PrincipalDep, cluster_id: str, service_name: str,
                          PageNumber: PageQuery = 1, PageSize: SizeQuery = 100) -> dict[str, Any]:  # fmt: skip
    """The service's versions, newest first; `ImageId` is the version's number (UpdateServiceVersion's)."""
    _, _, history = _in_service(request, principal, cluster_id, service_name)
    numbered = list(enumerate(history.versions, 1))[::-1]
    shown = numbered[(PageNumber - 1) * PageSize:PageNumber * PageSize]
    return {"RequestId": request_id(request), "PageNumber": PageNumber, "PageSize": PageSize, "TotalCount": len(numbered),
            "Versions": [{"BuildTime": v["time"], "ImageAvailable": "true", "ImageId": n, "ServiceRunnable": "true",
                          "Message": "current" if n == history.current else "", "ServiceConfig": json.dumps(v["config"])}
                         for n, v in shown]}  # fmt: skip
