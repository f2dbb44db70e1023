"""Huawei Cloud's error body, `{"error_code", "error_msg"}` (the request id travels in `X-Request-Id`), with
the platform's errors given codes in the cloud's families: `APIGW.*` for what the API gateway refuses
before a service sees the request (authentication, throttling), `<Service>.*` for the service's own.

These codes are modeldeck's choices in the cloud's style (docs/clouds/huawei.md lists them); the SDKs read
any `error_code`/`error_msg` pair and raise `ClientRequestException` below 500.
"""

from __future__ import annotations

from typing import Any

from .....errors import DeckError, WorkspaceAccessDenied

# What the gateway answers, by the platform's code (401: who are you; 403: not for this project).
GATEWAY = {"Token.WrongProject": "APIGW.0302", "Throttling": "APIGW.0308"}
UNAUTHENTICATED = "APIGW.0301"  # a bad or unknown signature, a skewed clock, a bad or expired token
# The service's own, by HTTP status; 403 splits into workspace access and action permission.
BY_STATUS = {400: "0101", 404: "0102", 409: "0103", 403: "0104", 413: "0106", 422: "0101"}
WORKSPACE_DENIED = "0105"
# Codes the facades raise already in the cloud's form, or that keep the platform's meaning as is.
KEPT_PREFIXES = ("APIGW.", "ModelArts.", "IAM.", "PanGu.", "ProjectId.")


def code_for(error: DeckError, service: str) -> str:
    code = error.code or ""
    if code.startswith(KEPT_PREFIXES):
        return code
    if code in GATEWAY or code.split(".")[0] in GATEWAY:
        return GATEWAY.get(code) or GATEWAY[code.split(".")[0]]
    if error.status == 401:
        return UNAUTHENTICATED
    if isinstance(error, WorkspaceAccessDenied):
        return f"{service}.{WORKSPACE_DENIED}"
    return f"{service}.{BY_STATUS.get(error.status or 500, '0001')}"


def shape(service: str) -> Any:
    """The error shape of a facade of `service` (ModelArts, IAM, ...) for `errors.install`."""

    def body(error: DeckError) -> dict[str, Any]:
        message = error.message if not error.hint else f"{error.message} {error.hint}"
        return {"error_code": code_for(error, service), "error_msg": message}

    return body
