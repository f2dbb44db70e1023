"""A deployment's chat answer told as Pangu's text completion: `choices[].text` where chat has
`choices[].message` (`huaweicloudsdkpangulargemodels`' `TextChoice{index, text}`), and for a stream the same
shape per event (`choices[].text` where chat has `delta`), still ending in `data: [DONE]`.

The replicas answer chat only; a text completion is their chat with the prompt as the one user turn
(`wire.text_request`), so the reply is the same text, in the other shape.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

OBJECT = "text_completion"


def answer(completion: dict[str, Any]) -> dict[str, Any]:
    """A `chat.completion` as the text completion ExecuteTextCompletionResponse reads."""
    choices = [{"index": c.get("index", 0), "text": (c.get("message") or {}).get("content") or "",
                "finish_reason": c.get("finish_reason")} for c in completion.get("choices") or []]  # fmt: skip
    return {**completion, "object": OBJECT, "choices": choices}


def _event(payload: dict[str, Any]) -> bytes | None:
    """One `chat.completion.chunk` retold; None for the opening chunk that only names the role."""
    if "error" in payload:
        return b"data: " + json.dumps(payload).encode() + b"\n\n"
    choices = []
    for c in payload.get("choices") or []:
        text = (c.get("delta") or {}).get("content") or ""
        if text or c.get("finish_reason") is not None:
            choices.append({"index": c.get("index", 0), "text": text, "finish_reason": c.get("finish_reason")})
    if not choices and payload.get("choices"):
        return None
    retold = {**payload, "object": OBJECT, "choices": choices}
    return b"data: " + json.dumps(retold, separators=(",", ":")).encode() + b"\n\n"


async def events(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The replica's event stream, event by event (an event may arrive in several pieces), retold."""
    pending = b""
    async for piece in pieces:
        pending += piece
        *whole, pending = pending.split(b"\n\n")
        for event in filter(None, whole):
            if not event.startswith(b"data:") or event[5:].strip() == b"[DONE]":
                yield event + b"\n\n"
                continue
            retold = _event(json.loads(event[5:]))
            if retold is not None:
                yield retold
    if pending:
        yield pending
