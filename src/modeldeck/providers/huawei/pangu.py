"""Pangu inference as `huaweicloudsdkpangulargemodels` (v1) writes it: chat on a deployment
(`/v1/{project_id}/deployments/{deployment_id}/chat/completions`, `Content-Type: application/json`, only
`ChatCompletionReq`'s fields) and text completions beside it (`.../text/completions`, `TextCompletionReq`),
streamed as the docs say (OpenAI's event stream ending in `data: [DONE]`; the
SDK leaves a stream unparsed); chat with a deployment by name on the OpenAI-format path; inference tasks.

A task's id is `<deployment id>/<task id>`: Pangu polls a task under its deployment, and `deck.task(id)`
has only the id. Task phases come back in the platform's words (`TASK_STATES`).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from ..._http import Call
from ...errors import InvalidParameter, Unsupported, error_fields, error_from_payload
from ...resources import Chunk, Completion, TaskRecord
from ..base import Stream

SERVICE = "pangu"
HEADERS = {"Content-Type": "application/json"}
SDK_FIELDS = ("messages", "user", "stream", "temperature", "top_p", "max_tokens", "n", "presence_penalty",
              "frequency_penalty")  # fmt: skip
TEXT_FIELDS = ("prompt", *SDK_FIELDS[1:])  # TextCompletionReq: a prompt, then chat's parameters
OPENAI_PATH = "/api/v2/chat/completions"
# Pangu's (ModelArts') task phases -> the platform's task states
TASK_STATES = {"Pending": "PENDING", "Creating": "PENDING", "Running": "RUNNING", "Completed": "SUCCEEDED",
               "Failed": "FAILED", "Abnormal": "FAILED", "Terminating": "RUNNING", "Terminated": "CANCELED"}  # fmt: skip
def _sent(body: dict[str, Any], stream: bool = False, fields: tuple[str, ...] = SDK_FIELDS) -> dict[str, Any]:
    """The body as ChatCompletionReq (or TextCompletionReq) has it: what Pangu has no field for is refused, not
    dropped; except a stream's `stream_options` (usage in its last chunk, as the CLI asks), which changes only
    what the stream reports."""
    if stream:
        body = {k: v for k, v in body.items() if k != "stream_options"}
    extra = sorted(set(body) - set(fields) - {"model"})
    if extra:
        raise InvalidParameter(f"Pangu {'chat' if fields is SDK_FIELDS else 'text completion'} takes no "
                               f"{', '.join(extra)}.", code="InvalidParameter.Chat",
                               hint=f"Use only {', '.join(fields[1:])}.")  # fmt: skip
    return {k: body[k] for k in fields if body.get(k) is not None}


def _deployment(deployment: str) -> str:
    """A deployment's path; `iam.HuaweiAuth` fills in `{project_id}`, as the SDK's credentials do."""
    return "/v1/{project_id}/deployments/" + quote(deployment, safe="")


def chat(body: dict[str, Any], stream: bool):  # type: ignore[no-untyped-def]
    """Chat on a deployment: `model` is its id (or its name)."""
    path = _deployment(body["model"]) + "/chat/completions"
    if stream:
        sent = {**_sent(body, stream=True), "stream": True}
        return (yield Stream(Call("POST", path, json=sent, headers=HEADERS, service=SERVICE)))
    return Completion.from_json((yield Call("POST", path, json=_sent(body), headers=HEADERS, service=SERVICE)).json())


def text_completion(deployment: str, body: dict[str, Any], stream: bool):  # type: ignore[no-untyped-def]
    """A text completion on a deployment (`/text/completions`): `body` is the prompt and its parameters; a
    `Completion` (its text is `choices[0].text`), or the stream's chunks."""
    path = _deployment(deployment) + "/text/completions"
    if stream:
        sent = {**_sent(body, stream=True, fields=TEXT_FIELDS), "stream": True}
        return (yield Stream(Call("POST", path, json=sent, headers=HEADERS, service=SERVICE)))
    answer = yield Call("POST", path, json=_sent(body, fields=TEXT_FIELDS), headers=HEADERS, service=SERVICE)
    return Completion.from_json(answer.json())


def deployment_chat(endpoint: str, body: dict[str, Any], stream: bool):  # type: ignore[no-untyped-def]
    """Chat with a deployment by name (`deck.chat(..., deployment=name)`): the OpenAI-format path."""
    sent = {**_sent(body, stream), "model": body["model"]}
    if stream:
        return (yield Stream(Call("POST", OPENAI_PATH, json={**sent, "stream": True}, headers=HEADERS, service=SERVICE)))
    return Completion.from_json((yield Call("POST", OPENAI_PATH, json=sent, headers=HEADERS, service=SERVICE)).json())


def chunk(line: str) -> Chunk | None:
    """One line of the event stream: `data:` with a chunk in the `delta` form (or the older `message` form);
    None for `[DONE]`, comments and keep-alives; an error event raises."""
    if not line.startswith("data:") or line[5:].strip() == "[DONE]":
        return None
    payload: dict[str, Any] = json.loads(line[5:])
    if "error" in payload or "error_code" in payload:
        fields = error_fields(payload)
        raise error_from_payload(500, {**fields, "code": fields.get("code") or payload.get("error_code"),
                                       "message": fields.get("message") or payload.get("error_msg")})  # fmt: skip
    for choice in payload.get("choices") or []:
        if "delta" not in choice and isinstance(choice.get("message"), dict):
            choice["delta"] = choice["message"]
    return Chunk.from_json(payload)


# ---- inference tasks ---------------------------------------------------------------------------------


def as_task(body: dict[str, Any], deployment: str) -> TaskRecord:
    status = TASK_STATES.get(body.get("status") or "", "PENDING")
    record: dict[str, Any] = {"id": f"{deployment}/{body.get('task_id', '')}", "kind": "chat", "model": deployment,
                              "status": status, "progress": body.get("progress")}  # fmt: skip
    if status == "SUCCEEDED":
        record["result"] = body.get("output")
    elif body.get("error_code"):
        record["error"] = {"code": body["error_code"], "message": body.get("error_msg", "")}
    return TaskRecord.from_json(record)


def _task_path(task_id: str) -> tuple[str, str]:
    deployment, _, task = task_id.partition("/")
    if not task:
        raise InvalidParameter("A Pangu task id is <deployment id>/<task id>.", code="InvalidParameter.Task",
                               hint="Pass the id deck.chat(..., wait=False) returned.")  # fmt: skip
    return deployment, _deployment(deployment) + "/tasks/" + quote(task, safe="")


def submit(kind: str, ref: str, name: str | None, request: dict[str, Any]):  # type: ignore[no-untyped-def]
    """An inference task on deployment `ref` (the version it serves)."""
    if kind != "chat":
        raise Unsupported(f"Pangu runs no {kind!r} tasks.", hint="Submit chat tasks: deck.chat(deployment_id, ..., wait=False).")
    if name:
        raise InvalidParameter("A Pangu task runs on the version its deployment serves.", code="InvalidParameter.Task",
                               hint="Upgrade the deployment to the version first, or leave the version out.")  # fmt: skip
    answer = yield Call("POST", _deployment(ref) + "/tasks", json={"input": _sent(request)}, headers=HEADERS, service=SERVICE)
    return as_task(answer.json(), ref)


def task(task_id: str):  # type: ignore[no-untyped-def]
    deployment, path = _task_path(task_id)
    return as_task((yield Call("GET", path, headers=HEADERS, service=SERVICE)).json(), deployment)


def cancel_task(task_id: str):  # type: ignore[no-untyped-def]
    deployment, path = _task_path(task_id)
    return as_task((yield Call("DELETE", path, headers=HEADERS, service=SERVICE)).json(), deployment)


def tasks(params: dict[str, Any]) -> Any:
    raise Unsupported("Pangu lists no inference tasks.",
                      hint="Keep the task deck.chat(deployment_id, ..., wait=False) returned and ask deck.task(task_id).")  # fmt: skip
