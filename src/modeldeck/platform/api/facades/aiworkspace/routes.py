"""Workspaces, their members, models, versions and version labels of AIWorkspace 2021-02-04
(docs/clouds/alibaba-sdks.md 3), answered from the registry with its rules: a model belongs to one workspace (the one that created it),
its versions' approval goes through UpdateModelVersion's ApprovalStatus with the platform's `approve`
right, and a decision is final.

Pages are `PageNumber` (from 1) and `PageSize`, with `TotalCount`. A model is found by its id alone: it
is looked up in its own workspace, which the caller must be able to enter (else the same 404 as a model
that does not exist).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .....errors import Conflict, InvalidParameter, NotFound, WorkspaceAccessDenied
from .... import fields, registration, registry, workspaces
from ....authz import Caller, Principal, enter
from ....schema import Account, Member, Model, ModelVersion, Workspace
from ...deps import PrincipalDep
from ...errors import request_id
from ...routing import Router
from .ids import pai_workspace_id, platform_workspace_id

router = Router(tags=["aiworkspace"])
MAX_PAGE = 100
PageNumber = Annotated[int, Query(ge=1)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE)]
# PAI's version fields (PascalCase) and the registry's
VERSION_FIELDS = {"Uri": "uri", "VersionName": "version_name", "VersionDescription": "description",
                  "ApprovalStatus": "approval_status", "FormatType": "format_type", "FrameworkType": "framework_type",
                  "SourceType": "source_type", "SourceId": "source_id", "Labels": "labels", "Metrics": "metrics",
                  "TrainingSpec": "training_spec", "InferenceSpec": "inference_spec", "ExtraInfo": "extra_info",
                  "Options": "options"}  # fmt: skip
MODEL_FIELDS = {"ModelDescription": "description", "Accessibility": "accessibility", "Domain": "domain",
                "Task": "task", "Origin": "origin", "ModelType": "model_type", "ExtraInfo": "extra_info",
                "Labels": "labels"}  # fmt: skip


def _ok(request: Request, **body: Any) -> dict[str, Any]:
    return {"RequestId": request_id(request), **body}


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z" if value else None


def _labels(value: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in (value or {}).items()]


def _label_map(value: Any, what: str) -> dict[str, str]:
    """`[{Key, Value}]` as the registry's label dict."""
    if value is None:
        return {}
    if not isinstance(value, list) or not all(isinstance(i, dict) and isinstance(i.get("Key"), str) for i in value):
        raise InvalidParameter(f"{what} must be a list of {{Key, Value}}.", code="InvalidParameter.Labels",
                               hint='Send Labels like [{"Key": "stage", "Value": "prod"}].')  # fmt: skip
    return fields.labels({i["Key"]: i.get("Value") or "" for i in value})


def _mapped(body: dict[str, Any], known: dict[str, str], what: str) -> dict[str, Any]:
    unknown = sorted(set(body) - set(known) - {"WorkspaceId", "ModelName"})
    if unknown:
        raise InvalidParameter(f"{what} field(s) not kept by this platform: {', '.join(unknown)}.",
                               code="InvalidParameter.UnsupportedField",
                               hint=f"Send only: {', '.join(sorted(known))}.")  # fmt: skip
    out = {known[k]: v for k, v in body.items() if k in known}
    if "labels" in out:
        out["labels"] = _label_map(out["labels"], "Labels")
    return out


async def _json(request: Request) -> dict[str, Any]:
    body = await request.json() if await request.body() else {}
    if not isinstance(body, dict):
        raise InvalidParameter("The body must be a JSON object.", code="InvalidParameter.Body",
                               hint="Send the request's fields as a JSON object.")  # fmt: skip
    return body


# ---- workspaces ----------------------------------------------------------------------------------------


def _workspace(ws: Workspace, account_id: str) -> dict[str, Any]:
    return {"WorkspaceId": pai_workspace_id(ws.id), "WorkspaceName": ws.name, "DisplayName": ws.name,
            "Description": ws.description, "Creator": account_id, "Owner": {"UserId": account_id},
            "IsDefault": ws.is_default, "Status": "ENABLED", "EnvTypes": ["prod"], "AdminNames": [],
            "GmtCreateTime": _time(ws.created_at), "GmtModifiedTime": _time(ws.updated_at)}  # fmt: skip


def _entered(db: Session, principal: Principal, pai_id: str | None) -> Caller:
    return enter(db, principal, platform_workspace_id(pai_id) if pai_id else None)


@router.get("/api/v1/workspaces")
def list_workspaces(
    request: Request, principal: PrincipalDep, PageNumber: PageNumber = 1, PageSize: PageSize = 20,
    WorkspaceName: str | None = None, WorkspaceIds: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The workspaces this AccessKey's account may enter."""
    wanted = {platform_workspace_id(i) for i in WorkspaceIds.split(",") if i.strip()} if WorkspaceIds else None
    with request.app.state.platform.store.read() as db:
        found = [w for w, _ in workspaces.listing(db, principal)
                 if (wanted is None or w.id in wanted) and (not WorkspaceName or WorkspaceName in w.name)]  # fmt: skip
    start = (PageNumber - 1) * PageSize
    shown = [_workspace(w, principal.account_id) for w in found[start : start + PageSize]]
    return _ok(request, TotalCount=len(found), Workspaces=shown)


@router.get("/api/v1/workspaces/{workspace_id}")
def get_workspace(request: Request, principal: PrincipalDep, workspace_id: str) -> dict[str, Any]:
    with request.app.state.platform.store.read() as db:
        caller = _entered(db, principal, workspace_id)
        return _ok(request, **_workspace(db.get_one(Workspace, caller.workspace_id), principal.account_id))


@router.get("/api/v1/defaultWorkspaces")
def get_default_workspace(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    with request.app.state.platform.store.read() as db:
        caller = _entered(db, principal, None)
        return _ok(request, **_workspace(db.get_one(Workspace, caller.workspace_id), principal.account_id))


# ---- members: the platform's, with PAI's role names --------------------------------------------------

# the platform's role -> PAI's (the main account owns every workspace, as an Alibaba Cloud account does)
PAI_ROLES = {"admin": "PAI.WorkspaceAdmin", "developer": "PAI.AlgoDeveloper", "viewer": "PAI.WorkspaceGuest"}
OWNER = "PAI.WorkspaceOwner"


def _member(account: Account, roles: list[str], since: datetime) -> dict[str, Any]:
    return {"MemberId": account.id, "UserId": account.id, "MemberName": account.name, "DisplayName": account.name,
            "AccountName": account.name, "AccountType": 1 if account.kind == "main" else 5, "Roles": roles,
            "GmtCreateTime": _time(since)}  # fmt: skip


def _members(db: Session, caller: Caller) -> list[dict[str, Any]]:
    """The workspace's owner (the main account), then its recorded members by name."""
    caller.require("list")
    owner = db.get_one(Account, caller.principal.root_id)
    ws = db.get_one(Workspace, caller.workspace_id)
    rows = db.execute(select(Account, Member).join(Member, Member.account_id == Account.id)
                      .where(Member.workspace_id == ws.id, Member.role != "none", Account.id != owner.id)
                      .order_by(Account.name)).all()  # fmt: skip
    return [_member(owner, [OWNER], ws.created_at),
            *(_member(a, [PAI_ROLES[m.role]], m.created_at) for a, m in rows)]  # fmt: skip


@router.get("/api/v1/workspaces/{workspace_id}/members")
def list_members(
    request: Request, principal: PrincipalDep, workspace_id: str, PageNumber: PageNumber = 1, PageSize: PageSize = 20,
    UserId: str | None = None, MemberName: str | None = None, Roles: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """ListMembers, filtered by `UserId`, `MemberName` (a substring) and `Roles` (a comma list: any of them)."""
    wanted = {r.strip() for r in Roles.split(",") if r.strip()} if Roles else None
    with request.app.state.platform.store.read() as db:
        found = [m for m in _members(db, _entered(db, principal, workspace_id))
                 if (not UserId or m["UserId"] == UserId) and (not MemberName or MemberName in m["MemberName"])
                 and (wanted is None or wanted & set(m["Roles"]))]  # fmt: skip
    start = (PageNumber - 1) * PageSize
    return _ok(request, TotalCount=len(found), Members=found[start : start + PageSize])


@router.get("/api/v1/workspaces/{workspace_id}/member")
def get_member(request: Request, principal: PrincipalDep, workspace_id: str, UserId: str | None = None,
               MemberId: str | None = None) -> dict[str, Any]:  # fmt: skip
    """GetMember by `UserId` or `MemberId` (exactly one, as the SDK documents)."""
    if bool(UserId) == bool(MemberId):
        raise InvalidParameter("GetMember takes exactly one of UserId and MemberId.", code="InvalidParameter.Member",
                               hint="Pass the member's UserId (GetCallerIdentity gives your own) or its MemberId.")  # fmt: skip
    with request.app.state.platform.store.read() as db:
        found = [m for m in _members(db, _entered(db, principal, workspace_id)) if (UserId or MemberId) == m["UserId"]]
    if not found:
        raise NotFound(f"No member {(UserId or MemberId or '')[:64]!r} in workspace {workspace_id[:20]!r}.",
                       code="Member.NotFound", hint="List the workspace's members with ListMembers.")  # fmt: skip
    return _ok(request, **found[0])


# ---- models --------------------------------------------------------------------------------------------


def _version(row: ModelVersion) -> dict[str, Any]:
    return {"VersionName": row.version_name, "Uri": row.uri, "VersionDescription": row.description,
            "ApprovalStatus": row.approval_status, "FormatType": row.format_type, "FrameworkType": row.framework_type,
            "SourceType": row.source_type, "SourceId": row.source_id, "Labels": _labels(row.labels),
            "Metrics": row.metrics, "TrainingSpec": row.training_spec, "InferenceSpec": row.inference_spec,
            "ExtraInfo": row.extra_info, "Options": row.options, "OwnerId": row.created_by, "UserId": row.created_by,
            "GmtCreateTime": _time(row.created_at), "GmtModifiedTime": _time(row.updated_at)}  # fmt: skip


def _model(db: Session, model: Model, account_id: str) -> dict[str, Any]:
    latest = db.scalar(select(ModelVersion).where(ModelVersion.model_id == model.id).order_by(ModelVersion.seq.desc()).limit(1))
    return {"ModelId": model.id, "ModelName": model.model_name, "WorkspaceId": pai_workspace_id(model.workspace_id),
            "ModelDescription": model.description, "Accessibility": model.accessibility, "Domain": model.domain,
            "Task": model.task, "Origin": model.origin, "ModelType": model.model_type, "ExtraInfo": model.extra_info,
            "Labels": _labels(model.labels), "Tags": [], "OwnerId": account_id, "UserId": account_id,
            "LatestVersion": _version(latest) if latest else None, "GmtCreateTime": _time(model.created_at),
            "GmtModifiedTime": _time(model.updated_at),
            "GmtLatestVersionModifiedTime": _time(latest.updated_at) if latest else None}  # fmt: skip


def _owner(db: Session, principal: Principal, model_id: str) -> Caller:
    """The caller in the model's own workspace; a model it cannot reach is as missing as one that is not."""
    ws = db.scalar(select(Model.workspace_id).where(Model.id == model_id))
    if ws is not None:
        try:
            return enter(db, principal, ws)
        except WorkspaceAccessDenied:
            pass
    raise NotFound(f"Model {model_id[:64]!r} does not exist, or is not in a workspace this account may enter.",
                   code="Model.NotFound", hint="List the models of a workspace with ListModels (WorkspaceId).")


@router.get("/api/v1/models")
def list_models(
    request: Request, principal: PrincipalDep, WorkspaceId: str | None = None, ModelName: str | None = None,
    PageNumber: PageNumber = 1, PageSize: PageSize = 10, Order: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The workspace's models. `ModelName` in double quotes matches exactly (alipai's lookup), else as a substring."""
    with request.app.state.platform.store.read() as db:
        caller = _entered(db, principal, WorkspaceId)
        caller.require("list")
        where = [Model.workspace_id == caller.workspace_id]
        if ModelName:
            exact = len(ModelName) >= 2 and ModelName[0] == ModelName[-1] == '"'
            where.append(Model.model_name == ModelName[1:-1] if exact else Model.model_name.contains(ModelName, autoescape=True))
        total = db.scalar(select(func.count()).select_from(Model).where(*where)) or 0
        order = Model.created_at.asc() if (Order or "").upper() == "ASC" else Model.created_at.desc()
        rows = db.scalars(select(Model).where(*where).order_by(order, Model.id)
                          .offset((PageNumber - 1) * PageSize).limit(PageSize)).all()  # fmt: skip
        return _ok(request, TotalCount=total, Models=[_model(db, m, principal.account_id) for m in rows])


@router.post("/api/v1/models")
async def create_model(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    body = await _json(request)
    attrs = _mapped(body, MODEL_FIELDS, "CreateModel")
    with request.app.state.platform.store.write() as db:
        caller = _entered(db, principal, body.get("WorkspaceId"))
        model = registry.create_model(db, caller, body.get("ModelName"), **attrs)  # type: ignore[arg-type]
        return _ok(request, ModelId=model.id)


@router.get("/api/v1/models/{model_id}")
def get_model(request: Request, principal: PrincipalDep, model_id: str) -> dict[str, Any]:
    with request.app.state.platform.store.read() as db:
        view = registry.resolve_model(db, _owner(db, principal, model_id), model_id)
        return _ok(request, **_model(db, view.model, principal.account_id))


@router.delete("/api/v1/models/{model_id}")
def delete_model(request: Request, principal: PrincipalDep, model_id: str) -> dict[str, Any]:
    with request.app.state.platform.store.write() as db:
        registry.delete_model(db, _owner(db, principal, model_id), model_id)
    return _ok(request)


# ---- versions ------------------------------------------------------------------------------------------


@router.get("/api/v1/models/{model_id}/versions")
def list_versions(
    request: Request, principal: PrincipalDep, model_id: str, PageNumber: PageNumber = 1, PageSize: PageSize = 10,
    VersionName: str | None = None, ApprovalStatus: str | None = None, FormatType: str | None = None,
    FrameworkType: str | None = None, SourceType: str | None = None, SourceId: str | None = None,
    Order: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Newest first (Order=ASC: oldest first), filtered by the fields given."""
    with request.app.state.platform.store.read() as db:
        view = registry.resolve_model(db, _owner(db, principal, model_id), model_id)
        where = [ModelVersion.model_id == view.model.id]
        for column, value in ((ModelVersion.version_name, VersionName), (ModelVersion.format_type, FormatType),
                              (ModelVersion.framework_type, FrameworkType), (ModelVersion.source_type, SourceType),
                              (ModelVersion.source_id, SourceId),
                              (ModelVersion.approval_status, registry.checked_status(ApprovalStatus))):  # fmt: skip
            if value:
                where.append(column == value)
        total = db.scalar(select(func.count()).select_from(ModelVersion).where(*where)) or 0
        order = ModelVersion.seq.asc() if (Order or "").upper() == "ASC" else ModelVersion.seq.desc()
        rows = db.scalars(select(ModelVersion).where(*where).order_by(order)
                          .offset((PageNumber - 1) * PageSize).limit(PageSize)).all()  # fmt: skip
        return _ok(request, TotalCount=total, Versions=[_version(r) for r in rows])


@router.post("/api/v1/models/{model_id}/versions")
async def create_version(request: Request, principal: PrincipalDep, model_id: str) -> dict[str, Any]:
    """A new version (Uri required). The registry checks every field as for the native API."""
    spec = _mapped(await _json(request), VERSION_FIELDS, "CreateModelVersion")
    platform = request.app.state.platform
    with platform.store.read() as db:
        caller = _owner(db, principal, model_id)
    inspection = registration.inspect(platform, caller, model_id, spec)
    with platform.store.write() as db:
        row, _ = registry.create_version(db, caller, model_id, spec, allowed_networks=platform.settings.allowed_networks,
                                         inspection=inspection)  # fmt: skip
        return _ok(request, VersionName=row.version_name)


@router.get("/api/v1/models/{model_id}/versions/{version}")
def get_version(request: Request, principal: PrincipalDep, model_id: str, version: str) -> dict[str, Any]:
    with request.app.state.platform.store.read() as db:
        _, row = registry.get_version(db, _owner(db, principal, model_id), model_id, version)
        return _ok(request, **_version(row))


UPDATABLE = {k: v for k, v in VERSION_FIELDS.items() if k not in ("Uri", "VersionName", "FormatType", "FrameworkType", "Labels")}


@router.put("/api/v1/models/{model_id}/versions/{version}")
async def update_version(request: Request, principal: PrincipalDep, model_id: str, version: str) -> dict[str, Any]:
    """Change a version's mutable fields; `ApprovalStatus` Approved or Rejected decides it (the `approve` right,
    once: a decided version stays decided)."""
    changes = _mapped(await _json(request), UPDATABLE, "UpdateModelVersion")
    status = changes.pop("approval_status", None)
    platform = request.app.state.platform
    with platform.store.write() as db:
        caller = _owner(db, principal, model_id)
        if status is not None:
            status = fields.choice(status, fields.APPROVAL_STATUSES, "approval status")
            if status != "Pending":
                registry.decide(db, caller, model_id, version, status)
            elif registry.get_version(db, caller, model_id, version)[1].approval_status != "Pending":
                raise Conflict(f"Version {version[:64]!r} is already decided; a decision is final.",
                               code="Version.ApprovalFinal", hint="Register a new version to take another decision.")  # fmt: skip
        if changes:
            registry.update_version(db, caller, model_id, version, changes, platform.settings.allowed_networks)
    return _ok(request)


@router.delete("/api/v1/models/{model_id}/versions/{version}")
def delete_version(request: Request, principal: PrincipalDep, model_id: str, version: str) -> dict[str, Any]:
    with request.app.state.platform.store.write() as db:
        registry.delete_version(db, _owner(db, principal, model_id), model_id, version)
    return _ok(request)


@router.post("/api/v1/models/{model_id}/versions/{version}/labels")
async def add_version_labels(request: Request, principal: PrincipalDep, model_id: str, version: str) -> dict[str, Any]:
    """CreateModelVersionLabels: set these labels (a key given again takes the new value)."""
    added = _label_map((await _json(request)).get("Labels"), "Labels")
    with request.app.state.platform.store.write() as db:
        caller = _owner(db, principal, model_id)
        _, row = registry.get_version(db, caller, model_id, version)
        registry.update_version(db, caller, model_id, version, {"labels": {**row.labels, **added}})
    return _ok(request)


@router.delete("/api/v1/models/{model_id}/versions/{version}/labels")
def delete_version_labels(request: Request, principal: PrincipalDep, model_id: str, version: str,
                          LabelKeys: str = "") -> dict[str, Any]:  # fmt: skip
    """DeleteModelVersionLabels: remove the labels named in `LabelKeys` (a comma list)."""
    gone = {k.strip() for k in LabelKeys.split(",") if k.strip()}
    with request.app.state.platform.store.write() as db:
        caller = _owner(db, principal, model_id)
        _, row = registry.get_version(db, caller, model_id, version)
        kept = {k: v for k, v in row.labels.items() if k not in gone}
        registry.update_version(db, caller, model_id, version, {"labels": kept})
    return _ok(request)
