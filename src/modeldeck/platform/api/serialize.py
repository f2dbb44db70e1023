"""Rows to JSON bodies: what each resource looks like on the wire."""

from __future__ import annotations

from typing import Any

from orjson import Fragment
from starlette.responses import Response

from ..registry import ModelView
from ..wirejson import dumps, stored
from ..schema import Account, ApiKey, Artifact, Grant, ModelVersion, Workspace, iso_utc


def workspace(ws: Workspace, role: str | None = None) -> dict[str, Any]:
    out = {
        "id": ws.id, "name": ws.name, "description": ws.description, "is_default": ws.is_default,
        "created_at": ws.created_at, "updated_at": ws.updated_at,
    }  # fmt: skip
    if role is not None:
        out["role"] = role
    return out


def account(acc: Account, role: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": acc.id, "name": acc.name, "kind": acc.kind, "created_at": acc.created_at}
    if acc.kind == "main":
        out["authorization_mode"] = acc.authorization_mode
    if role is not None:
        out["role"] = role
    return out


def api_key(row: ApiKey, secret: str | None = None) -> dict[str, Any]:
    out = {"id": row.id, "account_id": row.account_id, "prefix": row.prefix, "created_at": row.created_at,
           "revoked_at": row.revoked_at}  # fmt: skip
    if secret is not None:
        out["api_key"] = secret  # shown once, at creation
    return out


def model(view: ModelView) -> dict[str, Any]:
    m = view.model
    out = {
        "id": m.id, "model_name": m.model_name, "workspace_id": m.workspace_id, "owner_workspace": view.owner,
        "source": view.source, "actions": view.actions, "task": m.task, "domain": m.domain, "origin": m.origin,
        "accessibility": m.accessibility, "model_type": m.model_type, "labels": _json(m.labels),
        "description": m.description, "extra_info": _json(m.extra_info), "created_at": iso_utc(m.created_at),
        "updated_at": iso_utc(m.updated_at),
    }  # fmt: skip
    latest = view.latest
    out["latest_version"] = (
        None if latest is None else {"version_name": latest.version_name, "approval_status": latest.approval_status}
    )
    return out


def version(row: ModelVersion, model_name: str) -> dict[str, Any]:
    """A version from its ORM object or from a listing's plain row (JSON and timestamps as stored)."""
    return {
        "version_id": f"{row.model_id}:{row.version_name}", "model_id": row.model_id, "model_name": model_name,
        "version_name": row.version_name, "uri": row.uri, "format_type": row.format_type,
        "framework_type": row.framework_type, "source_type": row.source_type, "source_id": row.source_id,
        "approval_status": row.approval_status, "labels": _json(row.labels), "metrics": _json(row.metrics),
        "training_spec": _json(row.training_spec), "inference_spec": _json(row.inference_spec),
        "extra_info": _json(row.extra_info), "options": row.options, "description": row.description,
        "signature": _json(row.signature), "runnable": bool(row.runnable), "not_runnable_reason": row.not_runnable_reason,
        "created_by": row.created_by, "created_at": iso_utc(row.created_at), "updated_at": iso_utc(row.updated_at),
    }  # fmt: skip


def _json(value: Any) -> Any:
    """A JSON column as read past the ORM: its stored text (listings read it as text on every backend)
    goes into the body as it is, unless it may hold a NaN written before NaN was refused; an ORM object's
    value is already parsed."""
    if isinstance(value, str):
        return stored(value) if "NaN" in value or "Infinity" in value else Fragment(value)
    return value


def grant(row: Grant, workspace_name: str) -> dict[str, Any]:
    return {"model_id": row.model_id, "workspace_id": row.workspace_id, "workspace": workspace_name,
            "actions": row.actions, "created_at": row.created_at}  # fmt: skip


def artifact(row: Artifact) -> dict[str, Any]:
    return {"digest": row.digest, "uri": f"artifact://sha256:{row.digest}", "files": row.files, "size": row.size,
            "created_at": row.created_at}  # fmt: skip


def page(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}


class Json(Response):
    """A JSON body written by orjson in one pass: routes that return one skip FastAPI's per-value encoder
    (listings serialize their rows straight into the page); a NaN stored before it was refused is null."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)
