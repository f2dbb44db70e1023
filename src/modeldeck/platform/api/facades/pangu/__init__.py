"""The Pangu facade: Pangu's NLP inference API (`huaweicloudsdkpangulargemodels` v1 and v2 chat and text
completions, the OpenAI-format chat path, inference tasks) over the platform's deployments, with Huawei
Cloud's error body.

Its paths are answered at the server's root (`Facade.roots`: the SDK keeps only an endpoint's scheme and
host), so the SDK, curl and the `huawei` provider all take the server's URL as Pangu's endpoint.
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
from .relay import RelayTokens


def build(platform: Services) -> FastAPI:
    app = FastAPI(title="modeldeck Pangu-compatible API", version=__version__,
                  description="Pangu chat and text completions (v1, v2 pools; chat also in OpenAI format) and inference tasks on deployments.")  # fmt: skip
    app.state.platform = platform
    app.state.authentication = authentication()
    app.state.relay = RelayTokens()
    app.include_router(routes.router)
    errors.install(app, shape("PanGu"))
    return app


# The SDK's paths at the server's root (it keeps only an endpoint's host), the OpenAI-format path too.
ROOTS = (r"^/v[12]/[^/]+/(pools/[^/]+/)?deployments/", r"^/api/v2/chat/completions$")
FACADE = Facade("pangu", "/pangu", "", build, roots=ROOTS)

__all__ = ["FACADE"]
