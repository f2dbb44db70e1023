"""EAS's data plane over the platform's deployments: `POST /api/predict/{service}` (the body as the
platform's runtimes take it: JSON in, JSON out, the same as a replica's `/predict`), and for a language-model
service the OpenAI-style `/api/predict/{service}/v1/chat/completions` (whole or streamed) and `/v1/models`.

The service token is checked here (`tokens.service_for`); the request then goes to the deployment's
replicas exactly as the native one-hop predict and the OpenAI facade's deployment chat send it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from .....errors import InvalidParameter
from .... import chat
from ....schema import Deployment, utc_datetime
from ....wirejson import parse_json
from ...routes_deployments import forward_predict
from ...routing import Router
from ..openai.routes import to_deployment
from .tokens import Proof, service_for

router = Router(tags=["eas"])


async def _service(request: Request, service: str) -> tuple[Deployment, bytes]:
    """The deployment whose token the request shows, and the request's body."""
    body = await request.body()
    headers = request.headers
    proof = Proof(headers.get("authorization", ""), body, headers.get("content-type", ""),
                  headers.get("content-md5", ""), headers.get("date", ""))  # fmt: skip
    row = await run_in_threadpool(service_for, request.app.state.platform, service, proof)
    return row, body


async def _relay(request: Request, row: Deployment) -> str:
    return await run_in_threadpool(request.app.state.relay.authorization, request.app.state.platform, row)


@router.post("/api/predict/{service}")
async def predict(request: Request, service: str) -> Response:
    """Predict on the service's replicas; the answer is theirs (the platform's prediction JSON)."""
    row, body = await _service(request, service)
    return await forward_predict(request, row, body, await _relay(request, row))


@router.post("/api/predict/{service}/v1/chat/completions")
async def chat_completions(request: Request, service: str) -> Response:
    """OpenAI's chat completions on a language-model service, streamed as `chat.completion.chunk` events."""
    row, raw = await _service(request, service)
    body: Any = parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidParameter("The request body must be a JSON object.", code="InvalidParameter.Body",
                               hint="Send a chat completion request.")  # fmt: skip
    return await to_deployment(request, chat.DeploymentChat(row.id, row.name), body, await _relay(request, row))


@router.get("/api/predict/{service}/v1/models")
async def models(request: Request, service: str) -> dict[str, Any]:
    """The one model a service serves, named as the service (what its chat requests may send as `model`)."""
    row, _ = await _service(request, service)
    created = int(utc_datetime(row.created_at).timestamp())
    return {"object": "list", "data": [{"id": row.name, "object": "model", "created": created, "owned_by": "eas"}]}
