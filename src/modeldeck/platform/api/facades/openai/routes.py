"""The OpenAI facade's routes, scoped to the caller's workspace: `GET /v1/models` (deployments and models),
`POST /v1/chat/completions`.

The official `openai` SDK works against it unmodified (base_url=<platform>/v1, api_key=<key>, the workspace
in the `X-ModelDeck-Workspace` default header). Streaming is server-sent events ending in `data: [DONE]`;
each token leaves as soon as it is generated.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from .....errors import Conflict, InvalidParameter, ServerError
from .... import chat, chatwire, registry, upstream
from ....chatwire import SSE_HEADERS
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
    """What this workspace may chat with, as OpenAI lists models: its deployments (by name), then the models
    it owns or was granted for inference (a model named like a deployment is left out: the name reaches the
    deployment; `name:version` still reaches the model)."""
    from ....deployments import service as deployments

    data, cursor = [], None
    with platform.store.read() as db:
        while "list" in caller.permissions:  # a key that may not list the workspace sees no deployments
            page = PageRequest(platform.cursors, MAX_LIMIT, cursor)
            rows, cursor = deployments.listing(db, caller, page)
            data += [_deployment(caller, r) for r in rows]
            if not cursor:
                break
        deployed = {entry["id"] for entry in data}
        while True:
            page = PageRequest(platform.cursors, MAX_LIMIT, cursor)
            views, cursor = registry.list_models(db, caller, page, action="inference")
            data += [_model(v) for v in views if v.model.model_name not in deployed]
            if not cursor:
                return {"object": "list", "data": data}


@router.get("/models/{model}")
def model(platform: PlatformDep, caller: CallerDep, model: str) -> dict[str, Any]:
    """One deployment or model this workspace may call."""
    from ....deployments import service as deployments

    with platform.store.read() as db:
        if "list" in caller.permissions and (row := deployments.named(db, caller, model)) is not None:
            return _deployment(caller, row)
        return _model(registry.resolve_model(db, caller, model, need="inference"))


def _model(view: registry.ModelView) -> dict[str, Any]:
    created = int(utc_datetime(view.model.created_at).timestamp())
    return {"id": view.model.model_name, "object": "model", "created": created, "owned_by": view.owner}


def _deployment(caller: Any, row: Any) -> dict[str, Any]:
    created = int(utc_datetime(row.created_at).timestamp())
    return {"id": row.name, "object": "model", "created": created, "owned_by": caller.workspace_name}


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
    if isinstance(found, chat.DeploymentChat):
        return await to_deployment(request, found, body)
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

    async def stream() -> AsyncIterator[bytes]:
        try:
            async for part in chatwire.events(ident, created, model, chatwire.generated(deltas, cancel), include_usage):
                yield part
        finally:
            cancel.set()  # the client went away, or we are done: stop generating

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)


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
    return await _relayed(response, bool(body.get("stream")))


async def _relayed(response: httpx.Response, stream: bool) -> Response:
    """An answer that began arriving, sent on: whole, or its events as they come."""
    if not stream:
        try:
            return Response(await response.aread(), status_code=response.status_code, media_type="application/json")
        finally:
            await response.aclose()

    async def relay() -> AsyncIterator[bytes]:
        import httpx

        try:
            async for piece in response.aiter_raw():
                yield piece
        except httpx.TransportError:  # the server stopped mid-way: a typed error event, never a hang
            yield b"\n\n" + chatwire.error_event(chatwire.cut_off())  # after any half-sent event
        finally:
            await response.aclose()

    return StreamingResponse(relay(), media_type="text/event-stream", headers=SSE_HEADERS)


DEPLOYMENT_ATTEMPTS = 3  # a replica that drains resets the connections queued on it: try another


async def to_deployment(request: Request, found: chat.DeploymentChat, body: dict[str, Any],
                        authorization: str | None = None, path: str = "/v1/chat/completions") -> Response:  # fmt: skip
    """Forward to the deployment's replicas' `path` (chat; `/v1/completions` for a text completion) with the
    caller's own key (they check it themselves), or with `authorization` when a facade of other credentials
    proved its caller otherwise (an EAS service token, a Huawei signature); their answer, errors included, is
    already in OpenAI's shapes."""
    import httpx

    endpoint = request.app.state.platform.deployments.live(found.id)["endpoint"]
    if endpoint is None:
        raise Conflict(f"Deployment '{found.name}' has no replica serving.", code="Deployment.NotServing",
                       hint=f"Start it (deck.start('{found.name}')), or pin a version ('model:1.0.0') to chat "
                            "with the registered version instead.")  # fmt: skip
    client = _upstream_client(request)
    headers = {"Authorization": authorization or request.headers.get("authorization", "")}
    for attempt in range(DEPLOYMENT_ATTEMPTS):
        try:
            outgoing = client.build_request("POST", f"{endpoint}{path}", json=body, headers=headers)
            response = await client.send(outgoing, stream=True)
            break
        except httpx.TransportError as exc:
            if attempt == DEPLOYMENT_ATTEMPTS - 1:
                raise ServerError(f"The deployment's replicas could not be reached ({type(exc).__name__}).",
                                  code="Deployment.Unreachable", status=503, hint="Retry; replicas are restarted.") from None  # fmt: skip
    return await _relayed(response, bool(body.get("stream")) and response.is_success)


def _upstream_client(request: Request) -> httpx.AsyncClient:
    """One pooled client per app for every upstream: connections stay open between calls."""
    import httpx

    state = request.app.state
    if getattr(state, "upstream_client", None) is None:
        state.upstream_client = httpx.AsyncClient(timeout=httpx.Timeout(300.0, connect=10.0), follow_redirects=False)
    return state.upstream_client
