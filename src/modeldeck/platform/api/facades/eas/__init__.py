"""PAI-EAS at `/eas`: the data plane (`/eas/api/predict/<service>`, a service token in `Authorization`) and
the management API (eas 2021-07-01: `/eas/api/v2/services`, AccessKey-signed: reads in `services.py`,
create / update / version rollback / stop / start / delete in `manage.py`), over the platform's deployments. The official management client is configured with `Config(endpoint="127.0.0.1:PORT/eas",
protocol="HTTP")`: the tea client puts the endpoint, path included, in the URL and in the signed `host`,
and signs its own pathname (`/api/v2/services`), which `ManagementSignatures` verifies.

Errors carry both shapes EAS clients read: OpenAPI's `Code`/`Message`/`RequestId` (the tea client) and
OpenAI's `error` object (the openai SDK on a service's OpenAI-style paths).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session

from ....._version import __version__
from .... import chatwire
from ....authn import AccessKeySignatures, Authentication, Presented
from ....authz import Principal
from ....context import Services
from ... import errors
from ..base import Facade
from . import manage, predict, services
from .tokens import Relay

PREFIX = "/eas"


class ManagementSignatures(AccessKeySignatures):
    """ACS3 as the tea client signs an endpoint that has a path: over the pathname without it (the signed
    host ends with it, so the prefix is still covered); a request signed over its whole path also passes."""

    def principal(self, platform: Services, db: Session, presented: Presented) -> Principal:
        if (presented.header("host") or "").endswith(PREFIX):
            presented = replace(presented, path=presented.path.removeprefix(PREFIX) or "/")
        return super().principal(platform, db, presented)


def error_body(error: Any) -> dict[str, Any]:
    return {"RequestId": error.request_id or "", "Code": error.code, "Message": error.message,
            "Recommend": error.hint or "", "error": chatwire.openai_error(error)}  # fmt: skip


def build(platform: Services) -> FastAPI:
    app = FastAPI(title="modeldeck PAI-EAS API", version=__version__,
                  description="EAS services over the platform's deployments: predict, OpenAI-style chat, management.")  # fmt: skip
    app.state.platform = platform
    app.state.authentication = Authentication(ManagementSignatures())
    app.state.relay = Relay()
    app.include_router(services.router)
    app.include_router(manage.router)
    app.include_router(predict.router)
    errors.install(app, error_body)
    return app


FACADE = Facade("eas", PREFIX, PREFIX, build)
