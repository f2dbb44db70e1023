"""Asynchronous tasks in the workspace named by the X-ModelDeck-Workspace header: submit, poll, cancel, list."""

from __future__ import annotations

from typing import Any


from ..pagination import PageRequest
from ..schema import Task
from . import serialize
from .bodies import Body
from .routing import Router
from .deps import CallerDep, PlatformDep

router = Router(prefix="/api/v1/tasks", tags=["tasks"], strict_query=True)


class TaskCreate(Body):
    """A task: `input` is the body the synchronous endpoint takes (predict: inputs, records or columns)."""

    kind: str = "predict"
    model: str
    version: str | None = None
    input: dict[str, Any]


def task(row: Task, *, with_result: bool = True) -> dict[str, Any]:
    out = {
        "id": row.id, "kind": row.kind, "model": row.model_ref, "version": row.version, "status": row.status,
        "progress": row.progress, "cancel_requested": row.cancel_requested, "error": row.error,
        "created_at": row.created_at, "started_at": row.started_at, "finished_at": row.finished_at,
        "expires_at": row.expires_at,
    }  # fmt: skip
    if with_result:
        out["result"] = row.result
    return out


@router.post("", status_code=202)
def submit(platform: PlatformDep, caller: CallerDep, body: TaskCreate) -> dict[str, Any]:
    """Accept a task and return it PENDING; poll GET /api/v1/tasks/{id} until SUCCEEDED, FAILED or CANCELED."""
    return task(platform.tasks.submit(caller, body.kind, body.model, body.version, body.input))


@router.get("")
def list_tasks(
    platform: PlatformDep,
    caller: CallerDep,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Newest first and without results (GET a task for its result); follow next_cursor for older ones."""
    rows, nxt = platform.tasks.listing(caller, PageRequest(platform.cursors, limit, cursor), status)
    return serialize.page([task(r, with_result=False) for r in rows], nxt)


@router.get("/{task_id}")
def get_task(platform: PlatformDep, caller: CallerDep, task_id: str) -> dict[str, Any]:
    """The task; `result` once SUCCEEDED, `error` ({code, message, hint}) once FAILED."""
    return task(platform.tasks.get(caller, task_id))


@router.post("/{task_id}/cancel")
def cancel_task(platform: PlatformDep, caller: CallerDep, task_id: str) -> dict[str, Any]:
    """CANCELED at once when PENDING; RUNNING with cancel_requested until the job stops, then CANCELED."""
    return task(platform.tasks.cancel(caller, task_id))
