"""ModelArts models ("AI applications", cloud-protocols.md 4.5; not in the Python SDK): one ModelArts model
is one version of a platform model, `model_id` = `<platform model id>.<version>`. Creating one from an OBS
`source_location` needs the ModelArts agency delegated to the caller (ModelArts reads OBS through it).
A model made by a training job names it in `source_job_id` (the platform's `source_id`, `source_type`
TrainingService); `training.py` answers for that job.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from .....errors import InvalidParameter, NotFound
from .... import registration, registry
from ....authz import Caller, Principal, enter
from ....schema import Model, ModelVersion
from ...routing import Router
from ..huawei.deps import ProjectPrincipal
from ..huawei.ids import DEFAULT_WORKSPACE
from .agency import require_delegated
from .workspaces import workspace_for

router = Router(tags=["modelarts"])
VERSION = re.compile(r"^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$")
TYPES = ("TensorFlow", "MXNet", "Caffe", "Spark_MLlib", "Scikit_Learn", "XGBoost", "Image", "PyTorch", "Template",
         "Custom", "MindSpore")  # fmt: skip
STATUS = {"Rejected": "failed"}  # any other approval status: published
FROM_TRAINING = "TrainingService"  # the platform's source_type of a version a training job produced


class CreateModel(BaseModel):
    model_name: str = Field(min_length=1, max_length=64)
    model_version: str
    source_location: str = Field(min_length=1, max_length=1024)
    model_type: str
    workspace_id: str = DEFAULT_WORKSPACE
    description: str = Field(default="", max_length=100)
    runtime: str | None = None
    source_type: str | None = None
    source_job_id: str | None = Field(default=None, min_length=1, max_length=256)  # the training job it came from
    install_type: list[str] | None = None


def _caller(db: Any, principal: Principal, cloud_id: str) -> Caller:
    return enter(db, principal, workspace_for(db, principal, cloud_id).id)


def as_model(model: Model, version: ModelVersion, cloud_ws: str, owner: str) -> dict[str, Any]:
    return {"model_id": f"{model.id}.{version.version_name}", "model_name": model.model_name,
            "model_version": version.version_name, "model_type": model.model_type or "Custom",
            "model_status": STATUS.get(version.approval_status, "published"), "model_source": "custom",
            "source_type": version.source_type or "", "source_location": version.uri, "model_size": 0,
            "workspace_id": cloud_ws, "owner": owner, "create_at": int(version.created_at.timestamp() * 1000),
            "description": version.description, "install_type": ["real-time"],
            "runtime": (version.extra_info or {}).get("runtime"),
            **({"source_job_id": version.source_id} if version.source_type == FROM_TRAINING and version.source_id else {})}  # fmt: skip


def _rows(db: Any, caller: Caller) -> Any:
    return (select(Model, ModelVersion).join(ModelVersion, ModelVersion.model_id == Model.id)
            .where(Model.workspace_id == caller.workspace_id).order_by(Model.model_name, ModelVersion.seq))  # fmt: skip


@router.post("/v1/{project_id}/models")
def create_model(request: Request, principal: ProjectPrincipal, body: CreateModel) -> dict[str, Any]:
    if VERSION.match(body.model_version) is None:
        raise InvalidParameter("model_version is D.D.D (numbers without leading zeros), like 1.0.0.",
                               code="ModelArts.0101", hint="Send model_version=1.0.0.")  # fmt: skip
    if body.model_type not in TYPES:
        raise InvalidParameter(f"model_type must be one of {', '.join(TYPES)}.", code="ModelArts.0101",
                               hint="PyTorch, TensorFlow, MindSpore, Custom, ...")  # fmt: skip
    platform = request.app.state.platform
    with platform.store.write() as db:
        caller = _caller(db, principal, body.workspace_id)
        caller.require("register")  # the action's permission first, then whether ModelArts may read OBS for it
        if body.source_location.startswith("obs://"):
            require_delegated(db, principal)
        model = db.scalar(select(Model).where(Model.workspace_id == caller.workspace_id, Model.model_name == body.model_name))
        if model is None:
            model = registry.create_model(db, caller, body.model_name, model_type=body.model_type,
                                          description=body.description)  # fmt: skip
        model_id = model.id
    spec = {"version_name": body.model_version, "uri": body.source_location, "description": body.description,
            "extra_info": {"runtime": body.runtime} if body.runtime else {},
            **({"source_type": FROM_TRAINING, "source_id": body.source_job_id} if body.source_job_id else {})}  # fmt: skip
    inspection = registration.inspect(platform, caller, model_id, spec)  # an object of ours: its format, so it deploys
    with platform.store.write() as db:
        version, _ = registry.create_version(db, caller, model_id, spec, allowed_networks=platform.settings.allowed_networks,
                                             inspection=inspection)  # fmt: skip
        return {"model_id": f"{model_id}.{version.version_name}"}


@router.get("/v1/{project_id}/models")
def list_models(
    request: Request, principal: ProjectPrincipal, model_name: str | None = None, exact_match: str = "false",
    model_version: str | None = None, model_type: str | None = None, workspace_id: str = DEFAULT_WORKSPACE,
    offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> dict[str, Any]:  # fmt: skip
    """The models (versions) of a workspace; `model_name` fuzzy unless `exact_match=true`."""
    with request.app.state.platform.store.read() as db:
        caller = _caller(db, principal, workspace_id)
        caller.require("list")
        stmt = _rows(db, caller)
        if model_name:
            exact = exact_match.lower() == "true"
            stmt = stmt.where(Model.model_name == model_name if exact else Model.model_name.contains(model_name, autoescape=True))
        if model_version:
            stmt = stmt.where(ModelVersion.version_name == model_version)
        if model_type:
            stmt = stmt.where(Model.model_type == model_type)
        found = [as_model(m, v, workspace_id, principal.root_id) for m, v in db.execute(stmt).all()]
    shown = found[offset:offset + limit]
    return {"total_count": len(found), "count": len(shown), "models": shown}


def _one(db: Any, caller: Caller, model_id: str) -> tuple[Model, ModelVersion]:
    base, _, version = model_id.partition(".")
    row = db.execute(_rows(db, caller).where(Model.id == base, ModelVersion.version_name == version)).first()
    if row is None:
        raise NotFound("The model does not exist in this workspace.", code="ModelArts.0102",
                       hint="List the models: GET /v1/{project_id}/models?workspace_id=….")  # fmt: skip
    return row[0], row[1]


@router.get("/v1/{project_id}/models/{model_id}")
def show_model(request: Request, principal: ProjectPrincipal, model_id: str,
               workspace_id: str = DEFAULT_WORKSPACE) -> dict[str, Any]:  # fmt: skip
    with request.app.state.platform.store.read() as db:
        caller = _caller(db, principal, workspace_id)
        caller.require("list")
        model, version = _one(db, caller, model_id)
        return as_model(model, version, workspace_id, principal.root_id)


@router.delete("/v1/{project_id}/models/{model_id}")
def delete_model(request: Request, principal: ProjectPrincipal, model_id: str,
                 workspace_id: str = DEFAULT_WORKSPACE) -> dict[str, Any]:  # fmt: skip
    with request.app.state.platform.store.write() as db:
        caller = _caller(db, principal, workspace_id)
        model, version = _one(db, caller, model_id)
        registry.delete_version(db, caller, model.id, version.version_name)
    return {"model_id": model_id}
