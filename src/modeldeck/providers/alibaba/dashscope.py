"""DashScope, the data plane (API key): text generation (JSON, server-sent events, async tasks) and the
models the current workspace is authorized for (`/api/v1/models/permissions`).

Requests are written as the official `dashscope` SDK writes them (docs/clouds/alibaba-sdks.md, section 1),
so the two are equal on the wire: `tests/test_alibaba_provider.py` compares them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from ..._http import Call
from ...errors import ModelAccessDenied, Unsupported, error_from_payload
from ...resources import Chunk, Completion, Model, TaskRecord
from ..base import Page, Stream
from .errors import fields_of, hint_for

GENERATION = "/api/v1/services/aigc/text-generation/generation"
PERMISSIONS = "/api/v1/models/permissions"
JSON = "application/json; charset=utf-8"
PAGE_SIZE = 100


def _generation(body: dict[str, Any], *, incremental: bool = False) -> dict[str, Any]:
    """An OpenAI-style chat body (model, messages, parameters) as DashScope's."""
    parameters = {"result_format": "message", **{k: v for k, v in body.items() if k not in ("model", "messages")}}
    if incremental:
        parameters["incremental_output"] = True
    return {"model": body["model"], "parameters": parameters, "input": {"messages": body["messages"]}}


def as_completion(body: dict[str, Any], model: str = "") -> dict[str, Any]:
    """DashScope's generation output (or a task's) as an OpenAI chat.completion body."""
    output = body.get("output") or {}
    choice = (output.get("choices") or [{}])[0]
    text = (choice.get("message") or {}).get("content") if "choices" in output else output.get("text")
    used = body.get("usage") or {}
    return {
        "id": body.get("request_id", ""), "object": "chat.completion", "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text or ""},
                     "finish_reason": choice.get("finish_reason") or output.get("finish_reason")}],
        "usage": {"prompt_tokens": used.get("input_tokens", 0), "completion_tokens": used.get("output_tokens", 0),
                  "total_tokens": used.get("total_tokens", 0)},
    }  # fmt: skip


def chat(body: dict[str, Any], stream: bool):  # type: ignore[no-untyped-def]
    if stream:
        headers = {"Accept": "text/event-stream", "Content-Type": JSON, "X-Accel-Buffering": "no",
                   "X-DashScope-SSE": "enable"}  # fmt: skip
        return (yield Stream(Call("POST", GENERATION, json=_generation(body, incremental=True), headers=headers)))
    answer = yield Call("POST", GENERATION, json=_generation(body), headers={"Accept": JSON, "Content-Type": JSON})
    return Completion.from_json(as_completion(answer.json(), body["model"]))


class Events:
    """DashScope's event stream, line by line: `data:` of a result event is a chunk (each carries only the
    new text: the provider asks for incremental output); the data of an `event:error` raises."""

    def __init__(self) -> None:
        self._error = False
        self._status = 400

    def __call__(self, line: str) -> Chunk | None:
        if line.startswith("event:"):
            self._error = line[6:].strip() == "error"
        elif line.startswith("status:") and line[7:].strip().isdigit():
            self._status = int(line[7:].strip())
        elif line.startswith("data:"):
            payload = json.loads(line[5:])
            if self._error or payload.get("code"):
                fields = fields_of(payload)
                raise error_from_payload(self._status, {**fields, "hint": hint_for(str(fields.get("code") or ""))})
            completion = as_completion(payload)
            choice = completion["choices"][0]
            finish = None if choice["finish_reason"] in (None, "null") else choice["finish_reason"]
            usage = completion["usage"] if finish else None
            return Chunk.from_json({"choices": [{"delta": {"content": choice["message"]["content"]},
                                                 "finish_reason": finish}], "usage": usage})  # fmt: skip
        return None


# ---- tasks: X-DashScope-Async, GET /tasks/{id}, POST /tasks/{id}/cancel ----------------------------


def _task(body: dict[str, Any], model: str = "") -> TaskRecord:
    output = body.get("output") or {}
    status = output.get("task_status") or "UNKNOWN"
    record: dict[str, Any] = {"id": output.get("task_id", ""), "kind": "chat", "model": model, "status": status}
    if status == "SUCCEEDED":
        record["result"] = as_completion(body, model)
    elif output.get("code"):
        record["error"] = {"code": output["code"], "message": output.get("message", "")}
    return TaskRecord.from_json(record)


def submit(kind: str, ref: str, name: str | None, request: dict[str, Any]):  # type: ignore[no-untyped-def]
    if kind != "chat":
        raise Unsupported(f"DashScope runs no {kind!r} tasks here.", hint="Submit chat tasks: deck.chat(..., wait=False).")
    model = ref + (f":{name}" if name else "")
    body = _generation({"model": model, **request})
    headers = {"Accept": JSON, "Content-Type": JSON, "X-DashScope-Async": "enable"}
    return _task((yield Call("POST", GENERATION, json=body, headers=headers)).json(), model)


def task(task_id: str):  # type: ignore[no-untyped-def]
    return _task((yield Call("GET", "/api/v1/tasks/" + quote(task_id, safe=""), headers={"Accept": JSON})).json())


def cancel_task(task_id: str):  # type: ignore[no-untyped-def]
    path = "/api/v1/tasks/" + quote(task_id, safe="") + "/cancel"
    return _task((yield Call("POST", path, headers={"Accept": JSON})).json())


def tasks(params: dict[str, Any]) -> Page[TaskRecord]:
    raise Unsupported(
        "DashScope lists no text-generation tasks.",
        hint="Keep the task a call returned (deck.chat(..., wait=False)) and ask for it with deck.task(task_id).",
    )


# ---- the models this workspace may call ------------------------------------------------------------


def as_model(item: dict[str, Any]) -> Model:
    flags = item.get("permissions") or {}
    actions = [a for a in ("inference", "fine_tune", "deploy") if flags.get(a) or flags.get(_camel(a))]
    return Model.from_json({"id": item.get("model", ""), "model_name": item.get("model", ""), "source": "authorized",
                            "actions": actions, "description": item.get("name") or ""})  # fmt: skip


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _permissions(params: dict[str, Any], page_no: int, size: int):  # type: ignore[no-untyped-def]
    query = {"authorization_scope": "AUTHORIZED", "action": "INFERENCE", **params, "page_no": page_no, "page_size": size}
    return (yield Call("GET", PERMISSIONS, params=query)).json().get("output") or {}


def models(params: dict[str, Any]) -> Page[Model]:
    """The authorized models, page by page (`page_no` is the cursor)."""
    wanted = {"name": params["query"]} if params.get("query") else {}

    def fetch(cursor: str | None, limit: int | None):  # type: ignore[no-untyped-def]
        page_no, size = int(cursor or 1), min(limit or PAGE_SIZE, 200)
        output = yield from _permissions(wanted, page_no, size)
        more = page_no * size < int(output.get("total") or 0)
        return [as_model(p) for p in output.get("permissions") or []], (str(page_no + 1) if more else None)

    return Page(Model, PERMISSIONS, {}, "models", fetch=fetch)


def model(ref: str):  # type: ignore[no-untyped-def]
    found = (yield from _permissions({"model": ref}, 1, 1)).get("permissions") or []
    if not found:
        raise ModelAccessDenied(f"This workspace is not authorized to call model {ref!r}.", hint=hint_for("Model.AccessDenied"))
    return as_model(found[0])


def whoami():  # type: ignore[no-untyped-def]
    """DashScope knows no accounts: one listing checks the key (a sub-account without a workspace is told
    at its first call, with the hint)."""
    response = yield Call("GET", PERMISSIONS, params={"authorization_scope": "AUTHORIZED", "page_size": 1}, ok=(403,))
    refused = response.status_code == 403
    return {"account": {"name": "", "kind": "sub" if refused else ""}, "workspace": None}

