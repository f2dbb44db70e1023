"""ModelArts at the server's root, as `huaweicloudsdkmodelarts` 3.1.219 sends it (docs/clouds/huawei-sdks.md
section 3): workspaces (the default one is "0"), the authorization mode (`/v1/auth-mode`, the platform's
strict / loose), ValidateAuthorization, the ModelArts agency and its delegations, models ("AI
applications") over the platform's registry, and the training jobs its versions came from. Clients sign
with AK/SK (the SDK) or send an IAM token (`X-Auth-Token`, our provider and curl users); errors are
`{"error_code", "error_msg"}`.
"""

from __future__ import annotations

from fastapi import FastAPI

from ....._version import __version__
from ....context import Services
from ... import errors
from ..base import Facade
from ..huawei import authentication
from ..huawei.errors import shape
from . import agency, models, services, training, workspaces


def build(platform: Services) -> FastAPI:
    app = FastAPI(title="modeldeck ModelArts (Huawei Cloud) API", version=__version__,
                  description="Workspaces, authorization mode and checks, agencies, models and their training jobs.")  # fmt: skip
    app.state.platform = platform
    app.state.authentication = authentication()
    for module in (workspaces, agency, models, services, training):
        app.include_router(module.router)
    errors.install(app, shape("ModelArts"))
    return app


# /v1/auth-mode, and the project's ModelArts resources (services: services.py's router). A
# project id is 32 hex (or the SDK's unfilled template), so OpenAI's /v1/models/<id> never matches.
PROJECT = r"([0-9a-f]{32}|\{project_id\})"
ROOTS = (r"^/v1/auth-mode$", rf"^/v[12]/{PROJECT}/(workspaces|models|agency|authorizations|services|training-jobs)(/|$)")
FACADE = Facade("modelarts", "/modelarts", "", build, roots=ROOTS)
