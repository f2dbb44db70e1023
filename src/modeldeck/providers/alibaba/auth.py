"""One account, two credentials: the DashScope API key as a bearer for inference, the AccessKey pair
signing ACS3-HMAC-SHA256 for Model Studio management. A management request is one that names its OpenAPI
action (`x-acs-action`); it never carries the DashScope workspace header (the workspace is a parameter).
A call to an EAS service carries that service's token itself, and keeps it."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from ..._http import Credentials
from ...errors import InvalidApiKey
from ..auth import ACS3Auth

WORKSPACE_HEADER = "X-DashScope-WorkSpace"


class AlibabaAuth(httpx.Auth):
    requires_request_body = True

    def __init__(self, credentials: Credentials) -> None:
        self._key = credentials.api_key
        pair = credentials.access_key_id and credentials.access_key_secret
        self._signer = ACS3Auth(credentials.access_key_id or "", credentials.access_key_secret or "",
                                credentials.security_token) if pair else None  # fmt: skip

    def __repr__(self) -> str:
        return f"AlibabaAuth(api_key={'***' if self._key else None}, access_key={self._signer!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "x-acs-action" in request.headers:
            if self._signer is None:
                raise InvalidApiKey(
                    "Alibaba Cloud's management APIs (Model Studio, EAS) need an AccessKey pair, and this profile has none.",
                    hint="Set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (a RAM user's "
                    "AccessKey), or add them to the profile.",
                )
            request.headers.pop(WORKSPACE_HEADER, None)
            self._signer.sign(request)
        elif "authorization" in request.headers:  # the call carries its own credential: an EAS service's token
            request.headers.pop(WORKSPACE_HEADER, None)  # DashScope's header means nothing to a service
        elif self._key:
            request.headers["Authorization"] = f"Bearer {self._key}"
        else:
            raise InvalidApiKey(
                "DashScope needs an API key, and this profile has none.",
                hint="Set DASHSCOPE_API_KEY (Model Studio > API keys), or add api_key to the profile.",
            )
        yield request


def auth(credentials: Credentials) -> httpx.Auth | None:
    return AlibabaAuth(credentials) if credentials else None
