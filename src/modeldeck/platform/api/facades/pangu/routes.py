"""Pangu's inference API over the platform's deployments: chat on a deployment (the v1 path, the v2 pools
path, the OpenAI-format path) and text completions (v1, v2), streamed or not, and inference tasks
submitted and polled.

A Pangu deployment is a platform deployment of a language-model version; its id is the deployment's id
(`dep-…`; the OpenAI-format path's `model` may also be its name). The caller is authorized in the
deployment's own workspace (`invoke`), and its replicas answer the chat, as for every other client.
A pool id (v2) names where a deployment runs in the cloud; here every deployment runs on this host, so any
pool id is accepted and ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from .....errors import InvalidParameter, NotFound, error_fields, error_from_payload
from .... import chat
from ....authz import Caller, enter, member_workspaces
from ....schema import Deployment, Model
from ....wirejson import parse_json
from ... import deps
from ...routing import Router
from ..huawei.ids import region_of
from ..openai import routes as openai_routes
from . import wire

router = Router(tags=["pangu"])


def deployment_of(db: Any, caller_principal: Any, ref: str) -> Deployment:
    """A deployment by id, or by name where that name is one deployment of the caller's workspaces."""
    row = db.scalar(select(Deployment).where(Deployment.id == ref))
    if row is None:
        mine = [w.id for w, _ in member_workspaces(db, caller_principal)]
        named = db.scalars(select(Deployment).where(Deployment.name == ref, Deployment.workspace_id.in_(mine))).all()
        if len(named) > 1:
            raise InvalidParameter(f"{len(named)} deployments of your workspaces are called {ref!r}.",
                                   code="PanguLargeModels.AmbiguousDeployment",
                                   hint="Name the deployment by its id (dep-…), as the v1 path does.")  # fmt: skip
        row = named[0] if named else None
    if row is None:
        raise NotFound(f"Deployment {ref[:64]!r} does not exist.", code="Deployment.NotFound",
                       hint="List the deployments with deck.deployments(); a Pangu deployment id is a deployment's id (dep-…).")  # fmt: skip
    return row


@dataclass(frozen=True)
class Served:
    """What a Pangu call reaches: a deployment, the version it serves and that version's model."""

    id: str
    name: str
    model: str
    version: str


def _entered(request: Request, shown: Any, project_id: str | None, ref: str) -> tuple[Caller, Served]:
    platform = request.app.state.platform
    with platform.store.read() as db:
        principal = request.app.state.authentication.principal(platform, db, shown)
        if project_id is not None:
            region_of(principal.root_id, project_id)  # a project of the caller's account, else refused
        row = deployment_of(db, principal, ref)
        caller = enter(db, principal, row.workspace_id)
        caller.require("invoke")
        return caller, Served(row.id, row.name, db.get_one(Model, row.model_id).model_name, row.version)


async def _caller(request: Request, project_id: str | None, ref: str) -> tuple[Caller, Served]:
    return await run_in_threadpool(_entered, request, await deps.presented(request), project_id, ref)


async def _chat(request: Request, project_id: str | None, ref: str, body: Any, text: bool = False) -> Response:
    """The deployment's replicas' answer to `body`: their chat, or with `text` their text completion."""
    caller, row = await _caller(request, project_id, ref)
    sent = (wire.text_request if text else wire.chat_request)(body, row.name)
    platform = request.app.state.platform
    bearer = await run_in_threadpool(request.app.state.relay.bearer, platform, caller.principal)
    found = chat.DeploymentChat(row.id, row.name)
    answer = await openai_routes.to_deployment(request, found, sent, authorization=f"Bearer {bearer}",
                                               path="/v1/completions" if text else "/v1/chat/completions")  # fmt: skip
    if answer.status_code >= 400:  # the replica's OpenAI-shaped error, raised again in Huawei's shape
        try:
            payload = json.loads(bytes(answer.body))
        except ValueError:
            payload = {"message": f"The deployment's replica answered HTTP {answer.status_code}."}
        raise error_from_payload(answer.status_code, error_fields(payload if isinstance(payload, dict) else {}))
    return answer


@router.post("/v1/{project_id}/deployments/{deployment_id}/chat/completions")
async def chat_v1(request: Request, project_id: str, deployment_id: str) -> Response:
    """Pangu's V1 inference: the deployment in the path; `stream: true` answers server-sent events."""
    return await _chat(request, project_id, deployment_id, parse_json(await request.body()))


@router.post("/v2/{project_id}/pools/{pool_id}/deployments/{deployment_id}/chat/completions")
async def chat_v2(request: Request, project_id: str, pool_id: str, deployment_id: str) -> Response:
    return await _chat(request, project_id, deployment_id, parse_json(await request.body()))


@router.post("/v1/{project_id}/deployments/{deployment_id}/text/completions")
async def text_v1(request: Request, project_id: str, deployment_id: str) -> Response:
    """Pangu's text completion: the prompt continued by the deployment's replicas as raw text (their
    `/v1/completions`, already `choices[].text`, streamed as such); `stream: true` answers events."""
    return await _chat(request, project_id, deployment_id, parse_json(await request.body()), text=True)


@router.post("/v2/{project_id}/pools/{pool_id}/deployments/{deployment_id}/text/completions")
async def text_v2(request: Request, project_id: str, pool_id: str, deployment_id: str) -> Response:
    return await _chat(request, project_id, deployment_id, parse_json(await request.body()), text=True)


@router.post("/api/v2/chat/completions")
async def chat_openai(request: Request) -> Response:
    """The OpenAI-format path: `model` names the deployment (its id, or its name)."""
    body = parse_json(await request.body())
    model = body.get("model") if isinstance(body, dict) else None
    if not isinstance(model, str) or not model:
        raise InvalidParameter("model must name the deployment.", code="PanguLargeModels.InvalidParameter",
                               hint='Send "model": "<deployment id or name>".')  # fmt: skip
    return await _chat(request, None, model, body)


TASKS = "/v1/{project_id}/deployments/{deployment_id}/tasks"


@router.post(TASKS, status_code=201)
async def submit_task(request: Request, project_id: str, deployment_id: str) -> dict[str, Any]:
    """An inference task on the deployment's current version: `{"name"?, "input": {chat request}}`."""
    task_body = wire.task_input(parse_json(await request.body()))
    caller, row = await _caller(request, project_id, deployment_id)
    task = await run_in_threadpool(request.app.state.platform.tasks.submit, caller, "chat", row.model, row.version,
                                   task_body)  # fmt: skip
    return wire.task_json(task)


@router.get(TASKS + "/{task_id}")
async def get_task(request: Request, project_id: str, deployment_id: str, task_id: str) -> dict[str, Any]:
    caller, _ = await _caller(request, project_id, deployment_id)
    return wire.task_json(await run_in_threadpool(request.app.state.platform.tasks.get, caller, task_id))


@router.delete(TASKS + "/{task_id}")
async def cancel_task(request: Request, project_id: str, deployment_id: str, task_id: str) -> JSONResponse:
    """Stops a task: a Pending one ends Terminated at once, a Running one as soon as its generation notices."""
    caller, _ = await _caller(request, project_id, deployment_id)
    return JSONResponse(wire.task_json(await run_in_threadpool(request.app.state.platform.tasks.cancel, caller, task_id)))
