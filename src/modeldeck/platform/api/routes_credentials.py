"""AccessKey pairs, short-lived tokens, and the endpoints each protocol's SDK is configured with."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from .. import accounts
from ..pagination import PageRequest
from ..schema import AccessKey
from . import facades, serialize
from .bodies import Body
from .deps import PlatformDep, PrincipalDep
from .routing import Router

router = Router(prefix="/api/v1", tags=["credentials"], strict_query=True)


class AccessKeyCreate(Body):
    description: Any = ""


class TokenCreate(Body):
    ttl_seconds: Any


def access_key(row: AccessKey, account: str, secret: str | None = None) -> dict[str, Any]:
    out = {"id": row.id, "account": account, "status": row.status, "description": row.description,
           "created_at": row.created_at, "last_used_at": row.last_used_at}  # fmt: skip
    if secret is not None:
        out["secret"] = secret  # shown once, at creation; kept sealed
    return out


@router.post("/access-keys", status_code=201)
def create_access_key(platform: PlatformDep, principal: PrincipalDep, body: AccessKeyCreate) -> dict[str, Any]:
    """A new AccessKey pair for the caller's account, to sign requests (ACS3-HMAC-SHA256). The secret is in
    this response only. Rotate by creating a new pair, switching to it, then revoking the old one."""
    with platform.store.write() as db:
        row, secret = accounts.create_access_key(db, principal, platform.sealer, body.description)
        return access_key(row, principal.account_name, secret)


@router.get("/access-keys")
def list_access_keys(
    platform: PlatformDep, principal: PrincipalDep, account: str | None = None, limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The caller's AccessKeys (the main account: everyone's, `?account=NAME` for one), never their secrets."""
    with platform.store.read() as db:
        rows, nxt = accounts.list_access_keys(db, principal, account, PageRequest(platform.cursors, limit, cursor))
        return serialize.page([access_key(row, name) for row, name in rows], nxt)


@router.delete("/access-keys/{key_id}", status_code=204)
def revoke_access_key(platform: PlatformDep, principal: PrincipalDep, key_id: str) -> Response:
    with platform.store.write() as db:
        accounts.revoke_access_key(db, principal, key_id)
    return Response(status_code=204)


@router.post("/tokens", status_code=201)
def create_token(platform: PlatformDep, principal: PrincipalDep, body: TokenCreate) -> dict[str, Any]:
    """A bearer token for the caller's account that expires after `ttl_seconds` (60 to 43200)."""
    with platform.store.write() as db:
        token, expires = accounts.issue_token(db, principal, body.ttl_seconds)
    return {"token": token, "expires_at": expires}


@router.get("/endpoints")
def endpoints(request: Request, platform: PlatformDep, principal: PrincipalDep) -> dict[str, str]:
    """Each protocol's base URL as its official SDK wants it configured: the server's public URL if it has
    one (`modeldeck serve --public-url`), else the URL this request reached."""
    base = platform.settings.public_url or str(request.base_url)
    return facades.endpoints(base, request.app.state.facades)
