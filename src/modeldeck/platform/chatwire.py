"""OpenAI's chat-completions wire, spoken by the OpenAI facade and by a deployment's chat replicas alike:
the event stream of `chat.completion.chunk`s, the persistent generation threads that feed it, the error shape.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import DeckError

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 409: "conflict_error", 413: "invalid_request_error",
                422: "invalid_request_error", 429: "rate_limit_error"}  # fmt: skip
HANDOFF_WAIT = 0.01  # seconds; a busy event loop does not stall generation for longer

_generators = ThreadPoolExecutor(max_workers=8, thread_name_prefix="modeldeck-generate")


def openai_error(error: DeckError) -> dict[str, Any]:
    """An OpenAI-style error object that still carries the platform code, hint and request id."""
    return {
        "message": str(error), "type": OPENAI_TYPES.get(error.status or 500, "server_error"), "param": None,
        "code": error.code, "hint": error.hint, "detail": error.message, "request_id": error.request_id,
    }  # fmt: skip


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def generated(items: Iterator[Any], cancel: threading.Event) -> AsyncIterator[Any]:
    """Iterate a blocking generator on a persistent generation thread (none is started per request),
    handing each item to the event loop as soon as it exists.

    Until the first text has been sent, the generator thread waits (briefly) after each item for it to
    leave: else it would keep the GIL computing the next token and the event loop would wait for Python's
    switch interval (5 ms) before it could send this one. Later tokens flow without the wait, which would
    halve the token rate of a small model."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    sent = threading.Event()
    done = object()

    def pump() -> None:
        try:
            first_text = True
            for item in items:
                sent.clear()
                loop.call_soon_threadsafe(queue.put_nowait, item)
                if cancel.is_set():
                    break
                if first_text:
                    sent.wait(HANDOFF_WAIT)
                    first_text = not getattr(item, "text", None)
        except BaseException as exc:  # handed to the event loop, raised there
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            items.close()  # releases the model for the next caller at once
            loop.call_soon_threadsafe(queue.put_nowait, done)

    _generators.submit(pump)
    try:
        while (item := await queue.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
            sent.set()  # resumed by the consumer: the item is on its way
    finally:
        sent.set()


async def events(ident: str, created: int, model: str, pieces: AsyncIterator[Any], include_usage: bool,
                 *, text: bool = False) -> AsyncIterator[bytes]:  # fmt: skip
    """The `text/event-stream` body of a streamed completion of `pieces` (ChatDeltas), ending in [DONE]:
    `chat.completion.chunk`s, or with `text` the legacy completions' `text_completion` events
    (`choices[].text`, no opening role-only chunk)."""

    def said(piece: str | None) -> dict[str, Any]:
        if text:
            return {"text": piece or ""}
        return {"delta": {} if piece is None else {"content": piece}}

    def chunk(choice: dict[str, Any], finish: str | None, counts: dict[str, int] | None = None) -> bytes:
        payload: dict[str, Any] = {
            "id": ident, "object": "text_completion" if text else "chat.completion.chunk", "created": created,
            "model": model, "choices": [{"index": 0, **choice, "finish_reason": finish}] if counts is None else [],
        }  # fmt: skip
        if counts is not None:
            payload["usage"] = counts
        return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

    try:
        if not text:
            yield chunk({"delta": {"role": "assistant", "content": ""}}, None)
        async for piece in pieces:
            if piece.text:
                yield chunk(said(piece.text), None)
            if piece.finish_reason is not None:
                yield chunk(said(None), piece.finish_reason)
                if include_usage:
                    yield chunk({}, None, usage(piece.prompt_tokens, piece.completion_tokens))
        yield b"data: [DONE]\n\n"
    except DeckError as exc:  # after the first byte, an error can only travel as an event
        yield error_event(exc)


def error_event(exc: DeckError) -> bytes:
    """An error after a stream's first byte, as an event: OpenAI's SDK (and the deck) raise it."""
    return b"data: " + json.dumps({"error": openai_error(exc)}).encode() + b"\n\n"


def cut_off() -> DeckError:
    """What a stream says when the server it relays stopped before the end (a replica killed mid-way)."""
    from ..errors import ServerError

    return ServerError("The answer was cut off mid-way: its server stopped before the end.", code="Stream.Interrupted",
                       status=502, hint="Send the request again: another replica (or the restarted one) answers it.")  # fmt: skip
