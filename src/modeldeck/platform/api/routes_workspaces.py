"""Workspaces and their members. The workspace is named in the path here."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from .. import workspaces
from ..authz import Caller, Principal, enter
from ..core import Platform
from ..pagination import PageRequest
from . import serialize
from .bodies import MemberSet, WorkspaceCreate, WorkspaceUpdate
from .routing import Router
from .deps import PlatformDep, PrincipalDep

router = Router(prefix="/api/v1/workspaces", tags=["workspaces"], strict_query=True)


def _enter(platform: Platform, principal: Principal, workspace: str) -> Caller:
    with platform.store.read() as db:
        return enter(db, principal, workspace)


@router.get("")
def list_workspaces(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """The workspaces the caller may enter, with its role in each."""
    with platform.store.read() as db:
        return serialize.page([serialize.workspace(w, r) for w, r in workspaces.listing(db, principal)], None)


@router.post("", status_code=201)
def create_workspace(platform: PlatformDep, principal: PrincipalDep, body: WorkspaceCreate) -> dict[str, Any]:
    with platform.store.write() as db:
        ws = workspaces.create(db, principal, body.name, body.description)
        return serialize.workspace(ws, "admin")


@router.get("/{workspace}")
def get_workspace(platform: PlatformDep, principal: PrincipalDep, workspace: str) -> dict[str, Any]:
    caller = _enter(platform, principal, workspace)
    with platform.store.read() as db:
        return serialize.workspace(db.get_one(workspaces.Workspace, caller.workspace_id), caller.role)


@router.patch("/{workspace}")
def update_workspace(
    platform: PlatformDep, principal: PrincipalDep, workspace: str, body: WorkspaceUpdate
) -> dict[str, Any]:
    caller = _enter(platform, principal, workspace)
    with platform.store.write() as db:
        return serialize.workspace(workspaces.update(db, caller, body.name, body.description), caller.role)


@router.delete("/{workspace}", status_code=204)
def delete_workspace(platform: PlatformDep, principal: PrincipalDep, workspace: str) -> Response:
    caller = _enter(platform, principal, workspace)
    with platform.store.write() as db:
        workspaces.delete(db, caller)
    return Response(status_code=204)


@router.get("/{workspace}/members")
def list_members(
    platform: PlatformDep, principal: PrincipalDep, workspace: str, limit: int | None = None, cursor: str | None = None
) -> dict[str, Any]:
    caller = _enter(platform, principal, workspace)
    with platform.store.read() as db:
        rows, nxt = workspaces.members(db, caller, PageRequest(platform.cursors, limit, cursor))
        return serialize.page([serialize.account(a, r) for a, r in rows], nxt)


@router.put("/{workspace}/members/{account}")
def set_member(
    platform: PlatformDep, principal: PrincipalDep, workspace: str, account: str, body: MemberSet
) -> dict[str, Any]:
    caller = _enter(platform, principal, workspace)
    with platform.store.write() as db:
        acc, role = workspaces.set_member(db, caller, account, body.role)
        return serialize.account(acc, role)


@router.delete("/{workspace}/members/{account}", status_code=204)
def remove_member(platform: PlatformDep, principal: PrincipalDep, workspace: str, account: str) -> Response:
    caller = _enter(platform, principal, workspace)
    with platform.store.write() as db:
        workspaces.remove_member(db, caller, account)
    return Response(status_code=204)
