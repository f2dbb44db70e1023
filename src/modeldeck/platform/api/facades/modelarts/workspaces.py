"""ListWorkspace / ShowWorkspace, the authorization mode, and ValidateAuthorization.

A workspace's `auth_type` says who may enter it, from the platform's rules: in loose mode every sub-account
may (PUBLIC); in strict mode its members only (INTERNAL, with `grants` = the members). ValidateAuthorization
answers for the caller both conditions ModelArts stacks: workspace access (membership) AND the action's
permission there (the member's role); a `deny` names in its `cause` which one is missing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from .....errors import InvalidParameter, NotFound
from .... import accounts, workspaces
from ....authz import ROLES, Principal, enter, role_in
from ....schema import Account, Member, Workspace
from ...deps import PrincipalDep
from ...routing import Router
from ..huawei.deps import ProjectPrincipal
from ..huawei.ids import domain_id, find_workspace, workspace_id

router = Router(tags=["modelarts"])
SORTS = {"name": lambda w: w.name, "update_time": lambda w: w.updated_at, "status": lambda w: w.name}
READS = ("get", "list", "getQuotas", "getLogs", "listAll")
# ModelArts IAM actions (modelarts:<resource>:<verb>) -> the platform permission a member's role must allow
WRITES = {"model": "register", "trainJob": "register", "dataset": "register", "notebook": "register",
          "image": "register", "service": "deploy", "workspace": "manage"}  # fmt: skip


def _ms(when: Any) -> int:
    return int(when.timestamp() * 1000)


def as_workspace(ws: Workspace, mode: str, owner: str, grants: list[dict[str, str]] | None = None) -> dict[str, Any]:
    out = {"id": workspace_id(ws), "name": ws.name, "description": ws.description or "", "owner": owner,
           "create_time": _ms(ws.created_at), "update_time": _ms(ws.updated_at),
           "auth_type": "PUBLIC" if mode == "loose" else "INTERNAL",
           "enterprise_project_id": "0", "enterprise_project_name": "default", "status": "NORMAL", "status_info": ""}  # fmt: skip
    if grants is not None:
        out["grants"] = grants
    return out


def workspace_for(db: Any, principal: Principal, cloud_id: str) -> Workspace:
    """The workspace of a ModelArts id, entered by the caller (a sub-account must be able to enter it)."""
    ws = find_workspace(db, cloud_id)
    if ws is None:
        if principal.is_main:
            raise _missing()
        enter(db, principal, cloud_id)  # a sub-account learns no more of a missing workspace than of another's
    assert ws is not None
    enter(db, principal, ws.id)
    return ws


def _missing() -> NotFound:
    return NotFound("The workspace does not exist.", code="ModelArts.0102",
                    hint="List the workspaces (GET /v1/{project_id}/workspaces); the default one is 0.")  # fmt: skip


@router.get("/v1/{project_id}/workspaces")
def list_workspace(
    request: Request, principal: ProjectPrincipal,
    offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    sort_by: str = "name", order: str = "desc", name: str | None = None, filter_accessible: str | None = None,
    enterprise_project_id: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The workspaces the caller may enter (a sub-account sees only those), fuzzy by name, sorted and paged."""
    if sort_by not in SORTS or order not in ("asc", "desc"):
        raise InvalidParameter("sort_by is name, update_time or status; order asc or desc.", code="ModelArts.0101",
                               hint="Send sort_by=name&order=asc, or leave them out.")  # fmt: skip
    with request.app.state.platform.store.read() as db:
        owner = db.get_one(Account, principal.root_id).name
        found = [w for w, _ in workspaces.listing(db, principal) if not name or name in w.name]
    found.sort(key=SORTS[sort_by], reverse=order == "desc")
    shown = [as_workspace(w, principal.mode, owner) for w in found[offset:offset + limit]]
    return {"total_count": len(found), "count": len(shown), "workspaces": shown}


@router.get("/v1/{project_id}/workspaces/{workspace_id}")
def show_workspace(request: Request, principal: ProjectPrincipal, workspace_id: str) -> dict[str, Any]:
    with request.app.state.platform.store.read() as db:
        ws = workspace_for(db, principal, workspace_id)
        owner = db.get_one(Account, principal.root_id).name
        rows = db.execute(select(Account.id, Account.name).join(Member, Member.account_id == Account.id)
                          .where(Member.workspace_id == ws.id, Member.role != "none").order_by(Account.name)).all()  # fmt: skip
        return as_workspace(ws, principal.mode, owner, [{"user_id": r.id, "user_name": r.name, "user_type": "IAM"}
                                                        for r in rows])  # fmt: skip


class Mode(BaseModel):
    mode: str


@router.get("/v1/auth-mode")
def show_authmode_detail(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    return {"domain_id": domain_id(principal.root_id), "mode": principal.mode}


@router.put("/v1/auth-mode")
def update_auth_mode(request: Request, principal: PrincipalDep, body: Mode) -> dict[str, Any]:
    """strict: sub-accounts may nothing until made members; loose: everything until denied. The main account's."""
    with request.app.state.platform.store.write() as db:
        main = accounts.set_authorization_mode(db, principal, body.mode)
        return {"domain_id": domain_id(principal.root_id), "mode": main.authorization_mode}


class Check(BaseModel):
    action: str = Field(max_length=128)
    action_id: str | None = Field(default=None, max_length=128)
    resource: str | None = Field(default=None, max_length=512)
    service_attributes: dict[str, str] | None = None


class Checks(BaseModel):
    requests: list[Check] = Field(max_length=100)


def permission_for(action: str) -> str:
    """The platform permission behind a ModelArts action such as `modelarts:model:create`."""
    service, _, rest = action.partition(":")
    resource, _, verb = rest.partition(":")
    if service != "modelarts" or not verb or (verb not in READS and resource not in WRITES):
        raise InvalidParameter(
            "An action is modelarts:<resource>:<verb>, like modelarts:model:create.", code="ModelArts.0101",
            hint=f"Resources: {', '.join(WRITES)}; reads are {', '.join(READS)}.",
        )  # fmt: skip
    if verb in READS:
        return "list"
    return "invoke" if (resource, verb) == ("service", "invoke") else WRITES[resource]


def verdict(db: Any, principal: Principal, ws: Workspace | None, cloud_id: str, check: Check) -> dict[str, Any]:
    permission = permission_for(check.action)
    role = role_in(db, principal, ws.id) if ws is not None else None
    allowed = role is not None and permission in ROLES.get(role, frozenset())
    out: dict[str, Any] = {"action": check.action, "action_id": check.action_id, "resource": check.resource,
                           "verdict": "allow" if allowed else "deny", "cause": []}  # fmt: skip
    if role is None:
        out["cause"] = [{"policy_name": f"workspace-access:{ws.name if ws else cloud_id}", "condition": [
            {"key": "modelarts:workspaceMember", "operator": "Bool", "value": ["false"]}]}]  # fmt: skip
    elif not allowed:
        able = [r for r, p in ROLES.items() if permission in p]
        out["cause"] = [{"policy_name": f"action-permission:{role}", "condition": [
            {"key": "modelarts:roleAllows", "operator": "StringEquals", "value": able}]}]  # fmt: skip
    return out


@router.post("/v1/{project_id}/workspaces/{workspace_id}/auth")
def validate_authorization(request: Request, principal: ProjectPrincipal, workspace_id: str, body: Checks) -> dict[str, Any]:
    """Whether the caller may do each action in the workspace. Not being able to enter the workspace is
    itself an answer here (deny, cause workspace-access), not an error; nor, for a sub-account, is a missing one."""
    with request.app.state.platform.store.read() as db:
        ws = find_workspace(db, workspace_id)
        if ws is None and principal.is_main:
            raise _missing()
        return {"results": [verdict(db, principal, ws, workspace_id, check) for check in body.requests]}
