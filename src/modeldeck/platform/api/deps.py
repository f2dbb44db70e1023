"""Request-scoped access to the platform and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from ..authz import Caller, Principal, authenticate, bearer, enter
from ..core import Platform


async def get_platform(request: Request) -> Platform:
    """Async, so FastAPI calls it inline instead of in a worker thread: it only reads an attribute."""
    return request.app.state.platform


def get_principal(
    platform: Annotated[Platform, Depends(get_platform)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    with platform.store.read() as db:
        return authenticate(db, bearer(authorization))


def get_caller(
    platform: Annotated[Platform, Depends(get_platform)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    workspace_header: Annotated[
        str | None,
        Header(alias="X-ModelDeck-Workspace", description="Workspace name or id; main-account keys may omit it."),
    ] = None,
) -> Caller:
    """The key's account in its workspace: one read transaction and one worker thread hop for both steps."""
    with platform.store.read() as db:
        return enter(db, authenticate(db, bearer(authorization)), workspace_header)


PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
CallerDep = Annotated[Caller, Depends(get_caller)]
