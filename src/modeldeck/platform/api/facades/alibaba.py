"""What the DashScope and Model Studio facades share: workspace ids as Alibaba Cloud writes them, and the
model permissions of a workspace (one reading for the data-plane `/api/v1/models/permissions` and the
management ListModelPermissions).

Model Studio ids look like `ws_QTggmeA...`; the platform's are `ws-<12 hex>`. The facades show
`ws_<12 hex>` and accept it, the platform's id and the workspace's name alike.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ....errors import InvalidParameter
from ... import fields, registry
from ...authz import Caller, Principal, enter, role_in
from ...registry import access
from ...schema import Grant, Model, Workspace

_CLOUD_ID = re.compile(r"^ws_(?P<hex>[0-9a-f]{12})$")
AUTHORIZED, AUTHORIZABLE = "AUTHORIZED", "AUTHORIZABLE"
SCOPES = (AUTHORIZABLE, AUTHORIZED)
MAX_MODELS = 20  # models per permissions update, as the product allows
ACTIONS = {"INFERENCE": "inference", "FINE_TUNE": "fine_tune", "DEPLOY": "deploy"}  # wire word -> grant action


def cloud_id(workspace_id: str) -> str:
    """The platform's workspace id as Model Studio writes one."""
    return "ws_" + workspace_id[3:] if workspace_id.startswith("ws-") else workspace_id


def workspace_ref(value: str | None) -> str | None:
    """What a caller sent as a workspace (`ws_…`, the platform's id or a name), as the platform resolves it."""
    if not value:
        return None
    found = _CLOUD_ID.match(value.strip())
    return f"ws-{found['hex']}" if found else value.strip()


def choice(value: str | None, allowed: tuple[str, ...], what: str) -> str:
    """An enumerated wire word (AUTHORIZED, INFERENCE, ...), any case; none given: the first allowed."""
    chosen = (value or allowed[0]).upper()
    if chosen not in allowed:
        raise InvalidParameter(f"{what} must be one of {', '.join(allowed)}.", code=f"InvalidParameter.{what}",
                               hint=f"Send {what}={allowed[0]}.")  # fmt: skip
    return chosen


def model_permissions(db: Session, caller: Caller, scope: str, action: str, *, model: str | None = None,
                      name: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The models of the account and what `caller`'s workspace may do with each, sorted by name.

    AUTHORIZED: the models the workspace may use for `action` (owned, or granted it). AUTHORIZABLE: the
    models of other workspaces it could be authorized for, with what is granted now; only those the caller
    may know of (the main account knows all, a sub-account those of workspaces it is a member of, or
    already granted or PUBLIC here). `model` matches exactly, `name` as a substring.
    """
    caller.require("list")
    ws = caller.workspace_id
    stmt = (
        select(Model.model_name, Model.workspace_id, Model.accessibility, Grant.actions_text.label("granted"))
        .outerjoin(Grant, and_(Grant.model_id == Model.id, Grant.workspace_id == ws))
        .order_by(Model.model_name, Model.id)
    )
    if model:
        stmt = stmt.where(Model.model_name == model)
    if name:
        stmt = stmt.where(Model.model_name.contains(name, autoescape=True))
    known: dict[str, bool] = {}
    out = []
    for row in db.execute(stmt):
        source, actions = access(ws, row.workspace_id, row.accessibility, row.granted)
        if scope == AUTHORIZED:
            keep = action in actions
        else:
            if row.workspace_id not in known:
                known[row.workspace_id] = caller.principal.is_main or role_in(db, caller.principal, row.workspace_id) is not None
            keep = source != "owned" and (source != "none" or known[row.workspace_id])
        if keep:
            flags = {a: a in actions for a in fields.GRANT_ACTIONS}
            out.append({"model": row.model_name, "name": row.model_name, "permissions": flags})
    return out


def update_permissions(db: Session, principal: Principal, ws_ref: str, changes: list[tuple[str, list[str]]]) -> None:
    """Authorize a workspace for each model's actions (none: revoke), granted from the default workspace as
    in the console (Models > View Details > Authorize): by the main account or an admin there."""
    default = db.scalar(select(Workspace.id).where(Workspace.is_default.is_(True)))
    admin = enter(db, principal, default)
    admin.require("authorize")
    for name, actions in changes:
        if actions:
            registry.authorize(db, admin, name, ws_ref, actions)
        else:
            registry.revoke(db, admin, name, ws_ref)
