"""Request-scoped access to the platform and the authenticated caller.

Who the caller is comes from the authentication of the app the request reached (`app.state.authentication`:
the native API's, or a facade's), so a facade accepts exactly the credentials its protocol's clients send.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from ..authn import Authentication, Presented
from ..authz import Caller, Principal, enter
from ..context import Services


async def get_platform(request: Request) -> Services:
    """Async, so FastAPI calls it inline instead of in a worker thread: it only reads an attribute."""
    return request.app.state.platform


async def presented(request: Request) -> Presented:
    """The request's credentials; with its body when the backend must verify a signature over it."""
    authentication: Authentication = request.app.state.authentication
    signed = authentication.needs_body(request.headers.get("authorization"), request.headers.__contains__)
    return Presented.of(request.scope, await request.body() if signed else b"")


def _principal(request: Request, shown: Presented) -> Principal:
    platform: Services = request.app.state.platform
    with platform.store.read() as db:
        return request.app.state.authentication.principal(platform, db, shown)


def _caller(request: Request, shown: Presented, workspace: str | None) -> Caller:
    """Both steps in one read transaction and one worker thread hop."""
    platform: Services = request.app.state.platform
    with platform.store.read() as db:
        return enter(db, request.app.state.authentication.principal(platform, db, shown), workspace)


async def get_principal(request: Request, shown: Annotated[Presented, Depends(presented)]) -> Principal:
    return await run_in_threadpool(_principal, request, shown)


async def get_caller(
    request: Request,
    shown: Annotated[Presented, Depends(presented)],
    workspace_header: Annotated[
        str | None,
        Header(alias="X-ModelDeck-Workspace", description="Workspace name or id; main-account keys may omit it."),
    ] = None,
) -> Caller:
    """The credential's account in its workspace."""
    return await run_in_threadpool(_caller, request, shown, workspace_header)


PlatformDep = Annotated[Services, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
CallerDep = Annotated[Caller, Depends(get_caller)]
