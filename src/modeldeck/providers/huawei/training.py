"""The state of the training job a ModelArts model came from, in the console's words.

A model a training job produced names it (`source_job_id`); ShowTrainingJobDetails
(`GET /v2/{project_id}/training-jobs/{training_job_id}`, as `huaweicloudsdkmodelarts` writes it) says the job's
`status.phase`, which the console shows as one of six training states. A job the caller cannot see, or one
deleted since, has no state (None), rather than a guessed one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..._http import Call
from ...resources import ModelVersion

# ModelArts' job phases (`v1/model/status.py`) -> the console's training states: a job created or queued is
# already "training" there (the console has no earlier state); Terminating is stopping, Terminated stopped.
STATES = {"Creating": "training", "Pending": "training", "Running": "training", "Completed": "completed",
          "Failed": "failed", "Terminating": "stopping", "Terminated": "stopped", "Abnormal": "abnormal"}  # fmt: skip
UNSEEN = (403, 404)  # a job of another workspace, or deleted: no state
FROM_TRAINING = "TrainingService"  # the deck's source_type of a version a training job produced


def state(job: dict[str, Any]) -> str | None:
    """The training state of a ShowTrainingJobDetails body; None for a phase ModelArts did not document."""
    return STATES.get((job.get("status") or {}).get("phase") or "")


def job_state(job_id: str):  # type: ignore[no-untyped-def]
    """The training state of job `job_id` (None when it cannot be seen)."""
    path = "/v2/{project_id}/training-jobs/" + quote(job_id, safe="")
    answer = yield Call("GET", path, headers={"Content-Type": "application/json"}, ok=UNSEEN)
    return None if answer.status_code in UNSEEN else state(answer.json())


def source_job(item: dict[str, Any]) -> dict[str, Any]:
    """A ModelArts model's training job as the version's source (`source_type` TrainingService, `source_id`)."""
    job = item.get("source_job_id")
    return {"source_type": FROM_TRAINING, "source_id": job} if job else {}


def job_of(spec: dict[str, Any]) -> dict[str, Any]:
    """A new version's training job (`source_type` TrainingService, `source_id`) as ModelArts' `source_job_id`."""
    made = spec.get("source_type") == FROM_TRAINING and spec.get("source_id")
    return {"source_job_id": spec["source_id"]} if made else {}


def with_states(versions: list[ModelVersion]):  # type: ignore[no-untyped-def]
    """The versions, those a training job produced with its state; each job asked once."""
    known: dict[str, str | None] = {}
    for version in versions:
        if version.source_type == FROM_TRAINING and version.source_id:
            if version.source_id not in known:
                known[version.source_id] = yield from job_state(version.source_id)
            version.training_state = version.raw["training_state"] = known[version.source_id]
    return versions
