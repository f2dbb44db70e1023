"""The OpenAI facade's routes, scoped to the caller's workspace: `GET /v1/models`, `POST /v1/chat/completions`.

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
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from .....errors import DeckError, InvalidParameter
from .... import chat, registry, upstream
from ....authz import WORKSPACE_HEADER, bearer
from ....upstream import Upstream
from ....schema import utc_datetime
from ....wirejson import parse_json
from ....pagination import MAX_LIMIT, PageRequest
from ...routing import Router
from ...deps import CallerDep, PlatformDep

if TYPE_CHECKING:
    import httpx

router = Router(tags=["openai"])


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
    created = int(utc_datetime(view.model.created_at).timestamp())
    return {"id": view.model.model_name, "object": "model", "created": created, "owned_by": view.owner}


def _body(raw: bytes) -> dict[str, Any]:
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidParameter(
            "The request body must be a JSON object.", code="InvalidParameter.Body", hint="Send a chat completion request."
        )
    if body.get("n", 1) != 1:
        raise InvalidParameter("Only n=1 is supported.", code="InvalidParameter.Chat", hint="Omit n, or send n=1.")
    return body


async def chat_completions(request: Request) -> Response:
    """POST /v1/chat/completions, reached through the app's `Lanes` before FastAPI's routing and dependency
    injection. A repeated request's authorization is recalled while the database is unchanged (else the
    service layer decides in a worker thread); tokens come from a persistent generation thread."""
    platform = request.app.state.platform
    authorization = request.headers.get("authorization")
    request.app.state.authentication.backend(authorization)  # refuses a scheme this facade does not take
    body = _body(await request.body())
    key, ws_ref = bearer(authorization), request.headers.get(WORKSPACE_HEADER)
    found = chat.locate(platform, key, ws_ref, body.get("model"))
    if found is None:
        found = await run_in_threadpool(chat.find_for, platform, key, ws_ref, body.get("model"))
    if isinstance(found, Upstream):
        return await _proxy(request, found, body)
    runtime = platform.runtimes.peek(chat.runtime_key(found))
    if runtime is None:
        runtime = await run_in_threadpool(chat.runtime, platform, found)
    params = chat.params_of(body)
    ident, created, model = "chatcmpl-" + secrets.token_hex(12), int(time.time()), body["model"]
    if not body.get("stream"):
        result = await run_in_threadpool(chat.complete, runtime, body.get("messages"), params)
        return JSONResponse(chat.completion_body(model, result))
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
            async for piece in generated(deltas, cancel):
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

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def _proxy(request: Request, target: Upstream, body: dict[str, Any]) -> Response:
    """Forward to the upstream with its model name and key; stream its bytes back as they arrive."""
    import httpx  # only a proxying platform needs it (a tenth of a second at startup)

    settings, path = request.app.state.platform.settings, "/chat/completions"
    if upstream.names_a_host(target):  # resolving a name may block
        pin = await run_in_threadpool(upstream.pinned, target, path, settings)
    else:
        pin = upstream.pinned(target, path, settings)
    client = _upstream_client(request)
    outgoing = client.build_request(
        "POST", pin.url, json={**body, "model": target.model}, headers=pin.headers, extensions=pin.extensions
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

    return StreamingResponse(relay(), media_type="text/event-stream", headers=SSE_HEADERS)


def _upstream_client(request: Request) -> httpx.AsyncClient:
    """One pooled client per app for every upstream: connections stay open between calls."""
    import httpx

    state = request.app.state
    if getattr(state, "upstream_client", None) is None:
        state.upstream_client = httpx.AsyncClient(timeout=httpx.Timeout(300.0, connect=10.0), follow_redirects=False)
    return state.upstream_client


_generators = ThreadPoolExecutor(max_workers=8, thread_name_prefix="modeldeck-generate")


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


HANDOFF_WAIT = 0.01  # seconds; a busy event loop does not stall generation for longer


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
