"""POST /v3/auth/tokens (the password method, scoped to a project by id or by region name) and
GET /v3/projects, answered as Keystone does: 201 with the token in `X-Subject-Token`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .....errors import InvalidApiKey, InvalidParameter
from .....providers.huawei.endpoints import REGION_IDS
from .... import accounts
from ....authn import Presented
from ....authz import Principal, authenticate
from ....schema import Account
from ...deps import PrincipalDep
from ...routing import Router
from ..huawei.authn import subject_token
from ..huawei.ids import domain_id, project_id, projects

router = Router(tags=["iam"])
TOKEN_TTL = accounts.TOKEN_TTL[1]  # the platform's longest (12 h; IAM's own tokens last 24 h)
TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def _refused(message: str) -> InvalidApiKey:
    return InvalidApiKey(message, code="IAM.0001", hint="The IAM user is the platform account's name, its password "
                         "one of that account's API keys, the domain the main account's name.")  # fmt: skip


def _bad(message: str) -> InvalidParameter:
    return InvalidParameter(message, code="IAM.0002", hint='Send {"auth": {"identity": {"methods": ["password"], '
                            '"password": {"user": {"name", "password", "domain": {"name"}}}}, "scope": {"project": '
                            '{"name": "<region>"}}}}.')  # fmt: skip


def _object(value: Any, where: str) -> dict[str, Any]:
    """A JSON object of the body (absent: empty); anything else is the caller's mistake."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(f"{where} must be an object.")
    return value


def _password_user(body: dict[str, Any]) -> dict[str, Any]:
    identity = _object(body["auth"].get("identity"), "auth.identity")
    methods = identity.get("methods")
    if not isinstance(methods, list) or "password" not in methods:
        raise _bad("Only the password method is accepted here.")
    user = _object(_object(identity.get("password"), "auth.identity.password").get("user"), "auth.identity.password.user")
    if not all(isinstance(user.get(k), str) for k in ("name", "password")):
        raise _bad("auth.identity.password.user needs a name and a password.")
    _object(user.get("domain"), "auth.identity.password.user.domain")
    return user


def _scope(body: dict[str, Any], root_id: str) -> tuple[str | None, str | None]:
    """(project id, region) the token is for; (None, None) for a domain-scoped one."""
    project = _object(_object(body["auth"].get("scope"), "auth.scope").get("project"), "auth.scope.project")
    if not project:
        return None, None
    if project.get("id"):
        region = projects(root_id).get(str(project["id"]))
        if region is None:
            raise _bad("scope.project.id is not one of this account's projects.")
        return str(project["id"]), region
    if not isinstance(project.get("name"), str) or project["name"] not in REGION_IDS:
        raise _bad(f"scope.project.name must be a region: {', '.join(REGION_IDS)}.")
    return project_id(root_id, project["name"]), project["name"]


def _issue(request: Request, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    user = _password_user(body)
    platform = request.app.state.platform
    with platform.store.write() as db:
        try:
            principal: Principal = authenticate(db, user["password"])
        except InvalidApiKey:
            raise _refused("The user name or password is wrong.") from None
        root = db.get_one(Account, principal.root_id)
        domain = (user.get("domain") or {})
        named = domain.get("name") in (None, root.name) and domain.get("id") in (None, domain_id(root.id))
        if principal.account_name != user["name"] or principal.credential != "api_key" or not named:
            raise _refused("The user name or password is wrong.")
        project, region = _scope(body, root.id)
        token, expires = accounts.issue_token(db, principal, TOKEN_TTL)
        issued = datetime.now(expires.tzinfo)
    dom = {"id": domain_id(root.id), "name": root.name}
    out = {"expires_at": expires.strftime(TIME), "issued_at": issued.strftime(TIME), "methods": ["password"],
           "user": {"id": principal.account_id, "name": principal.account_name, "domain": dom},
           "roles": [{"id": "0", "name": "te_admin" if principal.is_main else "te_agency"}], "catalog": []}  # fmt: skip
    if project:
        out["project"] = {"id": project, "name": region, "domain": dom}
    else:
        out["domain"] = dom
    return subject_token(token, project), {"token": out}


@router.post("/v3/auth/tokens", status_code=201)
async def create_token(request: Request) -> JSONResponse:
    """A token for the password's account (201, the token in X-Subject-Token); a signed request is verified
    first (the SDK's GlobalCredentials signs it)."""
    raw = await request.body()
    if request.headers.get("authorization"):
        await _verified(request, raw)
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise _bad("The body is not JSON.") from None
    if not isinstance(body, dict) or not isinstance(body.get("auth"), dict):
        raise _bad("The body needs an auth object.")
    token, answer = await run_in_threadpool(_issue, request, body)
    return JSONResponse(answer, status_code=201, headers={"X-Subject-Token": token})


async def _verified(request: Request, raw: bytes) -> Principal:
    platform = request.app.state.platform
    shown = Presented.of(request.scope, raw)

    def check() -> Principal:
        with platform.store.read() as db:
            return request.app.state.authentication.principal(platform, db, shown)

    return await run_in_threadpool(check)


@router.get("/v3/projects")
def list_projects(principal: PrincipalDep, name: str | None = None) -> dict[str, Any]:
    """The account's projects (one per region), by name (the region) if asked."""
    domain = domain_id(principal.root_id)
    listed = [{"id": pid, "name": region, "domain_id": domain, "parent_id": domain, "enabled": True,
               "is_domain": False, "description": "", "links": {"self": f"/v3/projects/{pid}"}}
              for pid, region in projects(principal.root_id).items() if name in (None, region)]  # fmt: skip
    return {"projects": listed, "links": {"self": "/v3/projects", "next": None, "previous": None}}
