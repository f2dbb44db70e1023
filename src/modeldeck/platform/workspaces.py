"""Workspaces (at most 10 per account, one default) and their members."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import AccessDenied, Conflict, InvalidParameter, QuotaExceeded
from . import fields
from .events import publish
from .accounts import find_account
from .authz import ROLES, Caller, Principal, member_workspaces, role_in
from .ids import new_id, utcnow
from .pagination import PageRequest, keyset_page
from .schema import Account, Member, Model, Workspace

MAX_WORKSPACES = 10


def create(db: Session, principal: Principal, name: str, description: str = "") -> Workspace:
    """The main account, or an admin of the default workspace, creates workspaces."""
    _require_namer(db, principal, "create workspaces")
    fields.slug(name, "workspace")
    description = fields.text(description, "description")
    db.get(Account, principal.root_id, with_for_update=True)  # serializes quota checks on PostgreSQL
    count = db.scalar(select(func.count()).select_from(Workspace).where(Workspace.account_id == principal.root_id))
    if count >= MAX_WORKSPACES:
        raise QuotaExceeded(
            f"The account already has {MAX_WORKSPACES} workspaces, the most it may hold.",
            code="Workspace.QuotaExceeded",
            hint="Delete a workspace you no longer use, then create the new one.",
        )
    _ensure_free_name(db, principal.root_id, name)
    now = utcnow()
    ws = Workspace(
        id=new_id("ws"), account_id=principal.root_id, name=name, description=description, is_default=False,
        created_at=now, updated_at=now,
    )
    db.add(ws)
    db.flush()  # the workspace row must exist before the membership that points at it
    if not principal.is_main:
        db.add(Member(workspace_id=ws.id, account_id=principal.account_id, role="admin", created_at=now))
        db.flush()
    publish(db, "workspace", "created", ws.id, ws.id)
    return ws


def _require_namer(db: Session, principal: Principal, action: str) -> None:
    """Workspace names are the account's one namespace, and a name that is taken answers so: only those who
    may create workspaces (the main account, admins of the default one) create or rename them, so no other
    sub-account can probe the names of workspaces it does not belong to."""
    if not principal.is_main:
        default = db.scalar(select(Workspace).where(Workspace.is_default.is_(True)))
        if default is None or role_in(db, principal, default.id) != "admin":
            raise AccessDenied(
                f"Only the main account or an admin of the default workspace can {action}.",
                hint=f"Ask an admin of the default workspace to {action}, or to make you an admin there.",
            )


def listing(db: Session, principal: Principal) -> list[tuple[Workspace, str]]:
    return member_workspaces(db, principal)


def update(db: Session, caller: Caller, name: str | None, description: str | None) -> Workspace:
    caller.require("manage")
    ws = db.get_one(Workspace, caller.workspace_id)
    if name is not None and name != ws.name:
        _require_namer(db, caller.principal, "rename workspaces")
        fields.slug(name, "workspace")
        _ensure_free_name(db, ws.account_id, name)
        ws.name = name
    if description is not None:
        ws.description = fields.text(description, "description")
    ws.updated_at = utcnow()
    publish(db, "workspace", "updated", ws.id, ws.id)
    return ws


def delete(db: Session, caller: Caller) -> None:
    caller.require("manage")
    ws = db.get_one(Workspace, caller.workspace_id)
    if ws.is_default:
        raise InvalidParameter(
            "The default workspace cannot be deleted.",
            code="Workspace.DefaultUndeletable",
            hint="Every account keeps its default workspace; delete another one.",
        )
    if db.scalar(select(Model.id).where(Model.workspace_id == ws.id).limit(1)) is not None:
        raise Conflict(
            f"Workspace '{ws.name}' still owns models.",
            code="Workspace.NotEmpty",
            hint="Delete or move its models first; deleting a workspace never deletes models silently.",
        )
    db.delete(ws)
    publish(db, "workspace", "deleted", ws.id, ws.id)


def members(db: Session, caller: Caller, page: PageRequest) -> tuple[list[tuple[Account, str]], str | None]:
    caller.require("list")
    stmt = (
        select(Account, Member.role)
        .join(Member, Member.account_id == Account.id)
        .where(Member.workspace_id == caller.workspace_id, Member.role != "none")
    )
    rows, nxt = keyset_page(
        db, stmt, (Account.name,), lambda row: [row[0].name], **page.bind(f"members|{caller.workspace_id}")
    )
    return [(account, role) for account, role in rows], nxt


def set_member(db: Session, caller: Caller, account_ref: str, role: str) -> tuple[Account, str]:
    caller.require("manage")
    role = fields.choice(role, tuple(ROLES), "role")
    account = _sub_account(db, caller, account_ref)
    row = db.get(Member, (caller.workspace_id, account.id))
    if row is None:
        db.add(Member(workspace_id=caller.workspace_id, account_id=account.id, role=role, created_at=utcnow()))
    else:
        row.role = role
    db.flush()
    publish(db, "member", "created" if row is None else "updated", caller.workspace_id, account.id, account=account.id)
    return account, role


def remove_member(db: Session, caller: Caller, account_ref: str) -> None:
    """Strict mode deletes the membership; loose mode records the removal, since absence means 'developer'."""
    caller.require("manage")
    account = _sub_account(db, caller, account_ref)
    row = db.get(Member, (caller.workspace_id, account.id))
    if caller.principal.mode == "loose":
        if row is None:
            db.add(Member(workspace_id=caller.workspace_id, account_id=account.id, role="none", created_at=utcnow()))
        else:
            row.role = "none"
    elif row is not None:
        db.delete(row)
    publish(db, "member", "deleted", caller.workspace_id, account.id, account=account.id)


def _sub_account(db: Session, caller: Caller, ref: str) -> Account:
    account = find_account(db, ref, seen_by=caller.principal)
    if account.kind == "main":
        raise InvalidParameter(
            "The main account is an admin of every workspace; its role cannot change.",
            code="InvalidParameter.Account",
            hint="Name a sub-account.",
        )
    return account


def _ensure_free_name(db: Session, account_id: str, name: str) -> None:
    exists = db.scalar(select(Workspace.id).where(Workspace.account_id == account_id, Workspace.name == name))
    if exists is not None:
        raise Conflict(
            f"A workspace named '{name}' already exists.",
            code="Workspace.AlreadyExists",
            hint="Choose another name, or switch to the existing workspace.",
        )
