"""STS 2015-04-01's GetCallerIdentity at `/sts`: who an AccessKey pair is, as `alibabacloud-sts20150401`
asks it (RPC style, `POST /`, ACS3-signed). alipai asks it to find the caller among a PAI workspace's
members (ListMembers' `UserId`), and so does the `alibaba` provider before it offers Approve.

The SDK is pointed here with its documented `endpoint` setting, path included
(`Config(endpoint="127.0.0.1:PORT/sts", protocol="HTTP")`), verified as the AIWorkspace facade's `Gateway` does.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from ....._version import __version__
from ....authn import AccessKeySignatures
from ....context import Services
from ....schema import Account
from ... import errors
from ...deps import PrincipalDep
from ...errors import request_id
from ...routing import Router
from ..aiworkspace import Gateway, error_body
from ..base import Facade

PREFIX = "/sts"
router = Router(tags=["sts"])


@router.post("/")
def get_caller_identity(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    """The signer: the main account is the Alibaba Cloud account itself, a sub-account a RAM user of it."""
    with request.app.state.platform.store.read() as db:
        name = db.get_one(Account, principal.account_id).name
    root = principal.root_id
    arn = f"acs:ram::{root}:root" if principal.is_main else f"acs:ram::{root}:user/{name}"
    return {"RequestId": request_id(request), "IdentityType": "Account" if principal.is_main else "RAMUser",
            "AccountId": root, "UserId": principal.account_id, "PrincipalId": principal.account_id, "Arn": arn}  # fmt: skip


def build(platform: Services) -> FastAPI:
    app = FastAPI(
        title="modeldeck STS API", version=__version__, description="STS 2015-04-01: GetCallerIdentity."
    )
    app.state.platform = platform
    app.state.authentication = Gateway(AccessKeySignatures(), prefix=PREFIX)
    app.include_router(router)
    errors.install(app, error_body)
    return app


FACADE = Facade("sts", PREFIX, PREFIX, build)
