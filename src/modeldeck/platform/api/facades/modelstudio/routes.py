"""ListWorkspaces, ListModelPermissions and UpdateModelPermissions (docs/clouds/alibaba-sdks.md, section 2).

Pages are `maxResults` long; `nextToken` is the offset of the next one (empty on the last).
UpdateModelPermissions arrives form-encoded as the SDK flattens it: `models.1.model=qwen-plus`,
`models.1.inference=True` (Python's spelling of booleans).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Query, Request

from .....errors import InvalidParameter
from .... import workspaces
from ....authz import enter
from ....schema import Workspace
from ...deps import PrincipalDep
from ...errors import request_id
from ...routing import Router
from ..alibaba import (
    ACTIONS,
    MAX_MODELS,
    SCOPES,
    choice,
    cloud_id,
    model_permissions,
    update_permissions,
    workspace_ref,
)

router = Router(tags=["modelstudio"])
MAX_RESULTS = 100


def _offset(token: str | None) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise InvalidParameter("nextToken is not one this API returned.", code="InvalidParameter.NextToken",
                               hint="Pass the nextToken of the previous page, or none for the first.")  # fmt: skip
    return int(token)


def _page(items: list[Any], token: str | None, limit: int) -> tuple[list[Any], str]:
    start = _offset(token)
    end = start + limit
    return items[start:end], (str(end) if end < len(items) else "")


def _ok(request: Request, **body: Any) -> dict[str, Any]:
    return {"requestId": request_id(request), "success": True, "code": "", "message": "", "httpStatusCode": 200, **body}


@router.get("/workspaces")
def list_workspaces(
    request: Request,
    principal: PrincipalDep,
    maxResults: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 20,
    nextToken: str | None = None,
    workspaceId: str | None = None,
    workspaceName: str | None = None,
) -> dict[str, Any]:
    """The workspaces this AccessKey's account may enter."""
    platform = request.app.state.platform
    with platform.store.read() as db:
        found = workspaces.listing(db, principal)
    wanted = workspace_ref(workspaceId)
    found = [(w, r) for w, r in found if (not wanted or w.id == wanted) and (not workspaceName or w.name == workspaceName)]
    host = f"{request.url.scheme}://{request.headers.get('host', '')}/dashscope"
    shown, token = _page([_workspace(w, host) for w, _ in found], nextToken, maxResults)
    return _ok(request, totalCount=len(found), maxResults=maxResults, nextToken=token, workspaces=shown)


def _workspace(ws: Workspace, api_host: str) -> dict[str, Any]:
    return {"workspaceId": cloud_id(ws.id), "workspaceName": ws.name, "region": "local", "serviceSite": "LOCAL",
            "apiHost": api_host, "gmtCreate": ws.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")}  # fmt: skip


@router.get("/models/permissions")
def list_model_permissions(
    request: Request,
    principal: PrincipalDep,
    workspaceId: str,
    authorizationScope: str | None = None,
    modelAction: str | None = None,
    maxResults: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 20,
    nextToken: str | None = None,
) -> dict[str, Any]:
    """The models a workspace is authorized for (AUTHORIZED) or could be (AUTHORIZABLE, the default)."""
    scope = choice(authorizationScope, SCOPES, "authorizationScope")
    action = ACTIONS[choice(modelAction, tuple(ACTIONS), "modelAction")]
    query = request.query_params
    platform = request.app.state.platform
    with platform.store.read() as db:
        caller = enter(db, principal, workspace_ref(workspaceId))
        found = model_permissions(db, caller, scope, action, model=query.get("filter.model"), name=query.get("filter.name"))
    listed = [{"model": p["model"], "name": p["name"],
               "permissions": {"inference": p["permissions"]["inference"], "fineTune": p["permissions"]["fine_tune"],
                               "deploy": p["permissions"]["deploy"]}} for p in found]  # fmt: skip
    shown, token = _page(listed, nextToken, maxResults)
    return _ok(request, totalCount=len(found), maxResults=maxResults, nextToken=token, list=shown)


def _flag(value: str | None, what: str) -> bool:
    if value is None or value.lower() in ("false", "0"):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise InvalidParameter(f"{what} must be True or False.", code="InvalidParameter.Permissions",
                           hint="Send each of inference, fineTune and deploy as True or False.")  # fmt: skip


def _requested_models(form: dict[str, str]) -> list[tuple[str, list[str]]]:
    """`models.N.*` of the form, in order: each model's name and the actions it should have."""
    wire_actions = {"inference": "inference", "fineTune": "fine_tune", "deploy": "deploy"}
    numbers = sorted({int(k.split(".")[1]) for k in form if k.startswith("models.") and k.split(".")[1].isdigit()})
    if len(numbers) > MAX_MODELS:
        raise InvalidParameter(f"At most {MAX_MODELS} models per request.", code="InvalidParameter.Permissions",
                               hint="Split the change into several requests.")  # fmt: skip
    out = []
    for n in numbers:
        name = form.get(f"models.{n}.model")
        if not name:
            raise InvalidParameter(f"models.{n}.model is required.", code="InvalidParameter.Permissions",
                                   hint="Name each model by its name, like models.1.model=qwen-plus.")  # fmt: skip
        out.append((name, [a for w, a in wire_actions.items() if _flag(form.get(f"models.{n}.{w}"), f"models.{n}.{w}")]))
    return out


@router.post("/models/permissions")
async def update_model_permissions(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    """Authorize a workspace for models (the actions given True), or revoke them (all False).

    `accessAllEntities` must be KEEP (change only the listed models); OPEN and CLOSE are refused.
    """
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        raise InvalidParameter("The body must be form-encoded, as the ModelStudio SDK sends it.",
                               code="InvalidParameter.Body", hint="Send application/x-www-form-urlencoded.")  # fmt: skip
    form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    target = form.get("workspaceId")
    if not target:
        raise InvalidParameter("workspaceId is required.", code="InvalidParameter.Permissions",
                               hint="Name the workspace to authorize, like workspaceId=ws_….")  # fmt: skip
    if (form.get("accessAllEntities") or "KEEP").upper() != "KEEP":
        raise InvalidParameter("Only accessAllEntities=KEEP is supported here.", code="InvalidParameter.Permissions",
                               hint="List the models to change with models.N.model and KEEP.")  # fmt: skip
    changes = _requested_models(form)
    platform = request.app.state.platform
    with platform.store.write() as db:
        update_permissions(db, principal, workspace_ref(target) or "", changes)
    return _ok(request)
