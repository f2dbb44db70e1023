"""Models, grants, versions and predict, in the workspace named by the X-ModelDeck-Workspace header."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Response

from .. import registration, registry
from ..pagination import PageRequest
from . import serialize
from .bodies import GrantSet, ModelCreate, ModelUpdate, VersionCreate, VersionUpdate
from .routing import Router
from .deps import CallerDep, PlatformDep

router = Router(prefix="/api/v1/models", tags=["models"], strict_query=True)


@router.get("")
def list_models(
    platform: PlatformDep,
    caller: CallerDep,
    q: str | None = None,
    task: str | None = None,
    action: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> serialize.Json:
    """The models this workspace may see: owned, granted (with the granted actions) and PUBLIC ones."""
    with platform.store.read() as db:
        page = PageRequest(platform.cursors, limit, cursor)
        views, nxt = registry.list_models(db, caller, page, query=q, task=task, action=action)
    return serialize.Json(serialize.page([serialize.model(v) for v in views], nxt))


@router.post("", status_code=201)
def create_model(platform: PlatformDep, caller: CallerDep, body: ModelCreate) -> dict[str, Any]:
    attrs = body.model_dump(exclude_unset=True)
    name = attrs.pop("model_name")
    with platform.store.write() as db:
        model = registry.create_model(db, caller, name, **attrs)
        return serialize.model(registry.ModelView(model, caller.workspace_name, "owned", registry.OWNER_ACTIONS))


@router.get("/{model}")
def get_model(platform: PlatformDep, caller: CallerDep, model: str) -> dict[str, Any]:
    with platform.store.read() as db:
        view = registry.resolve_model(db, caller, model)
        registry.attach_latest(db, view)
        return serialize.model(view)


@router.patch("/{model}")
def update_model(platform: PlatformDep, caller: CallerDep, model: str, body: ModelUpdate) -> dict[str, Any]:
    with platform.store.write() as db:
        return serialize.model(registry.update_model(db, caller, model, **body.model_dump(exclude_unset=True)))


@router.delete("/{model}", status_code=204)
def delete_model(platform: PlatformDep, caller: CallerDep, model: str) -> Response:
    with platform.store.write() as db:
        registry.delete_model(db, caller, model)
    return Response(status_code=204)


@router.get("/{model}/grants")
def list_grants(platform: PlatformDep, caller: CallerDep, model: str) -> dict[str, Any]:
    with platform.store.read() as db:
        return serialize.page([serialize.grant(g, n) for g, n in registry.list_grants(db, caller, model)], None)


@router.put("/{model}/grants/{workspace}")
def authorize(platform: PlatformDep, caller: CallerDep, model: str, workspace: str, body: GrantSet) -> dict[str, Any]:
    """Authorize another workspace for this model and a set of actions (inference, fine_tune, deploy)."""
    with platform.store.write() as db:
        grant, name = registry.authorize(db, caller, model, workspace, body.actions)
        return serialize.grant(grant, name)


@router.delete("/{model}/grants/{workspace}", status_code=204)
def revoke(platform: PlatformDep, caller: CallerDep, model: str, workspace: str) -> Response:
    with platform.store.write() as db:
        registry.revoke(db, caller, model, workspace)
    return Response(status_code=204)


@router.get("/{model}/versions")
def list_versions(
    platform: PlatformDep,
    caller: CallerDep,
    model: str,
    approval_status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> serialize.Json:
    """Newest first; follow next_cursor for older versions."""
    with platform.store.read() as db:
        page = PageRequest(platform.cursors, limit, cursor)
        view, rows, nxt = registry.list_versions(db, caller, model, page, approval_status=approval_status)
    return serialize.Json(serialize.page([serialize.version(r, view.model.model_name) for r in rows], nxt))


@router.post("/{model}/versions", status_code=201)
def create_version(
    platform: PlatformDep,
    caller: CallerDep,
    model: str,
    body: VersionCreate,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> dict[str, Any]:
    """Register a version. With an Idempotency-Key, a retried request returns the same version (200).
    The checkpoint is detected and checked first (`registration.inspect`): a file that is not what it
    claims is refused before the version exists."""
    spec = body.model_dump(exclude_unset=True)
    inspection = registration.inspect(platform, caller, model, spec)
    with platform.store.write() as db:
        row, created = registry.create_version(
            db, caller, model, spec, idempotency_key=idempotency_key,
            allowed_networks=platform.settings.allowed_networks, inspection=inspection,
        )  # fmt: skip
        name = db.get_one(registry.Model, row.model_id).model_name
    if not created:
        response.status_code = 200
    return serialize.version(row, name)


@router.get("/{model}/versions/{version}")
def get_version(platform: PlatformDep, caller: CallerDep, model: str, version: str) -> dict[str, Any]:
    with platform.store.read() as db:
        view, row = registry.get_version(db, caller, model, version)
        return serialize.version(row, view.model.model_name)


@router.patch("/{model}/versions/{version}")
def update_version(
    platform: PlatformDep, caller: CallerDep, model: str, version: str, body: VersionUpdate
) -> dict[str, Any]:
    with platform.store.write() as db:
        row = registry.update_version(
            db, caller, model, version, body.model_dump(exclude_unset=True), platform.settings.allowed_networks
        )
        return serialize.version(row, db.get_one(registry.Model, row.model_id).model_name)


@router.delete("/{model}/versions/{version}", status_code=204)
def delete_version(platform: PlatformDep, caller: CallerDep, model: str, version: str) -> Response:
    with platform.store.write() as db:
        registry.delete_version(db, caller, model, version)
    return Response(status_code=204)


@router.post("/{model}/versions/{version}/approve")
def approve(platform: PlatformDep, caller: CallerDep, model: str, version: str) -> dict[str, Any]:
    return _decide(platform, caller, model, version, "Approved")


@router.post("/{model}/versions/{version}/reject")
def reject(platform: PlatformDep, caller: CallerDep, model: str, version: str) -> dict[str, Any]:
    return _decide(platform, caller, model, version, "Rejected")


def _decide(platform, caller, model, version, status):  # type: ignore[no-untyped-def]
    with platform.store.write() as db:
        row = registry.decide(db, caller, model, version, status)
        return serialize.version(row, db.get_one(registry.Model, row.model_id).model_name)
