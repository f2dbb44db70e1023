"""PAI's AIWorkspace API (2021-02-04) at `/aiworkspace`, as `alibabacloud-aiworkspace20210204` sends it:
ROA paths under `/api/v1`, PascalCase JSON, signed with ACS3-HMAC-SHA256 (the SDK's default) or the
legacy ROA HMAC-SHA1 (alipai's clients), both verified against the platform's AccessKey pairs.

The SDK is pointed here with its documented `endpoint` setting, path included:
`Config(endpoint="127.0.0.1:PORT/aiworkspace", protocol="HTTP")`. Its paths (`/api/v1/...`) would take
the native API's otherwise. The SDK puts the whole endpoint in its `host` header and signs the path below
it (docs/clouds/alibaba.md, PAI); a client given the base URL `http://127.0.0.1:PORT/aiworkspace` (our
provider) sends an ordinary host and signs the whole path. `Gateway` verifies each as it was signed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session

from ....._version import __version__
from ....authn import AccessKeySignatures, Authentication, Presented
from ....authz import Principal
from ....context import Services
from ....roa import ROASignatures
from ... import errors
from ..base import Facade
from .ids import pai_workspace_id, platform_workspace_id

PREFIX = "/aiworkspace"


class Gateway(Authentication):
    """Authentication that reads the signed path as the client composed it with its endpoint (an SDK
    given `host:port/<prefix>` signs the path below the prefix). STS's facade is reached the same way."""

    def __init__(self, *backends: Any, prefix: str = PREFIX) -> None:
        super().__init__(*backends)
        self.prefix = prefix

    def principal(self, platform: Services, db: Session, presented: Presented) -> Principal:
        host = presented.header("host") or ""
        if host.endswith(self.prefix) and presented.path.startswith(self.prefix + "/"):
            presented = dataclasses.replace(presented, path=presented.path[len(self.prefix) :])
        return super().principal(platform, db, presented)


def error_body(error: Any) -> dict[str, Any]:
    """Alibaba Cloud's OpenAPI error (the SDK reads Code, Message, RequestId)."""
    return {"RequestId": error.request_id or "", "HostId": "aiworkspace", "Code": error.code,
            "Message": error.message, "Recommend": error.hint or ""}  # fmt: skip


def build(platform: Services) -> FastAPI:
    from . import routes

    app = FastAPI(title="modeldeck PAI AIWorkspace API", version=__version__,
                  description="AIWorkspace 2021-02-04: workspaces, members, models and their versions.")  # fmt: skip
    app.state.platform = platform
    app.state.authentication = Gateway(AccessKeySignatures(), ROASignatures())
    app.include_router(routes.router)
    errors.install(app, error_body)
    return app


FACADE = Facade("aiworkspace", PREFIX, PREFIX, build)

__all__ = ["FACADE", "Gateway", "error_body", "pai_workspace_id", "platform_workspace_id"]
