"""Huawei Cloud IAM at the server's root (`/v3/...`, as `huaweicloudsdkiam` and the core's project-id
lookup send it): tokens for the platform's accounts and the account's projects. The SDKs are pointed at
the server with `with_endpoints([url])`, `with_iam_endpoint(url)` or `HUAWEICLOUD_SDK_IAM_ENDPOINT=url`.

How an account authenticates (docs/clouds/huawei.md): the password method, where the IAM user is the
platform account's name, the password one of its API keys, the domain the main account's name; a token
request may also be AK/SK-signed (GlobalCredentials does), and the signature is then verified too.
"""

from __future__ import annotations

from fastapi import FastAPI

from ....._version import __version__
from ....context import Services
from ... import errors
from ..base import Facade
from ..huawei import authentication
from ..huawei.errors import shape
from . import routes


def build(platform: Services) -> FastAPI:
    app = FastAPI(title="modeldeck IAM (Huawei Cloud) API", version=__version__,
                  description="Keystone tokens and projects for the platform's accounts.")  # fmt: skip
    app.state.platform = platform
    app.state.authentication = authentication()
    app.include_router(routes.router)
    errors.install(app, shape("IAM"))
    return app


FACADE = Facade("iam", "/iam", "", build, roots=(r"^/v3(\.0)?/",))
