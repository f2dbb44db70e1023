"""Alibaba Cloud's error bodies as typed errors, with hints written for this cloud.

DashScope answers `{"code", "message", "request_id"}`, its compatible mode `{"error": {...}}`, Model Studio
management `{"code", "message", "requestId"}` (sometimes with HTTP 200 and `success: false`), PAI's AIWorkspace
and EAS the OpenAPI's PascalCase `{"Code", "Message", "RequestId"}` (cloud-protocols.md 3.3).
"""

from __future__ import annotations

from typing import Any

import httpx

from ...errors import DeckError, error_fields, error_from_payload, response_payload
from .eas import VERSION as EAS_VERSION

HINTS = {
    "Workspace.AccessDenied": "A RAM sub-account's API key must name its workspace: pass workspace='ws_…' (deck.use) "
    "or set DASHSCOPE_WORKSPACE (the X-DashScope-WorkSpace header).",
    "Model.AccessDenied": "An admin of the default workspace must authorize this workspace for the model: Models > "
    "View Details > Authorize in the console, or deck.authorize(model, workspace, actions=['inference']) with "
    "the account's AccessKey.",
    "AccessDenied.Unpurchased": "Model Studio or this model is not activated for the account: activate it in the "
    "Model Studio console (Models), then retry.",
    "InvalidApiKey": "Check DASHSCOPE_API_KEY; a key works only in its own region: an international (Singapore) key "
    "fails on the China host and the other way round, so check the profile's region.",
    "Signature.Mismatch": "Check ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET and the machine's clock.",
    "Arrearage": "The account is in arrears: top it up in the Alibaba Cloud console.",
    "Version.ApprovalFinal": "PAI keeps an approval decision final: register a new version to decide again.",
    "Model.NotFound": "Check the model's name or ModelId, and PAI_WORKSPACE_ID (the PAI workspace it lives in).",
    "InvalidParameter.WorkspaceId": "Set PAI_WORKSPACE_ID to the numeric id PAI's ListWorkspaces shows (PAI console > "
    "Workspaces).",
    "Token.Invalid": "The EAS service token is wrong: send the service's AccessToken (DescribeService, or the console's "
    "Invocation information); a token belongs to one service and changes when the service is created again.",
    "Service.NotFound": "EAS services are regional: set the profile's region (or ALIBABA_CLOUD_REGION_ID) to the service's, "
    "and check the name with deck.deployments().",
    "Deployment.NotServing": "The EAS service is not running: start it (deck.start(name), or the PAI console) and wait "
    "until it is Running, then call it again.",
    "Throttling": "Model Studio is limiting requests (per model and account): wait, and retry after Retry-After.",
}


def hint_for(code: str) -> str | None:
    return next((h for c, h in HINTS.items() if code == c or code.startswith(c + ".")), None)


def fields_of(payload: dict[str, Any]) -> dict[str, Any]:
    if "Code" in payload and "code" not in payload:  # the OpenAPI's PascalCase (AIWorkspace, EAS)
        payload = {"code": payload["Code"], "message": payload.get("Message"), "request_id": payload.get("RequestId")}
    fields = error_fields(payload)
    return {**fields, "request_id": fields.get("request_id") or payload.get("request_id") or fields.get("requestId")}


def error(response: httpx.Response) -> DeckError:
    payload = response_payload(response)
    fields = fields_of(payload)
    # EAS's codes overlap Model Studio's (Model.AccessDenied there is a missing deploy grant, not an
    # authorization for inference), so an EAS management answer's own recommendation comes first
    recommended = payload.get("Recommend") or None
    ours = None if recommended and response.request.headers.get("x-acs-version") == EAS_VERSION else hint_for(str(fields.get("code") or ""))
    fields["hint"] = fields.get("hint") or ours or recommended
    return error_from_payload(response.status_code, fields, response.headers.get("x-request-id"))


def failed(body: dict[str, Any], status: int) -> DeckError:
    """A management answer of `success: false` (the SDK hands those back as normal responses)."""
    fields = {**fields_of(body), "message": body.get("message") or body.get("errorMessage")}
    fields["hint"] = hint_for(str(fields.get("code") or ""))
    return error_from_payload(body.get("httpStatusCode") or status, fields)
