"""Model Studio's management API (ModelStudio 2026-02-10) at `/modelstudio`, as the official
`alibabacloud-modelstudio20260210` client sends it: ROA paths under `/modelstudio`, camelCase keys,
AccessKey pairs signing ACS3-HMAC-SHA256 (verified by `authn.AccessKeySignatures`). The SDK's endpoint is
the server itself (`Config(endpoint="127.0.0.1:PORT", protocol="HTTP")`), since its paths carry the prefix.

ListWorkspaces, ListModelPermissions and UpdateModelPermissions answer from the same store and rules as
the native API: a grant is made by the default workspace (Models > View Details > Authorize), by the main
account or an admin there.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ....._version import __version__
from ....authn import AccessKeySignatures, Authentication
from ....context import Services
from ... import errors
from ..base import Facade
from . import routes


def error_body(error: Any) -> dict[str, Any]:
    """Alibaba Cloud's OpenAPI error, camelCase as this product writes it (the SDK reads code, message, requestId)."""
    return {"requestId": error.request_id or "", "code": error.code, "message": error.message,
            "httpStatusCode": error.status or 500, "success": False}  # fmt: skip


def build(platform: Services) -> FastAPI:
    app = FastAPI(title="modeldeck Model Studio management API", version=__version__,
                  description="ModelStudio 2026-02-10: workspaces and the models each may call.")  # fmt: skip
    app.state.platform = platform
    app.state.authentication = Authentication(AccessKeySignatures())
    app.include_router(routes.router)
    errors.install(app, error_body)
    return app


FACADE = Facade("modelstudio", "/modelstudio", "", build)
