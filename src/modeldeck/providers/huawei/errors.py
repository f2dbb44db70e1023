"""Huawei Cloud's error bodies as typed errors, with hints written for this cloud.

The services answer `{"error_code", "error_msg"}`; the SDK also accepts `errorCode/errorMsg`, `code/message`
and each of them one level down (`{"error": {"code", "message"}}`, IAM's form); the request id is the
`X-Request-Id` header. `APIGW.*` codes come from the API gateway in front of every service.
"""

from __future__ import annotations

from typing import Any

import httpx

from ...errors import AccessDenied, DeckError, InvalidApiKey, WorkspaceAccessDenied, error_class, response_payload

PAIRS = (("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message"))
HINTS = {
    "APIGW.0301": "The gateway refused the credentials: check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK (or the IAM "
    "user and password), and the machine's clock: a signature's X-Sdk-Date must be within 15 minutes of the "
    "server's. An expired token is asked for again by the provider on the next call.",
    "APIGW.0302": "The IAM token is for another project: unset HUAWEICLOUD_SDK_PROJECT_ID to let the provider look "
    "the project up for the region, or set it to the project of the region you call.",
    "APIGW.0308": "The gateway is throttling this API: wait, and retry after Retry-After.",
    "ModelArts.0105": "No access to this workspace: in strict authorization mode an IAM user enters only the "
    "workspaces it was granted. Ask the workspace's owner or the main account to add you to it (on a modeldeck "
    "platform: deck.add_member(workspace, you, role='developer')), or the main account to switch ModelArts to "
    "loose mode. huawei.check(deck, action) tells this before you try.",
    "ModelArts.0104": "You may enter the workspace but your permission there does not allow this action: ask the "
    "workspace's owner or the main account for a role that does (developer to create models and services, admin "
    "to manage the workspace). huawei.check(deck, action) tells this before you try.",
    "ModelArts.0107": "ModelArts reads OBS through an agency, not yet delegated to you: the main account creates "
    "it and delegates it (Settings > Permission in the console, or huawei.agency(deck, delegate=True)).",
    "ProjectId": "Set HUAWEICLOUD_SDK_PROJECT_ID, or the region (profile region / HUAWEICLOUD_SDK_REGION) so the "
    "provider looks the project up in IAM.",
    "IAM.0001": "Check HUAWEICLOUD_USER_NAME, HUAWEICLOUD_PASSWORD and HUAWEICLOUD_DOMAIN_NAME (on a modeldeck "
    "platform: the account's name, one of its API keys, the main account's name).",
}
CLASSES: dict[str, type[DeckError]] = {"APIGW.0301": InvalidApiKey, "IAM.0001": InvalidApiKey,
                                       "ModelArts.0105": WorkspaceAccessDenied, "ModelArts.0104": AccessDenied}  # fmt: skip


def hint_for(code: str) -> str | None:
    return next((h for c, h in HINTS.items() if code == c or code.startswith(c + ".")), None)


def fields_of(payload: dict[str, Any]) -> tuple[str, str]:
    """(code, message) as the SDK's exception handler finds them, one level down included."""
    for scope in (payload, *(v for v in payload.values() if isinstance(v, dict))):
        for code, message in PAIRS:
            if code in scope and message in scope:
                return str(scope[code]), str(scope[message])
    return "", str(payload.get("message") or "")


def error(response: httpx.Response) -> DeckError:
    code, message = fields_of(response_payload(response))
    cls = CLASSES.get(code) or error_class(code, response.status_code)
    return cls(message or f"HTTP {response.status_code} from Huawei Cloud.", code=code or None, hint=hint_for(code),
               status=response.status_code, request_id=response.headers.get("x-request-id"))  # fmt: skip
