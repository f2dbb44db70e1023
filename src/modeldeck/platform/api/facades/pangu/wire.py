"""Pangu's wire: the chat request as `huaweicloudsdkpangulargemodels`' `ChatCompletionReq` bounds it, the
inference task's body and record, and the states Pangu shows mapped from the platform's.

A chat answer and its stream are OpenAI's `chat.completion` / `chat.completion.chunk` shapes ending in
`data: [DONE]` (the current Pangu docs, pangulm_05_0012; the SDK parses the JSON answer and leaves a stream
in `raw_content`), so the platform's own chat wire (`chatwire`, the replicas') is sent as it is.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .....errors import InvalidParameter
from ....schema import Task

EXAMPLE = 'Send {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 64}.'
# name -> (low, high, low bound included): the ranges ChatCompletionReq documents
RANGES = {"temperature": (0.0, 1.0, True), "top_p": (0.0, 1.0, False), "presence_penalty": (-2.0, 2.0, True),
          "frequency_penalty": (-2.0, 2.0, True)}  # fmt: skip
FORWARDED = ("messages", "stream", "max_tokens", "temperature", "top_p", "presence_penalty", "frequency_penalty", "user")

# The platform's task states as ModelArts names a job's phase (`v1/model/status.py`: Pending, Running,
# Completed, Failed, Terminated); Pangu documents no vocabulary of its own for inference jobs.
TASK_STATES = {"PENDING": "Pending", "RUNNING": "Running", "SUCCEEDED": "Completed", "FAILED": "Failed",
               "CANCELED": "Terminated"}  # fmt: skip


def _invalid(message: str) -> InvalidParameter:
    return InvalidParameter(message, code="PanguLargeModels.InvalidParameter", hint=EXAMPLE)


def _number(body: dict[str, Any], name: str) -> None:
    value = body.get(name)
    if value is None:
        return
    low, high, closed = RANGES[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high) or (not closed and value == low):
        raise _invalid(f"{name} must be a number in {'[' if closed else '('}{low:g}, {high:g}].")


def chat_request(body: Any, model: str) -> dict[str, Any]:
    """A checked Pangu chat body as the OpenAI request the deployment's replicas answer (model: the deployment)."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise _invalid("messages must list at least one {role, content} message.")
    for name in RANGES:
        _number(body, name)
    tokens = body.get("max_tokens")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1):
        raise _invalid("max_tokens must be a whole number of at least 1.")
    if body.get("n", 1) != 1:
        raise InvalidParameter("Only n=1 is served here.", code="PanguLargeModels.InvalidParameter",
                               hint="Omit n, or send n=1 (Pangu allows 2 only without streaming).")  # fmt: skip
    user = body.get("user")
    if user is not None and (not isinstance(user, str) or not 1 <= len(user) <= 64):
        raise _invalid("user must be 1 to 64 characters.")
    if not isinstance(body.get("stream", False), bool):
        raise _invalid("stream must be true or false.")
    # messages without a role are the user's (the docs' own curl example omits it)
    sent = [{"role": "user", **m} for m in messages]
    return {**{k: body[k] for k in FORWARDED if body.get(k) is not None}, "messages": sent, "model": model}


def text_request(body: Any, model: str) -> dict[str, Any]:
    """A checked Pangu text completion body (`TextCompletionReq`: a `prompt` and chat's parameters, bounded as
    chat's are) as the text completion the deployment's replicas answer (`/v1/completions`)."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise InvalidParameter("prompt must be the text to complete.", code="PanguLargeModels.InvalidParameter",
                               hint='Send {"prompt": "Once upon a time", "max_tokens": 64}.')  # fmt: skip
    rest = {k: v for k, v in body.items() if k != "prompt"}
    checked = chat_request({**rest, "messages": [{"role": "user", "content": prompt}]}, model)
    del checked["messages"]
    return {**checked, "prompt": prompt}


def task_input(body: Any) -> dict[str, Any]:
    """An inference task's body, `{"name"?, "input": {"messages": [...], ...parameters}}`, as the platform
    chat task's input (which keeps the name)."""
    if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
        raise InvalidParameter("A task needs input: the chat request to run.", code="PanguLargeModels.InvalidParameter",
                               hint='Send {"name": "job-1", "input": {"messages": [{"role": "user", "content": "hi"}]}}.')  # fmt: skip
    name = body.get("name") or ""
    if not isinstance(name, str) or len(name) > 64:
        raise _invalid("name must be text of at most 64 characters.")
    request = chat_request({**body["input"], "stream": False}, "")
    request.pop("model")
    request.pop("stream")
    return {**request, "name": name}


def millis(value: datetime | None) -> int | None:
    """A stored time as the milliseconds since the epoch Huawei's APIs write."""
    return None if value is None else int(value.replace(tzinfo=value.tzinfo or timezone.utc).timestamp() * 1000)


def task_json(task: Task) -> dict[str, Any]:
    """A task as `GET .../tasks/{task_id}` answers: its state, times (ms), and the completion once Completed."""
    body: dict[str, Any] = {
        "task_id": task.id, "name": (task.request or {}).get("name", ""), "status": TASK_STATES[task.status],
        "progress": task.progress, "create_time": millis(task.created_at), "start_time": millis(task.started_at),
        "end_time": millis(task.finished_at),
    }  # fmt: skip
    if task.status == "SUCCEEDED":
        body["output"] = task.result
    elif task.error:
        body.update({"error_code": task.error.get("code"), "error_msg": task.error.get("message")})
    return body

