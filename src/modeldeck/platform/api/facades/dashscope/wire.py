"""DashScope's wire: the generation request, its output shapes, its error body and its SSE framing.

Shapes as the official `dashscope` SDK sends and parses them (docs/clouds/alibaba-sdks.md, section 1):
an event is `id:N`, `event:result|error`, `:HTTP_STATUS/NNN`, then `data:{json}` last (the 1.x parser
yields on `data:`), ended by a blank line. An error event also carries `status:NNN`, the line the 1.x
SDK reads its status from (it ignores the comment); 2.x raises on the `code` in the data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .....errors import DeckError, InvalidParameter
from ....chat import params_of

RESULT_FORMATS = ("text", "message")


def _invalid(message: str, hint: str) -> InvalidParameter:
    return InvalidParameter(message, code="InvalidParameter", hint=hint)


@dataclass(frozen=True)
class Generation:
    """A text-generation request: `input.messages` (or the legacy `input.prompt`) and `parameters`."""

    model: str
    messages: list[Any]
    params: dict[str, Any]
    result_format: str
    incremental: bool

    @classmethod
    def of(cls, body: Any) -> Generation:
        example = '{"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "hi"}]}}'
        if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
            raise _invalid("The body must be an object with model, input and parameters.", f"Send {example}.")
        model, given = body.get("model"), body["input"]
        if not isinstance(model, str) or not model:
            raise InvalidParameter("model is required.", code="BadRequest.EmptyModel", hint=f"Send {example}.")
        messages = given.get("messages")
        if messages is None and isinstance(given.get("prompt"), str):
            messages = [{"role": "user", "content": given["prompt"]}]
        if not isinstance(messages, list) or not messages:
            raise InvalidParameter("input.messages is empty.", code="BadRequest.EmptyInput", hint=f"Send {example}.")
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise _invalid("parameters must be an object.", 'Send "parameters": {"result_format": "message"}.')
        fmt = parameters.get("result_format") or "text"
        if fmt not in RESULT_FORMATS:
            raise _invalid("result_format must be text or message.", 'Send "result_format": "message".')
        return cls(model, messages, params_of(parameters), fmt, parameters.get("incremental_output") is True)

    def task_input(self) -> dict[str, Any]:
        """What a chat task keeps: the runtime's input, and how to shape its output when polled."""
        return {"messages": self.messages, **self.params, "result_format": self.result_format}


def output(text: str, finish_reason: str, result_format: str) -> dict[str, Any]:
    """`output` as DashScope writes it; `finish_reason` is the string "null" until the last event."""
    if result_format == "message":
        message = {"role": "assistant", "content": text}
        return {"choices": [{"finish_reason": finish_reason, "message": message}]}
    return {"text": text, "finish_reason": finish_reason}


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"input_tokens": prompt_tokens, "output_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}  # fmt: skip


def error_body(error: DeckError) -> dict[str, Any]:
    """DashScope's error body: `{"code", "message", "request_id"}`."""
    return {"code": error.code, "message": error.message, "request_id": error.request_id or ""}


def event(number: int, payload: dict[str, Any], status: int = 200) -> bytes:
    """One server-sent event in DashScope's framing: a result, or (status other than 200) an error."""
    kind = "result" if status == 200 else "error"
    head = f"id:{number}\nevent:{kind}\n:HTTP_STATUS/{status}\n" + ("" if status == 200 else f"status:{status}\n")
    return (head + "data:" + json.dumps(payload, separators=(",", ":"), ensure_ascii=False) + "\n\n").encode()
