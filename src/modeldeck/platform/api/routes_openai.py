"""An OpenAI-compatible surface, scoped to the caller's workspace: `GET /v1/models`, `POST /v1/chat/completions`.

The official `openai` SDK works against it unmodified (base_url=<platform>/v1, api_key=<key>, the workspace
in the `X-ModelDeck-Workspace` default header). Streaming is server-sent events ending in `data: [DONE]`;
each token leaves as soon as it is generated.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from ...errors import DeckError, InvalidParameter
from .. import chat, registry, upstream
from ..upstream import Upstream
from ..pagination import MAX_LIMIT, PageRequest
from .deps import CallerDep, PlatformDep

router = APIRouter(prefix="/v1", tags=["openai"])


@router.get("/models")
def models(platform: PlatformDep, caller: CallerDep) -> dict[str, Any]:
    """The models this workspace may call (owned, or granted for inference), as OpenAI lists models."""
    data, cursor = [], None
    with platform.store.read() as db:
        while True:
            page = PageRequest(platform.cursors, MAX_LIMIT, cursor)
            views, cursor = registry.list_models(db, caller, page, action="inference")
            data += [_model(v) for v in views]
            if not cursor:
                return {"object": "list", "data": data}


@router.get("/models/{model}")
def model(platform: PlatformDep, caller: CallerDep, model: str) -> dict[str, Any]:
    """One model this workspace may call."""
    with platform.store.read() as db:
        return _model(registry.resolve_model(db, caller, model, need="inference"))


def _model(view: registry.ModelView) -> dict[str, Any]:
    created = int(view.model.created_at.timestamp())
    return {"id": view.model.model_name, "object": "model", "created": created, "owned_by": view.owner}


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise InvalidParameter(
            "The request body must be a JSON object.", code="InvalidParameter.Body", hint="Send a chat completion request."
        )
    if body.get("n", 1) != 1:
        raise InvalidParameter("Only n=1 is supported.", code="InvalidParameter.Chat", hint="Omit n, or send n=1.")
    return body


@router.post("/chat/completions", response_model=None)
async def chat_completions(request: Request, platform: PlatformDep, caller: CallerDep) -> Any:
    body = _body(await request.body())
    runtime = await run_in_threadpool(chat.resolve, platform, caller, body.get("model"))
    if isinstance(runtime, Upstream):
        return await _proxy(request, runtime, body)
    params = chat.params_of(body)
    ident, created, model = "chatcmpl-" + secrets.token_hex(12), int(time.time()), body["model"]
    if not body.get("stream"):
        result = await run_in_threadpool(chat.complete, runtime, body.get("messages"), params)
        return chat.completion_body(model, result)
    cancel = threading.Event()
    deltas = chat.stream(runtime, body.get("messages"), params, cancel)  # validates before the first byte
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: dict[str, Any], finish: str | None, usage: dict[str, int] | None = None) -> bytes:
        payload: dict[str, Any] = {
            "id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
        }  # fmt: skip
        if usage is not None:
            payload["usage"] = usage
        return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

    async def events() -> AsyncIterator[bytes]:
        try:
            yield chunk({"role": "assistant", "content": ""}, None)
            async for piece in _in_thread(deltas, cancel):
                if piece.text:
                    yield chunk({"content": piece.text}, None)
                if piece.finish_reason is not None:
                    yield chunk({}, piece.finish_reason)
                    if include_usage:
                        yield chunk({}, None, _usage(piece.prompt_tokens, piece.completion_tokens))
            yield b"data: [DONE]\n\n"
        except DeckError as exc:  # after the first byte, an error can only travel as an event
            yield b"data: " + json.dumps({"error": openai_error(exc)}).encode() + b"\n\n"
        finally:
            cancel.set()  # the client went away, or we are done: stop generating

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


async def _proxy(request: Request, target: Upstream, body: dict[str, Any]) -> Any:
    """Forward to the upstream with its model name and key; stream its bytes back as they arrive."""
    platform = request.app.state.platform
    await run_in_threadpool(upstream.check_reachable_safely, target, platform.settings.allowed_networks)
    client = _upstream_client(request)
    headers = {"Authorization": f"Bearer {target.api_key}"} if target.api_key else {}
    outgoing = client.build_request(
        "POST", f"{target.base_url}/chat/completions", json={**body, "model": target.model}, headers=headers
    )
    try:
        response = await client.send(outgoing, stream=True)
    except httpx.HTTPError as exc:
        raise upstream.failed(0, f"unreachable ({type(exc).__name__})") from None
    if not response.is_success:
        detail = (await response.aread()).decode("utf-8", "replace")
        await response.aclose()
        raise upstream.failed(response.status_code, detail)
    if not body.get("stream"):
        try:
            return JSONResponse(json.loads(await response.aread()))
        finally:
            await response.aclose()

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for piece in response.aiter_raw():
                yield piece
        finally:
            await response.aclose()

    return StreamingResponse(relay(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _upstream_client(request: Request) -> httpx.AsyncClient:
    """One pooled client per app for every upstream: connections stay open between calls."""
    state = request.app.state
    if getattr(state, "upstream_client", None) is None:
        state.upstream_client = httpx.AsyncClient(timeout=httpx.Timeout(300.0, connect=10.0), follow_redirects=False)
    return state.upstream_client


async def _in_thread(items: Any, cancel: threading.Event) -> AsyncIterator[Any]:
    """Iterate a blocking generator in a worker thread, handing each item over as soon as it exists."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    done = object()

    def pump() -> None:
        try:
            for item in items:
                loop.call_soon_threadsafe(queue.put_nowait, item)
                if cancel.is_set():
                    break
        except BaseException as exc:  # handed to the event loop, raised there
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            items.close()  # releases the model for the next caller at once
            loop.call_soon_threadsafe(queue.put_nowait, done)

    worker = threading.Thread(target=pump, name="modeldeck-generate", daemon=True)
    worker.start()
    while (item := await queue.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 409: "conflict_error", 413: "invalid_request_error",
                422: "invalid_request_error", 429: "rate_limit_error"}  # fmt: skip


def openai_error(error: DeckError) -> dict[str, Any]:
    """An OpenAI-style error object that still carries the platform code, hint and request id."""
    return {
        "message": str(error), "type": OPENAI_TYPES.get(error.status or 500, "server_error"), "param": None,
        "code": error.code, "hint": error.hint, "detail": error.message, "request_id": error.request_id,
    }  # fmt: skip
