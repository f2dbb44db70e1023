"""EAS management (eas 2021-07-01) over the platform's deployments: ListServices, DescribeService and
DescribeServiceEvent (the changes are `manage.py`'s), as
`alibabacloud-eas20210701` sends them (ROA, ACS3-signed) and its `Service` model parses them.

A service is a deployment of a workspace the AccessKey's account may enter; its region (`ClusterId`) is
`REGION`: the local platform is one EAS cluster, and a DescribeService for another region finds nothing,
as it would on the cloud's regional endpoint. `AccessToken` is shown only where the caller may deploy.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from .....errors import Conflict, NotFound
from ....authz import ROLES, Principal, member_workspaces
from ....schema import Deployment, DeploymentEvent, Model, Workspace
from ...deps import PrincipalDep
from ...errors import request_id
from ...routing import Router
from ..aiworkspace.ids import platform_workspace_id
from . import versions
from .tokens import token_of

router = Router(tags=["eas"])
REGION = "local"
MAX_PAGE = 100
PageQuery = Annotated[int, Query(ge=1)]  # EAS's page numbers (PageNumber, PageNum) and sizes
SizeQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]
# The platform's deployment statuses as EAS writes a service's
STATUSES = {"Creating": "Creating", "Running": "Running", "Upgrading": "Updating", "RollingBack": "Updating",
            "Failed": "Failed", "Stopped": "Stopped", "Deleting": "Deleting"}  # fmt: skip


def _visible(db: Session, principal: Principal, workspace: str | None) -> dict[str, tuple[Workspace, str]]:
    """The workspaces whose services this account may list (by id), one when `workspace` names it (PAI's
    numeric WorkspaceId, the platform's id or the name)."""
    found = {w.id: (w, role) for w, role in member_workspaces(db, principal) if "list" in ROLES.get(role, ())}
    if workspace:
        wanted = platform_workspace_id(workspace) if workspace.strip().isdigit() else workspace  # PAI's numeric id
        found = {k: v for k, v in found.items() if wanted in (v[0].id, v[0].name)}
        if not found:
            raise NotFound(f"No workspace '{workspace[:64]}' of this account can be listed.", code="Workspace.NotFound",
                           hint="Pass a workspace this AccessKey's account is a member of, or none.")  # fmt: skip
    return found


def endpoint(request: Request, name: str) -> str:
    """Where the service called `name` answers (its InternetEndpoint)."""
    prefix = request.scope.get("root_path", "")
    host = request.headers.get("host", "").removesuffix(prefix)  # the tea client sends its endpoint's path in host
    return f"{request.url.scheme}://{host}{prefix}/api/predict/{name}"


def service_json(request: Request, db: Session, row: Deployment, role: str, *, token: bool) -> dict[str, Any]:
    """A deployment as EAS's `Service` (the fields alipai's Predictor and the console read)."""
    platform = request.app.state.platform
    model = db.get(Model, row.model_id)
    live = platform.deployments.live(row.id)
    running = sum(1 for r in live["replicas"] if r.get("state") == "serving")
    url = endpoint(request, row.name)
    resources = row.resources or {}
    history = versions.of(db, row)
    labels = [("model", model.model_name if model else ""), ("version", row.version), ("engine", row.engine)]
    answer = {
        "ServiceName": row.name, "ServiceId": row.id, "ServiceUid": row.id, "Region": REGION,
        "WorkspaceId": row.workspace_id, "Status": STATUSES.get(row.status, row.status), "Reason": row.status_reason,
        "Message": row.status_reason, "InternetEndpoint": url, "IntranetEndpoint": url,
        "ServiceConfig": json.dumps(history.config()), "TotalInstance": row.replicas, "RunningInstance": running,
        "PendingInstance": max(row.replicas - running, 0), "Cpu": int(resources.get("cpus", 1)),
        "Memory": int(resources.get("memory_mb", 0)), "CurrentVersion": history.current,
        "LatestVersion": len(history.versions),
        "CreateTime": row.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "UpdateTime": row.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "CallerUid": row.created_by, "Labels": [{"LabelKey": k, "LabelValue": v} for k, v in labels],
        "AccessToken": token_of(platform, row.id) if token and "deploy" in ROLES.get(role, ()) else "",
    }  # fmt: skip
    return answer


@router.get("/api/v2/services")
def list_services(
    request: Request,
    principal: PrincipalDep,
    PageNumber: PageQuery = 1,
    PageSize: SizeQuery = 100,
    ServiceName: str | None = None,
    WorkspaceId: str | None = None,
) -> dict[str, Any]:
    """The services of the workspaces this account may enter, by name; `ServiceName` filters by substring."""
    platform = request.app.state.platform
    with platform.store.read() as db:
        spaces = _visible(db, principal, WorkspaceId)
        stmt = select(Deployment).where(Deployment.workspace_id.in_(list(spaces))).order_by(Deployment.name, Deployment.id)
        if ServiceName:
            stmt = stmt.where(Deployment.name.contains(ServiceName, autoescape=True))
        rows = db.scalars(stmt).all()
        start = (PageNumber - 1) * PageSize
        shown = [service_json(request, db, r, spaces[r.workspace_id][1], token=False) for r in rows[start:start + PageSize]]
    return {"RequestId": request_id(request), "TotalCount": len(rows), "PageNumber": PageNumber, "PageSize": PageSize,
            "Services": shown}  # fmt: skip


def find_service(db: Session, principal: Principal, cluster_id: str, service_name: str) -> tuple[Deployment, str]:
    """The service called `service_name` in this account's workspaces, and the caller's role there."""
    if cluster_id != REGION:
        raise NotFound(f"There is no service '{service_name[:64]}' in region '{cluster_id[:32]}'.", code="Service.NotFound",
                       hint=f"EAS services are regional: this endpoint serves region '{REGION}'.")  # fmt: skip
    spaces = _visible(db, principal, None)
    rows = db.scalars(select(Deployment).where(Deployment.name == service_name,
                                               Deployment.workspace_id.in_(list(spaces)))).all()  # fmt: skip
    if not rows:
        raise NotFound(f"There is no service '{service_name[:64]}' in region '{REGION}'.", code="Service.NotFound",
                       hint="Check the name with ListServices; EAS services are regional.")  # fmt: skip
    if len(rows) > 1:
        raise Conflict(f"Several workspaces have a service called '{service_name[:64]}'.", code="Service.Ambiguous",
                       hint="EAS names services uniquely per region: give the deployments distinct names.")  # fmt: skip
    return rows[0], spaces[rows[0].workspace_id][1]


@router.get("/api/v2/services/{cluster_id}/{service_name}")
def describe_service(request: Request, principal: PrincipalDep, cluster_id: str, service_name: str) -> dict[str, Any]:
    """One service with its AccessToken (for those who may deploy in its workspace)."""
    platform = request.app.state.platform
    with platform.store.read() as db:
        row, role = find_service(db, principal, cluster_id, service_name)
        return {"RequestId": request_id(request), **service_json(request, db, row, role, token=True)}


@router.get("/api/v2/services/{cluster_id}/{service_name}/events")
def describe_service_event(
    request: Request,
    principal: PrincipalDep,
    cluster_id: str,
    service_name: str,
    PageNum: PageQuery = 1,
    PageSize: SizeQuery = 100,
) -> dict[str, Any]:
    """The deployment's events, newest first: `Reason` is what happened, `Type` Warning when it failed."""
    platform = request.app.state.platform
    with platform.store.read() as db:
        row, _ = find_service(db, principal, cluster_id, service_name)
        events = db.scalars(select(DeploymentEvent).where(DeploymentEvent.deployment_id == row.id)
                            .order_by(DeploymentEvent.seq.desc())).all()  # fmt: skip
    shown = events[(PageNum - 1) * PageSize:PageNum * PageSize]
    return {"RequestId": request_id(request), "PageNum": PageNum, "TotalCount": len(events),
            "TotalPageNum": -(-len(events) // PageSize),
            "Events": [{"Time": e.at.strftime("%Y-%m-%dT%H:%M:%SZ"), "Type": "Warning" if e.reason else "Normal",
                        "Reason": e.kind, "Message": e.message + (f": {e.reason}" if e.reason else "")} for e in shown]}  # fmt: skip


# a replica's states (the local engine's, Ray Serve's lowercased) as EAS writes an instance's; the rest Pending
INSTANCE_STATUSES = {"serving": "Running", "running": "Running", "failed": "Failed", "exited": "Terminating"}
READY = ("serving", "running")


@router.get("/api/v2/services/{cluster_id}/{service_name}/instances")
def list_service_instances(request: Request, principal: PrincipalDep, cluster_id: str, service_name: str,
                           PageNumber: PageQuery = 1, PageSize: SizeQuery = 100) -> dict[str, Any]:  # fmt: skip
    """The service's instances: its replicas as the platform runs them (one process each, on this host)."""
    platform = request.app.state.platform
    with platform.store.read() as db:
        row, _ = find_service(db, principal, cluster_id, service_name)
    replicas = platform.deployments.live(row.id)["replicas"]
    shown = replicas[(PageNumber - 1) * PageSize:PageNumber * PageSize]
    instances = [{"InstanceName": f"{row.name}-{r.get('replica')}", "Namespace": row.name, "HostIP": "127.0.0.1",
                  "Status": INSTANCE_STATUSES.get(r.get("state") or "", "Pending"), "ReadyProcesses": int(r.get("state") in READY),
                  "TotalProcesses": 1, "RestartCount": 0, "Role": "Replica"} for r in shown]  # fmt: skip
    return {"RequestId": request_id(request), "PageNumber": PageNumber, "PageSize": PageSize, "TotalCount": len(replicas),
            "Instances": instances}  # fmt: skip
