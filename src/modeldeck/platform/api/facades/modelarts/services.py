"""ModelArts real-time services (the v2 inference API `huaweicloudsdkmodelarts` speaks) as the platform's
deployments: create, list, show, update (upgrade), start, stop, delete, and a service's events.

The mapping (docs/clouds/huawei.md, "Pangu and real-time services"):
- a service is a deployment; its id is the deployment's id, its `name` the deployment's name;
- the service `version` (D.D.D) is the version of the model it serves, so `PUT {"version": "1.0.1"}` upgrades;
- the model is `group_configs[0].model.asset_id` (a model's name or id), `group_configs[0].count` the replicas;
- `upgrade_config {type: ROLLING, rolling_update {max_surge, max_unavailable}}` (percentages of the instance
  count) is the upgrade mode: `max_surge 100%` with `max_unavailable 0%` (every new instance beside the old
  ones, then the switch) is the platform's full upgrade, and `type: FULL` says so outright (our extension);
  otherwise rolling: add-instances (surge S%, unavailable 0%) replaces batches of ceil(S% x count) started
  beside the old ones, remove-instances (surge 0%, unavailable U%) first frees ceil(U% x count) old ones;
- statuses: Creating DEPLOYING, Running RUNNING, Upgrading and RollingBack UPGRADING, Failed FAILED,
  Stopped STOPPED, Deleting DELETING.
"""

from __future__ import annotations

import math
import re
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from .....errors import InvalidParameter
from .....providers.huawei.services import STATUSES, upgrade_config, upgrade_mode
from ....authz import Caller, Principal, enter
from ....deployments import service as deployments
from ....pagination import MAX_LIMIT, PageRequest
from ....schema import Account, Deployment, Workspace
from ....wirejson import parse_json
from ... import routes_deployments
from ...routing import Router
from ..huawei import ids
from ..huawei.deps import ProjectPrincipal
from ..pangu.routes import deployment_of
from ..pangu.wire import millis
from .workspaces import workspace_for

router = Router(tags=["modelarts-services"])
SERVICES = "/v2/{project_id}/services"
ABNORMAL = frozenset({"failed", "rolled_back", "replica_exited", "replica_restarted"})
_VERSION = re.compile(r"^\d{1,2}\.\d{1,2}\.\d{1,2}$")
EXAMPLE = ('Send {"name": "svc", "version": "1.0.0", "workspace_id": "0", "group_configs": [{"count": 2, '
           '"model": {"source": "MODELARTS", "asset_id": "my-llm"}}], "upgrade_config": {"type": "ROLLING", '
           '"rolling_update": {"max_surge": "50%", "max_unavailable": "0%"}}}.')  # fmt: skip


def _invalid(message: str, hint: str = EXAMPLE) -> InvalidParameter:
    return InvalidParameter(message, code="ModelArts.3502", hint=hint)


# ---- bodies -------------------------------------------------------------------------------------------


def _group(body: dict[str, Any]) -> dict[str, Any]:
    groups = body.get("group_configs")
    if groups is None:
        return {}
    if not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict):
        raise _invalid("group_configs must hold one deployment (instance group); several are not served here.")
    return groups[0]


def _model_ref(group: dict[str, Any]) -> tuple[str, str | None]:
    """The model to serve, and the version a ModelArts model id (`<model id>.<version>`) pins, if it does."""
    model = group.get("model")
    units = group.get("unit_configs") or []
    if not isinstance(model, dict) and units and isinstance(units[0], dict) and (units[0].get("models") or []):
        model = units[0]["models"][0]
    ref = model.get("asset_id") or model.get("source_name") if isinstance(model, dict) else None
    if not isinstance(ref, str) or not ref:
        raise _invalid("group_configs[0].model.asset_id must name the model to serve.")
    base, _, pinned = ref.partition(".")
    return (base, pinned) if _VERSION.match(pinned) else (ref, None)


def _count(group: dict[str, Any], default: int) -> int:
    count = group.get("count", default)
    if isinstance(count, bool) or not isinstance(count, int):
        raise _invalid("group_configs[0].count must be a whole number of instances.")
    return count


def _version(value: Any) -> str:
    if not isinstance(value, str) or not _VERSION.match(value):
        raise _invalid("version must look like 1.0.0 (the version of the model the service serves).")
    return value


def service_json(item: dict[str, Any], workspace: str) -> dict[str, Any]:
    """A deployment (as the native API answers it) as ModelArts' ServiceResponse."""
    count = item["replicas"]
    group = {
        "name": item["name"], "count": count, "running_count": sum(r.get("state") == "serving" for r in item["replica_status"]),
        "status": STATUSES[item["status"]], "version": item["version"], "weight": 100,
        "model": {"source": "MODELARTS", "asset_id": item["model_name"], "source_name": item["model_name"]},
        "advanced_config": {"upgrade_config": upgrade_config(item["upgrade"], count)},
    }  # fmt: skip
    urls = [item["endpoint"]] if item["endpoint"] else []
    return {
        "id": item["id"], "name": item["name"], "workspace_id": workspace, "type": "REAL_TIME", "deploy_type": "SINGLE",
        "status": STATUSES[item["status"]], "failure_reason": item["status_reason"] or None,
        "version": {"id": f"{item['id']}-{item['version']}", "version": item["version"],
                    "predict_url": urls[0] if urls else None, "upgrade_config": upgrade_config(item["upgrade"], count),
                    "instance_groups": [group]},
        "predict_url": [{"type": "INTERNAL", "urls": urls}],
        "create_at": str(millis(item["created_at"])), "update_at": str(millis(item["updated_at"])),
    }  # fmt: skip


def item_json(service: dict[str, Any], user: str) -> dict[str, Any]:
    """A ServiceResponse as the list's ServiceItemResponseData."""
    keys = ("id", "name", "status", "type", "deploy_type", "workspace_id", "failure_reason")
    return {**{k: service[k] for k in keys}, "version": service["version"]["version"], "version_count": 1,
            "user_name": user, "create_at": int(service["create_at"]), "update_at": int(service["update_at"]),
            "auth_type": "TOKEN", "description": ""}  # fmt: skip


def event_json(row: Any, service_id: str, version: str) -> dict[str, Any]:
    info = row.message + (f" {row.reason}" if row.reason else "")
    return {"id": f"{service_id}-{row.seq}", "service_id": service_id, "service_version_id": f"{service_id}-{version}",
            "event_count": 1, "event_type": "abnormal" if row.kind in ABNORMAL else "normal", "event_info": info,
            "event_info_cn": info, "create_at": millis(row.at), "update_at": millis(row.at)}  # fmt: skip


def page(items: list[Any], offset: int, limit: int) -> dict[str, Any]:
    """ModelArts' v2 page: `data`, `current` (page number from 0), `size`, `pages`, `total`."""
    return {"data": items[offset : offset + limit], "current": offset // limit, "size": limit,
            "pages": math.ceil(len(items) / limit), "total": len(items)}  # fmt: skip


def _bounds(limit: int, offset: int) -> tuple[int, int]:
    if not 1 <= limit <= 1000 or offset < 0:
        raise _invalid("limit must be 1 to 1000 and offset 0 or more.", "Send limit=100&offset=0.")
    return limit, offset


# ---- who calls, where ---------------------------------------------------------------------------------


def _in_workspace(request: Request, principal: Principal, cloud_id: Any) -> Caller:
    """The caller in the ModelArts workspace `cloud_id` ("0", the default, when not given)."""
    if not isinstance(cloud_id, (str, type(None))):
        raise _invalid("workspace_id must be a ModelArts workspace id.", 'Send "workspace_id": "0" for the default one.')
    with request.app.state.platform.store.read() as db:
        return enter(db, principal, workspace_for(db, principal, cloud_id or ids.DEFAULT_WORKSPACE).id)


def _of_service(request: Request, principal: Principal, service_id: str) -> tuple[Caller, str]:
    """The caller in the service's own workspace, and the service's id."""
    with request.app.state.platform.store.read() as db:
        row = deployment_of(db, principal, service_id)
        return enter(db, principal, row.workspace_id), row.id


def _cloud_id(db: Any, caller: Caller) -> str:
    return ids.workspace_id(db.get_one(Workspace, caller.workspace_id))


def _answer(request: Request, caller: Caller, item: dict[str, Any]) -> dict[str, Any]:
    with request.app.state.platform.store.read() as db:
        return service_json(item, _cloud_id(db, caller))


@router.post(SERVICES)
async def create(request: Request, principal: ProjectPrincipal) -> dict[str, Any]:
    body = parse_json(await request.body())
    if not isinstance(body, dict):
        raise _invalid("The body must be a ServiceCreateRequest object.")
    if body.get("type", "REAL_TIME") != "REAL_TIME":
        raise _invalid("Only REAL_TIME services are served here.", 'Send "type": "REAL_TIME", or leave it out.')
    group = _group(body)
    count = _count(group, 1)
    model, pinned = _model_ref(group)
    version = _version(body.get("version") or pinned)
    if pinned not in (None, version):
        raise _invalid(f"The model id pins version {pinned}, the service asks for {version}.",
                       "Leave version out, or name the model by its name in asset_id.")  # fmt: skip
    wanted = routes_deployments.DeploymentCreate(
        name=body.get("name"), model=model, version=version, replicas=count,
        upgrade=upgrade_mode(body.get("upgrade_config") or (group.get("advanced_config") or {}).get("upgrade_config"), count),
    )  # fmt: skip
    platform = request.app.state.platform
    caller = await run_in_threadpool(_in_workspace, request, principal, body.get("workspace_id"))
    item = await run_in_threadpool(routes_deployments.create, platform, caller, wanted)
    return await run_in_threadpool(_answer, request, caller, item)


@router.get(SERVICES)
def listing(request: Request, principal: ProjectPrincipal, workspace_id: str | None = None, name: str | None = None,
            status: str | None = None, limit: int = 1000, offset: int = 0) -> dict[str, Any]:  # fmt: skip
    limit, offset = _bounds(limit, offset)
    caller = _in_workspace(request, principal, workspace_id)
    platform = request.app.state.platform
    found, cursor = [], None
    with platform.store.read() as db:
        workspace = _cloud_id(db, caller)
        while True:
            rows, cursor = deployments.listing(db, caller, PageRequest(platform.cursors, MAX_LIMIT, cursor))
            for row in rows:
                service = service_json(routes_deployments.deployment_json(platform, db, row), workspace)
                if (name is None or name in row.name) and (status is None or service["status"] == status.upper()):
                    user = db.get(Account, row.created_by)
                    found.append(item_json(service, user.name if user else ""))
            if not cursor:
                return page(found, offset, limit)


@router.get(SERVICES + "/{service_id}")
def show(request: Request, service_id: str, principal: ProjectPrincipal) -> dict[str, Any]:
    caller, ident = _of_service(request, principal, service_id)
    return _answer(request, caller, routes_deployments.get(request.app.state.platform, caller, ident))


@router.put(SERVICES + "/{service_id}")
async def update(request: Request, service_id: str, principal: ProjectPrincipal) -> dict[str, Any]:
    """An upgrade: `version` the model version to serve now, `upgrade_config` how (the service's own, if
    left out). The instance count stays what it is."""
    body = parse_json(await request.body())
    if not isinstance(body, dict):
        raise _invalid("The body must be a ServiceUpdateRequest object.")
    platform = request.app.state.platform
    caller, ident = await run_in_threadpool(_of_service, request, principal, service_id)
    current = await run_in_threadpool(routes_deployments.get, platform, caller, ident)
    group = _group(body)
    if _count(group, current["replicas"]) != current["replicas"]:
        raise _invalid("Changing the instance count is not served here; the upgrade keeps it.",
                       f"Send group_configs[0].count {current['replicas']}, or leave count out.")  # fmt: skip
    if group.get("model") and _model_ref(group)[0] not in (current["model_name"], current["model_id"]):
        raise _invalid("A service keeps its model; an upgrade changes its version.",
                       "Send the new version in version, or create another service for another model.")  # fmt: skip
    config = body.get("upgrade_config") or (group.get("advanced_config") or {}).get("upgrade_config")
    wanted = routes_deployments.UpgradeRequest(version=_version(body.get("version", current["version"])),
                                               mode=upgrade_mode(config, current["replicas"]))  # fmt: skip
    item = await run_in_threadpool(routes_deployments.upgrade, platform, caller, ident, wanted)
    return await run_in_threadpool(_answer, request, caller, item)


@router.post(SERVICES + "/{service_id}/stop")
def stop(request: Request, service_id: str, principal: ProjectPrincipal) -> dict[str, Any]:
    caller, ident = _of_service(request, principal, service_id)
    return _answer(request, caller, routes_deployments.stop(request.app.state.platform, caller, ident))


@router.post(SERVICES + "/{service_id}/start")
def start(request: Request, service_id: str, principal: ProjectPrincipal) -> dict[str, Any]:
    caller, ident = _of_service(request, principal, service_id)
    return _answer(request, caller, routes_deployments.start(request.app.state.platform, caller, ident))


@router.post(SERVICES + "/delete")
async def delete(request: Request, principal: ProjectPrincipal) -> dict[str, Any]:
    """`{"service_ids": [...]}`: each stops its instances and is gone once they are."""
    body = parse_json(await request.body())
    ids = body.get("service_ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100 or not all(isinstance(i, str) for i in ids):
        raise _invalid("service_ids must list 1 to 100 service ids.", 'Send {"service_ids": ["dep-…"]}.')
    platform, answers = request.app.state.platform, []
    for service_id in ids:
        caller, ident = await run_in_threadpool(_of_service, request, principal, service_id)
        item = await run_in_threadpool(routes_deployments.delete, platform, caller, ident)
        answers.append(await run_in_threadpool(_answer, request, caller, item))
    return {"service_responses": answers}


@router.get(SERVICES + "/{service_id}/events")
def events(request: Request, service_id: str, principal: ProjectPrincipal, limit: int = 1000, offset: int = 0,
           event_type: str | None = None, sort_dir: str = "DESC") -> dict[str, Any]:  # fmt: skip
    """Newest first (sort_dir DESC, the default) or oldest first."""
    limit, offset = _bounds(limit, offset)
    caller, ident = _of_service(request, principal, service_id)
    platform = request.app.state.platform
    with platform.store.read() as db:
        rows, _ = deployments.events(db, caller, ident, PageRequest(platform.cursors, MAX_LIMIT, None))
        version = db.get_one(Deployment, ident).version
    items = [event_json(r, ident, version) for r in rows]
    items = [e for e in items if event_type is None or e["event_type"] == event_type.lower()]
    return page(items if sort_dir.upper() != "ASC" else items[::-1], offset, limit)
