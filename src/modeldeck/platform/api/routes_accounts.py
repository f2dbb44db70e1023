"""Accounts, API keys, the authorization mode, and who-am-I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header

from ... import __version__
from .. import accounts
from ..authz import enter
from ..pagination import PageRequest
from . import serialize
from .bodies import AccountCreate, SettingsUpdate
from .routing import Router
from .deps import PlatformDep, PrincipalDep

router = Router(prefix="/api/v1", tags=["accounts"], strict_query=True)


@router.get("/whoami")
def whoami(
    platform: PlatformDep,
    principal: PrincipalDep,
    workspace: Annotated[str | None, Header(alias="X-ModelDeck-Workspace")] = None,
) -> dict[str, Any]:
    """The caller's account and, when resolvable, its workspace and role there."""
    out: dict[str, Any] = {
        "account": {"id": principal.account_id, "name": principal.account_name,
                    "kind": "main" if principal.is_main else "sub"},
        "platform_version": __version__,
    }  # fmt: skip
    with platform.store.read() as db:
        caller = enter(db, principal, workspace) if (workspace or principal.is_main) else None
    if caller is not None:
        out["workspace"] = {"id": caller.workspace_id, "name": caller.workspace_name, "role": caller.role}
    return out


@router.get("/accounts")
def list_accounts(
    platform: PlatformDep, principal: PrincipalDep, limit: int | None = None, cursor: str | None = None
) -> dict[str, Any]:
    with platform.store.read() as db:
        rows, nxt = accounts.list_accounts(db, principal, PageRequest(platform.cursors, limit, cursor))
        return serialize.page([serialize.account(a) for a in rows], nxt)


@router.post("/accounts", status_code=201)
def create_account(platform: PlatformDep, principal: PrincipalDep, body: AccountCreate) -> dict[str, Any]:
    """Create a sub-account. Its API key is in the response, once; only its hash is stored."""
    with platform.store.write() as db:
        account, key = accounts.create_subaccount(db, principal, body.name)
        return {**serialize.account(account), "api_key": key}


@router.get("/accounts/{account}/keys")
def list_keys(
    platform: PlatformDep, principal: PrincipalDep, account: str, limit: int | None = None, cursor: str | None = None
) -> dict[str, Any]:
    with platform.store.read() as db:
        rows, nxt = accounts.list_keys(db, principal, account, PageRequest(platform.cursors, limit, cursor))
        return serialize.page([serialize.api_key(k) for k in rows], nxt)


@router.post("/accounts/{account}/keys", status_code=201)
def create_key(platform: PlatformDep, principal: PrincipalDep, account: str) -> dict[str, Any]:
    with platform.store.write() as db:
        row, key = accounts.create_key(db, principal, account)
        return serialize.api_key(row, key)


@router.delete("/keys/{key_id}")
def revoke_key(platform: PlatformDep, principal: PrincipalDep, key_id: str) -> dict[str, Any]:
    with platform.store.write() as db:
        return serialize.api_key(accounts.revoke_key(db, principal, key_id))


@router.get("/settings")
def get_settings(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"authorization_mode": principal.mode}


@router.patch("/settings")
def update_settings(platform: PlatformDep, principal: PrincipalDep, body: SettingsUpdate) -> dict[str, Any]:
    with platform.store.write() as db:
        main = accounts.set_authorization_mode(db, principal, body.authorization_mode)
        return {"authorization_mode": main.authorization_mode}
