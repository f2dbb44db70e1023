"""DashScope's native API under the facade's `/api/v1`: text generation (sync, streamed, async tasks), the
tasks it creates, and the workspace's model permissions.

The workspace comes from `X-DashScope-WorkSpace` (none: a main-account key acts in the default workspace,
a sub-account key is refused with `Workspace.AccessDenied`); the model must be authorized for inference
there (`Model.AccessDenied` otherwise). All of it is the native API's services: `authz`, `chat`, `tasks`.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from .....errors import DeckError, InvalidParameter
from .... import chat, upstream
from ....authn import Presented
from ....authz import Caller
from ....schema import Task
from ....upstream import Upstream
from ....wirejson import parse_json
from ... import deps
from ...errors import request_id
from ...routing import Router
from ..alibaba import (
    ACTIONS,
    MAX_MODELS,
    SCOPES,
    choice,
    model_permissions,
    update_permissions,
    workspace_ref,
)
from ....chatwire import SSE_HEADERS, generated
from . import wire

WORKSPACE_HEADER = "X-DashScope-WorkSpace"
router = Router(tags=["dashscope"])


async def get_caller(request: Request, shown: Annotated[Presented, Depends(deps.presented)]) -> Caller:
    """The key's account in the workspace `X-DashScope-WorkSpace` names (`ws_…`, an id or a name)."""
    ws = workspace_ref(request.headers.get(WORKSPACE_HEADER))
    return await run_in_threadpool(deps._caller, request, shown, ws)


CallerDep = Annotated[Caller, Depends(get_caller)]


def _enabled(request: Request, header: str) -> bool:
    return request.headers.get(header, "").strip().lower() == "enable"


@router.post("/api/v1/services/aigc/text-generation/generation")
async def generation(request: Request, caller: CallerDep) -> Response:
    """Generate: JSON; server-sent events with `X-DashScope-SSE: enable` (or `Accept: text/event-stream`);
    a task with `X-DashScope-Async: enable`."""
    platform, rid = request.app.state.platform, request_id(request)
    asked = wire.Generation.of(parse_json(await request.body()))
    if _enabled(request, "X-DashScope-Async"):
        name, version = chat.split_model(asked.model)
        task = await run_in_threadpool(platform.tasks.submit, caller, "chat", name, version, asked.task_input())
        return JSONResponse({"request_id": rid, "output": {"task_id": task.id, "task_status": task.status}})
    found = await run_in_threadpool(chat.find, platform, caller, asked.model)
    streaming = _enabled(request, "X-DashScope-SSE") or "text/event-stream" in request.headers.get("accept", "")
    if isinstance(found, Upstream):
        if streaming:
            raise InvalidParameter(
                "This model is proxied to an upstream server, which DashScope's API cannot stream here.",
                code="InvalidParameter", hint="Call it without stream, or stream through the compatible mode.",
            )  # fmt: skip
        body = {**asked.params, "messages": asked.messages}
        completion = await run_in_threadpool(upstream.complete, found, body, platform.settings)
        return JSONResponse(_from_completion(completion, asked.result_format, rid))
    runtime = platform.runtimes.peek(chat.runtime_key(found)) or await run_in_threadpool(chat.runtime, platform, found)
    if not streaming:
        result = await run_in_threadpool(chat.complete, runtime, asked.messages, asked.params)
        out = wire.output(result.text, result.finish_reason, asked.result_format)
        return JSONResponse({"output": out, "usage": wire.usage(result.prompt_tokens, result.completion_tokens),
                             "request_id": rid})  # fmt: skip
    cancel = threading.Event()
    deltas = chat.stream(runtime, asked.messages, asked.params, cancel)  # validates before the first byte

    async def events():  # type: ignore[no-untyped-def]
        number, text = 0, ""
        try:
            async for piece in generated(deltas, cancel):
                if not piece.text and piece.finish_reason is None:
                    continue
                number, text = number + 1, text + piece.text
                shown = piece.text if asked.incremental else text
                payload: dict[str, Any] = {"output": wire.output(shown, piece.finish_reason or "null", asked.result_format),
                                           "request_id": rid}  # fmt: skip
                if piece.finish_reason is not None:
                    payload["usage"] = wire.usage(piece.prompt_tokens, piece.completion_tokens)
                yield wire.event(number, payload)
        except DeckError as exc:  # after the first byte, an error can only travel as an event
            exc.request_id = rid
            yield wire.event(number + 1, wire.error_body(exc), exc.status or 500)
        finally:
            cancel.set()

    return StreamingResponse(events(), media_type="text/event-stream;charset=UTF-8", headers=SSE_HEADERS)


def _from_completion(completion: dict[str, Any], result_format: str, rid: str) -> dict[str, Any]:
    """An OpenAI chat.completion (a chat task's result, an upstream's answer) as DashScope's body."""
    choice = (completion.get("choices") or [{}])[0]
    text = (choice.get("message") or {}).get("content") or ""
    used = completion.get("usage") or {}
    return {"output": wire.output(text, choice.get("finish_reason") or "stop", result_format),
            "usage": wire.usage(used.get("prompt_tokens", 0), used.get("completion_tokens", 0)), "request_id": rid}  # fmt: skip


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def _task(task: Task, rid: str) -> dict[str, Any]:
    """A task as DashScope's GET /tasks/{id} answers: `output.task_status`, the result once SUCCEEDED."""
    out: dict[str, Any] = {"task_id": task.id, "task_status": task.status, "submit_time": _time(task.created_at),
                           "scheduled_time": _time(task.started_at), "end_time": _time(task.finished_at)}  # fmt: skip
    body: dict[str, Any] = {"request_id": rid, "output": out}
    if task.status == "SUCCEEDED" and isinstance(task.result, dict):
        done = _from_completion(task.result, (task.request or {}).get("result_format", "text"), rid)
        out.update(done["output"])
        body["usage"] = done["usage"]
    elif task.error:
        out.update({"code": task.error.get("code"), "message": task.error.get("message")})
    return body


@router.get("/api/v1/tasks/{task_id}")
def get_task(request: Request, caller: CallerDep, task_id: str) -> dict[str, Any]:
    return _task(request.app.state.platform.tasks.get(caller, task_id), request_id(request))


@router.post("/api/v1/tasks/{task_id}/cancel")
def cancel_task(request: Request, caller: CallerDep, task_id: str) -> dict[str, Any]:
    """A PENDING task ends CANCELED at once; a RUNNING one as soon as its generation notices."""
    return _task(request.app.state.platform.tasks.cancel(caller, task_id), request_id(request))


@router.get("/api/v1/models/permissions")
def list_permissions(
    request: Request,
    caller: CallerDep,
    name: str | None = None,
    model: str | None = None,
    page_no: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 20,
    authorization_scope: str = "AUTHORIZABLE",
    action: str = "INFERENCE",
) -> dict[str, Any]:
    """The models this workspace is authorized for (AUTHORIZED) or could be (AUTHORIZABLE, the default)."""
    scope, wanted = choice(authorization_scope, SCOPES, "authorization_scope"), choice(action, tuple(ACTIONS), "action")
    platform = request.app.state.platform
    with platform.store.read() as db:
        found = model_permissions(db, caller, scope, ACTIONS[wanted], model=model, name=name)
    shown = found[(page_no - 1) * page_size : page_no * page_size]
    return {"request_id": request_id(request), "code": "", "message": "", "success": True,
            "output": {"total": len(found), "page_no": page_no, "page_size": page_size, "permissions": shown}}  # fmt: skip


@router.post("/api/v1/models/permissions")
async def update_permissions_route(request: Request, caller: CallerDep) -> dict[str, Any]:
    """Authorize this workspace (X-DashScope-WorkSpace) for models, or revoke them (every action false):
    `{"access_all_entities": "KEEP", "models": [{"model", "inference", "fine_tune", "deploy"}]}`. Granted
    from the default workspace, so the key must be the main account's or an admin's there."""
    body = parse_json(await request.body())
    example = 'Send {"access_all_entities": "KEEP", "models": [{"model": "qwen-plus", "inference": true}]}.'
    models = body.get("models") if isinstance(body, dict) else None
    if not isinstance(models, list) or not 1 <= len(models) <= MAX_MODELS or not all(isinstance(m, dict) for m in models):
        raise InvalidParameter(f"models must list 1 to {MAX_MODELS} models.", code="InvalidParameter", hint=example)
    if choice(body.get("access_all_entities"), ("KEEP",), "access_all_entities") != "KEEP":
        raise InvalidParameter("Only access_all_entities=KEEP is supported here.", code="InvalidParameter", hint=example)
    changes = []
    for item in models:
        if not isinstance(item.get("model"), str) or not all(isinstance(item.get(a, False), bool) for a in ACTIONS.values()):
            raise InvalidParameter("Each model needs its name and true/false actions.", code="InvalidParameter", hint=example)
        changes.append((item["model"], [a for a in ACTIONS.values() if item.get(a)]))
    platform = request.app.state.platform

    def write() -> None:
        with platform.store.write() as db:
            update_permissions(db, caller.principal, caller.workspace_id, changes)

    await run_in_threadpool(write)
    return {"request_id": request_id(request), "code": "", "message": "", "success": True}
