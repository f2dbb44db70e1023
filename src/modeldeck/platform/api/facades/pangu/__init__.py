"""The Pangu facade: Pangu's NLP inference API (`huaweicloudsdkpangulargemodels` v1 and v2, the OpenAI-format
path, inference tasks) over the platform's deployments, with Huawei Cloud's error body.

Mounted at `/pangu` (curl, httpx and the `huawei` provider take that base URL); the official SDK drops any
path from its endpoint, so it reaches the same app on the Huawei listener (docs/clouds/huawei.md).
"""

from __future__ import annotations

from fastapi import FastAPI

from ....._version import __version__
from ....authn import Authentication, BearerKeys
from ....context import Services
from ... import errors
from ..base import Facade
from . import routes
from .relay import RelayTokens


def build(platform: Services) -> FastAPI:
    app = FastAPI(title="modeldeck Pangu-compatible API", version=__version__,
                  description="Pangu chat completions (v1, v2 pools, OpenAI format) and inference tasks on deployments.")  # fmt: skip
    app.state.platform = platform
    app.state.authentication = Authentication(BearerKeys())
    app.state.check_project = lambda db, principal, project_id: None
    app.state.relay = RelayTokens()
    app.include_router(routes.router)
    errors.install(app, lambda error: {"error_code": error.code, "error_msg": error.message, "request_id": error.request_id})
    return app


FACADE = Facade("pangu", "/pangu", "/pangu", build)

__all__ = ["FACADE"]
