"""Deployments as rows: created, changed and listed by callers with the right permissions, with events.

Deploying needs `deploy` in the workspace (developer or admin) and the `deploy` action on the model
(owned here, or granted for deploy). Calling a deployment needs `invoke` in its workspace. The changes
themselves (starting replicas, upgrading, rolling back) are the controller's; this module records the
request and what the controller reports.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import Conflict, InvalidParameter, NotFound
from .. import registry
from ..authz import Caller, clip
from ..db import add_unique
from ..ids import new_id, utcnow
from ..pagination import PageRequest, keyset_page
from ..schema import Deployment, DeploymentEvent, Model, ModelVersion
from ..events import publish
from . import spec

PLATFORM = "platform"  # the actor of what the platform does by itself (restarts, automatic rollbacks)


def event(db: Session, row: Deployment, actor: str, kind: str, message: str, *, changes: dict[str, Any] | None = None,
          reason: str | None = None) -> None:  # fmt: skip
    db.add(DeploymentEvent(deployment_id=row.id, at=utcnow(), actor=actor, kind=kind, message=message,
                           changes=changes or {}, reason=reason))  # fmt: skip
    op = kind if kind in ("created", "deleted") else "updated"
    publish(db, "deployment", op, row.workspace_id, row.id, model=row.model_id)


def set_status(db: Session, row: Deployment, status: str, reason: str = "") -> None:
    """Deleting is final: a change that finishes after the delete was asked for never brings it back."""
    if row.status == "Deleting" and status != "Deleting":
        return
    row.status, row.status_reason, row.updated_at = status, reason, utcnow()
    publish(db, "deployment", "updated", row.workspace_id, row.id, model=row.model_id)


def _servable(db: Session, caller: Caller, model_ref: str, version: str | None) -> tuple[Model, ModelVersion]:
    """The version, if this workspace may deploy it and the local runtimes can serve it."""
    from ..runtimes import SAFE_FORMATS  # the runtimes pull in numpy: only a deploy needs them
    from ..runtimes.chat import ChatRuntime

    servable = SAFE_FORMATS | {ChatRuntime.format_type}

    view, row = registry.get_version(db, caller, model_ref, version, need="deploy")
    if row.approval_status == "Rejected":
        raise InvalidParameter(
            f"Version {row.version_name} of '{view.model.model_name}' was rejected; it cannot be deployed.",
            code="Deployment.VersionRejected",
            hint="Deploy an approved or pending version.",
        )
    if row.artifact_digest is None or row.format_type not in servable:
        raise InvalidParameter(
            f"Version {row.version_name} cannot be served by a deployment.",
            code="Deployment.Unservable",
            hint=f"Deployments serve uploaded checkpoints in {', '.join(sorted(servable))}.",
        )
    return view.model, row


def create(db: Session, caller: Caller, body: dict[str, Any]) -> Deployment:
    caller.require("deploy")
    name = spec.name(body.get("name"))
    replicas = spec.replicas(body.get("replicas", 1))
    engine = spec.engine(body.get("engine"))
    resources = spec.resources(body.get("resources"))
    upgrade = spec.upgrade(body.get("upgrade"), replicas)
    if not isinstance(body.get("model"), str):
        raise InvalidParameter("model must name a model.", code="InvalidParameter.Model", hint="Pass model='iris'.")
    model, version = _servable(db, caller, body["model"], body.get("version"))
    now = utcnow()
    row = Deployment(
        id=new_id("dep"), workspace_id=caller.workspace_id, name=name, model_id=model.id,
        version=version.version_name, previous_version=None, replicas=replicas, resources=resources, engine=engine,
        upgrade=upgrade, status="Creating", status_reason="", port=None, created_by=caller.principal.account_id,
        created_at=now, updated_at=now,
    )  # fmt: skip
    add_unique(db, row, Conflict(
        f"A deployment named '{name}' already exists in workspace '{caller.workspace_name}'.",
        code="Deployment.AlreadyExists",
        hint=f"Upgrade it (deck.upgrade('{name}', version)), or choose another name.",
    ))  # fmt: skip
    event(db, row, caller.principal.account_name, "created",
          f"Deploying {model.model_name} {version.version_name} with {replicas} replica(s) on the {engine} engine.",
          changes={"version": [None, version.version_name], "replicas": [None, replicas]})  # fmt: skip
    return row


def named(db: Session, caller: Caller, name: str) -> Deployment | None:
    """The caller's workspace's deployment called `name`, if there is one."""
    return db.scalar(select(Deployment).where(Deployment.workspace_id == caller.workspace_id, Deployment.name == name))


def find(db: Session, caller: Caller, ref: str) -> Deployment:
    caller.require("list")
    row = named(db, caller, ref)
    row = row or db.scalar(select(Deployment).where(Deployment.workspace_id == caller.workspace_id, Deployment.id == ref))
    if row is None:
        raise NotFound(
            f"Deployment '{clip(ref)}' does not exist in workspace '{caller.workspace_name}'.",
            code="Deployment.NotFound",
            hint="List this workspace's deployments with `modeldeck deployments` or deck.deployments().",
        )
    return row


def listing(db: Session, caller: Caller, page: PageRequest) -> tuple[list[Deployment], str | None]:
    caller.require("list")
    stmt = select(Deployment).where(Deployment.workspace_id == caller.workspace_id)
    rows, nxt = keyset_page(db, stmt, (Deployment.name,), lambda r: [r[0].name],
                            **page.bind(f"deployments|{caller.workspace_id}"))  # fmt: skip
    return [r[0] for r in rows], nxt


def events(db: Session, caller: Caller, ref: str, page: PageRequest) -> tuple[list[DeploymentEvent], str | None]:
    """Newest first."""
    row = find(db, caller, ref)
    stmt = select(DeploymentEvent).where(DeploymentEvent.deployment_id == row.id)
    rows, nxt = keyset_page(db, stmt, (DeploymentEvent.seq,), lambda r: [r[0].seq],
                            **page.bind(f"deployment-events|{row.id}"), descending=True)  # fmt: skip
    return [r[0] for r in rows], nxt


def _changeable(db: Session, caller: Caller, ref: str) -> Deployment:
    caller.require("deploy")
    row = find(db, caller, ref)
    if row.status in spec.BUSY:
        raise Conflict(
            f"Deployment '{row.name}' is {row.status}; wait until that change is done.",
            code="Deployment.Busy",
            hint="deck.deployment(name) shows its status; change it again once it is Running, Failed or Stopped.",
        )
    return row


def request_upgrade(db: Session, caller: Caller, ref: str, version: Any, mode: Any) -> tuple[Deployment, str]:
    """Record an upgrade to `version`; returns the row (now Upgrading) and the version it served."""
    row = _changeable(db, caller, ref)
    if not isinstance(version, str) or not version:
        raise InvalidParameter("version must name a version.", code="InvalidParameter.Version", hint="Pass version='2.0.0'.")
    model, target = _servable(db, caller, row.model_id, version)
    if mode is not None:
        row.upgrade = spec.upgrade(mode, row.replicas)
    before = row.version
    row.previous_version, row.version = before, target.version_name
    set_status(db, row, "Upgrading")
    event(db, row, caller.principal.account_name, "upgrading",
          f"Upgrading from {before} to {target.version_name} ({row.upgrade['mode']}).",
          changes={"version": [before, target.version_name], "upgrade": row.upgrade})  # fmt: skip
    return row, before


def request_rollback(db: Session, caller: Caller, ref: str) -> tuple[Deployment, str]:
    row = _changeable(db, caller, ref)
    if not row.previous_version:
        raise Conflict(
            f"Deployment '{row.name}' has no earlier version to go back to.",
            code="Deployment.NoPrevious",
            hint="Upgrade it to the version you want instead.",
        )
    _servable(db, caller, row.model_id, row.previous_version)
    before = row.version
    row.version, row.previous_version = row.previous_version, before
    set_status(db, row, "RollingBack")
    event(db, row, caller.principal.account_name, "rolling_back", f"Rolling back from {before} to {row.version}.",
          changes={"version": [before, row.version]})  # fmt: skip
    return row, before


def request_stop(db: Session, caller: Caller, ref: str) -> Deployment:
    row = _changeable(db, caller, ref)
    event(db, row, caller.principal.account_name, "stopping", "Stopping every replica.")
    return row


def request_start(db: Session, caller: Caller, ref: str) -> Deployment:
    row = _changeable(db, caller, ref)
    if row.status == "Running":
        return row
    _servable(db, caller, row.model_id, row.version)
    set_status(db, row, "Creating")
    event(db, row, caller.principal.account_name, "starting", f"Starting {row.replicas} replica(s) of {row.version}.")
    return row


def request_delete(db: Session, caller: Caller, ref: str) -> Deployment:
    caller.require("deploy")
    row = find(db, caller, ref)
    if row.status == "Deleting":
        return row
    if row.status in spec.BUSY - {"Creating"}:
        raise Conflict(f"Deployment '{row.name}' is {row.status}; wait until that change is done.",
                       code="Deployment.Busy", hint="Delete it once it is Running, Failed or Stopped.")  # fmt: skip
    set_status(db, row, "Deleting")
    event(db, row, caller.principal.account_name, "deleting", "Stopping every replica, then deleting the deployment.")
    return row
