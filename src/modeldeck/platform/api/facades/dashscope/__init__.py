"""The DashScope facade at `/dashscope`: the official `dashscope` SDK works against it unmodified with
`dashscope.base_http_api_url = <server>/dashscope/api/v1` (1.x calls) or `dashscope.Client(base_url=...)`
(2.x), and the `openai` SDK with `base_url=<server>/dashscope/compatible-mode/v1`.

Native routes answer DashScope's error body (`{"code", "message", "request_id"}`); the compatible mode is
the OpenAI facade's own handlers, reached with `X-DashScope-WorkSpace` read as the workspace, and answers
OpenAI's error body with DashScope's top-level `request_id`.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ....._version import __version__
from .... import chatwire
from ....authn import Authentication, BearerKeys
from ....authz import WORKSPACE_HEADER as NATIVE_HEADER
from ....context import Services
from ... import errors
from ..alibaba import workspace_ref
from ..base import Facade
from ..openai import routes as openai_routes
from . import routes, wire

COMPATIBLE = "/compatible-mode/v1"
_DASHSCOPE = routes.WORKSPACE_HEADER.lower().encode()
_NATIVE = NATIVE_HEADER.lower().encode()


def build(platform: Services) -> FastAPI:
    app = FastAPI(title="modeldeck DashScope-compatible API", version=__version__,
                  description="DashScope's text generation, tasks and model permissions; its OpenAI-compatible mode.")  # fmt: skip
    app.state.platform = platform
    app.state.authentication = Authentication(BearerKeys())  # what the dashscope SDK sends: its API key
    app.include_router(routes.router)
    errors.install(app, wire.error_body)
    app.state.compatible = compatible(platform)
    app.mount(COMPATIBLE, WorkspaceFromDashScope(app.state.compatible))
    return app


def compatible(platform: Services) -> FastAPI:
    """The compatible mode: the OpenAI facade's routes, as DashScope's `/compatible-mode/v1` answers them."""
    app = FastAPI(title="modeldeck DashScope compatible mode", version=__version__)
    app.state.platform = platform
    app.state.authentication = Authentication(BearerKeys())
    app.include_router(openai_routes.router)
    errors.install(app, lambda error: {"error": chatwire.openai_error(error), "request_id": error.request_id})
    return app


def read_workspace(scope: Scope) -> None:
    """Take `X-DashScope-WorkSpace` as the workspace the OpenAI handlers read (it wins over theirs)."""
    sent = next((v for k, v in scope["headers"] if k == _DASHSCOPE), None)
    if sent is None:
        return
    ref = workspace_ref(sent.decode("latin-1")) or ""
    scope["headers"] = [(k, v) for k, v in scope["headers"] if k != _NATIVE] + [(_NATIVE, ref.encode("latin-1"))]


class WorkspaceFromDashScope:
    """The compatible mode's sub-app, seeing DashScope's workspace header as its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            read_workspace(scope)
        await self.app(scope, receive, send)


async def compatible_chat(request: Request) -> Response:
    """POST /compatible-mode/v1/chat/completions: the OpenAI facade's lane, run as the compatible app."""
    read_workspace(request.scope)
    request.scope["app"] = request.app.state.compatible  # its errors take the compatible mode's shape
    return await openai_routes.chat_completions(request)


FACADE = Facade("dashscope", "/dashscope", "/dashscope/api/v1", build,
                lanes={f"{COMPATIBLE}/chat/completions": compatible_chat})  # fmt: skip

__all__ = ["FACADE"]
