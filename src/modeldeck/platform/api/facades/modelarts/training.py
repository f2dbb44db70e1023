"""ShowTrainingJobDetails (`GET /v2/{project_id}/training-jobs/{training_job_id}`, `huaweicloudsdkmodelarts`)
for the training jobs the platform knows of: those its versions were registered from (`source_type`
TrainingService, `source_id` the job's id).

The platform runs no training jobs. What it knows of such a job is that it finished and its checkpoint
was registered, so the job is answered `Completed`, in the workspace of the first version registered from
it and by that version's creator; any other job id is unknown here (404), never a running job made up.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import select

from .....errors import NotFound
from ....authz import enter, member_workspaces
from ....schema import Account, Model, ModelVersion
from ...routing import Router
from ..huawei.deps import ProjectPrincipal
from ..huawei.ids import workspace_id
from .models import FROM_TRAINING

router = Router(tags=["modelarts"])


def _missing(job_id: str) -> NotFound:
    return NotFound(f"No training job {job_id[:64]!r} is known in your workspaces.", code="ModelArts.0102",
                    hint="Only jobs a version was registered from are known here: a version's source_id "
                         "(deck.versions(model)) names its job.")  # fmt: skip


@router.get("/v2/{project_id}/training-jobs/{training_job_id}")
def show_training_job(request: Request, principal: ProjectPrincipal, training_job_id: str) -> dict[str, Any]:
    with request.app.state.platform.store.read() as db:
        mine = {w.id: w for w, _ in member_workspaces(db, principal)}
        found = db.execute(select(Model.workspace_id, ModelVersion.created_by).join(Model, Model.id == ModelVersion.model_id)
                           .where(ModelVersion.source_type == FROM_TRAINING, ModelVersion.source_id == training_job_id,
                                  Model.workspace_id.in_(mine))
                           .order_by(ModelVersion.seq).limit(1)).first()  # fmt: skip
        if found is None:
            raise _missing(training_job_id)
        enter(db, principal, found.workspace_id).require("list")
        creator = db.get(Account, found.created_by)
        # it finished before its checkpoint was registered; when it started and how long it ran, only the cloud knew
        return {"kind": "job",
                "metadata": {"id": training_job_id, "name": training_job_id, "description": "",
                             "workspace_id": workspace_id(mine[found.workspace_id]),
                             "user_name": creator.name if creator else ""},
                "status": {"phase": "Completed", "secondary_phase": "Completed"}}  # fmt: skip
