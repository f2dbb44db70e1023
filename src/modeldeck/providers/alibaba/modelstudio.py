"""Model Studio management (ModelStudio 2026-02-10, AccessKey-signed): the account's workspaces and which
of them may call which model (authorize and revoke through UpdateModelPermissions).

Written as `alibabacloud-modelstudio20260210` sends it (docs/clouds/alibaba-sdks.md, section 2): ROA paths
under `/modelstudio`, camelCase query keys, UpdateModelPermissions form-encoded with Python's True/False.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from ..._http import Call
from ...errors import InvalidParameter
from ...resources import Grant, Workspace
from .errors import failed

SERVICE = "modelstudio"
VERSION = "2026-02-10"
ACTIONS = ("inference", "fine_tune", "deploy")
_WIRE = {"inference": "inference", "fine_tune": "fineTune", "deploy": "deploy"}


def _call(method: str, path: str, action: str, **kwargs: Any) -> Call:
    headers = {"accept": "application/json", "x-acs-action": action, "x-acs-version": VERSION,
               "x-acs-credentials-provider": "static_ak", **kwargs.pop("headers", {})}  # fmt: skip
    return Call(method, "/modelstudio" + path, headers=headers, service=SERVICE, **kwargs)


def _body(response: Any) -> dict[str, Any]:
    body = response.json()
    if body.get("success") is False:
        raise failed(body, response.status_code)
    return body


def as_workspace(item: dict[str, Any]) -> Workspace:
    return Workspace.from_json({"id": item.get("workspaceId", ""), "name": item.get("workspaceName", ""),
                                "description": item.get("apiHost") or "", "role": None,
                                "is_default": item.get("workspaceName") == "default"})  # fmt: skip


def workspaces():  # type: ignore[no-untyped-def]
    found, token = [], None
    while True:
        params = {"maxResults": 100, **({"nextToken": token} if token else {})}
        body = _body((yield _call("GET", "/workspaces", "ListWorkspaces", params=params)))
        found += [as_workspace(w) for w in body.get("workspaces") or []]
        token = body.get("nextToken")
        if not token:
            return found


def workspace(ref: str):  # type: ignore[no-untyped-def]
    """A workspace by id (`ws_…`: sent as it is, no AccessKey needed) or by name (looked up)."""
    if ref.startswith(("ws_", "ws-")):
        return Workspace.from_json({"id": ref, "name": ref})
    named = [w for w in (yield from workspaces()) if w.name == ref]
    if not named:
        raise InvalidParameter(f"No workspace of this account is called {ref!r}.", code="Workspace.NotFound",
                               hint="List them with deck.workspaces(), or pass the workspace id (ws_…).")  # fmt: skip
    return named[0]


def permissions(ws: str, scope: str, model: str | None = None):  # type: ignore[no-untyped-def]
    """Every model permission of a workspace in a scope (AUTHORIZED or AUTHORIZABLE), all pages."""
    found, token = [], None
    while True:
        params = {"workspaceId": ws, "authorizationScope": scope, "modelAction": "INFERENCE", "maxResults": 100,
                  **({"filter.model": model} if model else {}), **({"nextToken": token} if token else {})}  # fmt: skip
        body = _body((yield _call("GET", "/models/permissions", "ListModelPermissions", params=params)))
        found += body.get("list") or []
        token = body.get("nextToken")
        if not token:
            return found


def update(ws: str, model: str, actions: list[str]):  # type: ignore[no-untyped-def]
    """UpdateModelPermissions for one model: the given actions True, the others False (none: revoked)."""
    unknown = sorted(set(actions) - set(ACTIONS))
    if unknown:
        raise InvalidParameter(f"Unknown actions: {', '.join(unknown)}.", code="InvalidParameter.Grant",
                               hint=f"Use actions from: {', '.join(ACTIONS)}.")  # fmt: skip
    form = {"accessAllEntities": "KEEP", "workspaceId": ws, "models.1.model": model,
            **{f"models.1.{_WIRE[a]}": str(a in actions) for a in ACTIONS}}  # fmt: skip
    content = urlencode(sorted(form.items())).encode()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    _body((yield _call("POST", "/models/permissions", "UpdateModelPermissions", content=content, headers=headers)))


def authorize(ref: str, ws: str, actions: list[str]):  # type: ignore[no-untyped-def]
    yield from update(ws, ref, actions)
    return Grant.from_json({"model_id": ref, "workspace_id": ws, "workspace": ws, "actions": sorted(actions)})


def revoke(ref: str, ws: str):  # type: ignore[no-untyped-def]
    yield from update(ws, ref, [])


def grants(ref: str):  # type: ignore[no-untyped-def]
    """The workspaces authorized for a model: each workspace's AUTHORIZED permissions, asked one by one."""
    out = []
    for ws in [w for w in (yield from workspaces()) if not w.is_default]:  # the default one may call every model
        for item in (yield from permissions(ws.id, "AUTHORIZED", ref)):
            flags = item.get("permissions") or {}
            actions = [a for a in ACTIONS if flags.get(_WIRE[a])]
            if item.get("model") == ref and actions:
                out.append(Grant.from_json({"model_id": ref, "workspace_id": ws.id, "workspace": ws.name, "actions": actions}))
    return out
