"""PAI-EAS: services as the profile's deployments, predict and OpenAI-style chat on a service.

Management (eas 2021-07-01, AccessKey-signed, `Call(service="eas")`) is written as
`alibabacloud-eas20210701` sends it: `GET /api/v2/services` (ListServices) and
`GET /api/v2/services/{region}/{name}` (DescribeService, which carries the service's `AccessToken`) and
its `/events` (DescribeServiceEvent).
A call to a service goes to its `InternetEndpoint` with that token as `Authorization` (raw, as alipai's
Predictor sends it; the OpenAI-style paths take it the same way), so predict and chat first read the
service (ListServices finds its region, DescribeService its token) and keep nothing between calls.
EAS deploys from its console or its own API; this provider lists, reads and calls services.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..._http import Call
from ...errors import AccessDenied, NotFound, Unsupported
from ...resources import Deployment, DeploymentEvent, Prediction
from ..base import Page
from ..openai import chat_at

SERVICE = "eas"
VERSION = "2021-07-01"
PAGE_SIZE = 100
# EAS's service statuses as the platform's deployment statuses (the rest are kept as EAS writes them)
STATUSES = {"Updating": "Upgrading", "HotUpdate": "Upgrading", "Starting": "Creating", "Waiting": "Creating",
            "Stopping": "Stopped", "DeleteFailed": "Failed"}  # fmt: skip


def _call(path: str, action: str, params: dict[str, Any] | None = None) -> Call:
    headers = {"accept": "application/json", "x-acs-action": action, "x-acs-version": VERSION,
               "x-acs-credentials-provider": "static_ak"}  # fmt: skip
    return Call("GET", path, params=params, headers=headers, service=SERVICE)


def as_record(service: dict[str, Any]) -> dict[str, Any]:
    """A `Service` as the platform's deployment record (what `Deployment.from_json` reads)."""
    labels = {item.get("LabelKey"): item.get("LabelValue") for item in service.get("Labels") or []}
    status = STATUSES.get(service.get("Status", ""), service.get("Status", ""))
    total, running = int(service.get("TotalInstance") or 0), int(service.get("RunningInstance") or 0)
    return {
        "id": service.get("ServiceId", ""), "name": service.get("ServiceName", ""),
        "workspace_id": service.get("WorkspaceId") or "", "model_name": labels.get("model"),
        "version": labels.get("version") or str(service.get("CurrentVersion") or ""),
        "replicas": total, "engine": labels.get("engine") or "eas", "status": status,
        "status_reason": service.get("Reason") or service.get("Message") or "",
        "resources": {"cpus": service.get("Cpu"), "memory_mb": service.get("Memory")},
        "endpoint": service.get("InternetEndpoint") if status == "Running" else None,
        # EAS counts its instances (Running / Pending) without naming them: one unnamed entry per instance
        "replica_status": [{"replica": None, "state": "running" if i < running else "pending"} for i in range(total)],
        "created_by": service.get("CallerUid") or "", "created_at": service.get("CreateTime"),
        "updated_at": service.get("UpdateTime"),
    }  # fmt: skip


def _services(page_number: int, size: int, name: str | None = None):  # type: ignore[no-untyped-def]
    params = {"PageNumber": page_number, "PageSize": size, **({"ServiceName": name} if name else {})}
    return (yield _call("/api/v2/services", "ListServices", params)).json()


def deployments() -> Page[Deployment]:
    """ListServices, page by page (the cursor is the next page number)."""

    def fetch(cursor: str | None, limit: int | None):  # type: ignore[no-untyped-def]
        number, size = int(cursor or 1), min(limit or PAGE_SIZE, PAGE_SIZE)
        body = yield from _services(number, size)
        found = body.get("Services") or []
        more = number * size < int(body.get("TotalCount") or 0) and found
        return [Deployment.from_json(as_record(s)) for s in found], (str(number + 1) if more else None)

    return Page(Deployment, "/api/v2/services", {}, "EAS services", fetch=fetch)


def _listed(name: str):  # type: ignore[no-untyped-def]
    """The service called `name` as ListServices shows it (its `ServiceName` filter matches substrings)."""
    body = yield from _services(1, PAGE_SIZE, name)
    for service in body.get("Services") or []:
        if service.get("ServiceName") == name:
            return service
    raise NotFound(f"There is no EAS service '{name}' in this profile's region.", code="Service.NotFound",
                   hint="EAS services are regional: set the profile's region (or ALIBABA_CLOUD_REGION_ID) to the "
                   "service's, or check the name with deck.deployments().")  # fmt: skip


def deployment(name: str, wait: int | None = None, gone: bool = False):  # type: ignore[no-untyped-def]
    return as_record((yield from _listed(name)))


def describe(name: str):  # type: ignore[no-untyped-def]
    """DescribeService of the service called `name`, in the region ListServices places it."""
    region = (yield from _listed(name)).get("Region") or ""
    return (yield _call(_path(region, name), "DescribeService")).json()


def _token(endpoint: str):  # type: ignore[no-untyped-def]
    name = endpoint.rstrip("/").rsplit("/", 1)[-1]
    token = (yield from describe(name)).get("AccessToken")
    if not token:
        raise AccessDenied(f"DescribeService shows no access token of EAS service '{name}' to this AccessKey.",
                           code="Service.TokenHidden",
                           hint="Use the AccessKey of an account that may deploy in the service's workspace, or copy "
                           "the token from the console (the service's Invocation information).")  # fmt: skip
    return token


def deployment_predict(endpoint: str, body: dict[str, Any], idempotency_key: str):  # type: ignore[no-untyped-def]
    """POST the platform's predict JSON to the service, its token in `Authorization`."""
    token = yield from _token(endpoint)
    call = Call("POST", endpoint, json=body, headers={"Authorization": token, "Idempotency-Key": idempotency_key})
    return Prediction.from_json((yield call).json())


def deployment_chat(endpoint: str, body: dict[str, Any], stream: bool):  # type: ignore[no-untyped-def]
    """EAS's OpenAI-style chat on a language-model service: `{endpoint}/v1/chat/completions`, the token as
    the openai SDK sends it when pointed at `{endpoint}/v1` (alipai's `Predictor.openai()`)."""
    token = yield from _token(endpoint)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return (yield from chat_at(f"{endpoint}/v1/chat/completions", headers)(body, stream))


def _refuse(what: str) -> Any:
    def plan(*args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        raise Unsupported(f"This provider does not {what} EAS services.",
                          hint="Do it in the PAI console (EAS) or with EAS's own API; modeldeck lists, reads and "
                          "calls services: deck.deployments(), deck.predict(None, X, deployment='svc').")  # fmt: skip
        yield  # a plan

    return plan


def deployment_events(name: str) -> Page[DeploymentEvent]:
    """DescribeServiceEvent, newest first, page by page."""

    def fetch(cursor: str | None, limit: int | None):  # type: ignore[no-untyped-def]
        number, size = int(cursor or 1), min(limit or PAGE_SIZE, PAGE_SIZE)
        region = (yield from _listed(name)).get("Region") or ""
        path = f"{_path(region, name)}/events"
        body = (yield _call(path, "DescribeServiceEvent", {"PageNum": number, "PageSize": size})).json()
        found = [DeploymentEvent.from_json({"at": e.get("Time"), "kind": e.get("Reason") or "", "actor": "",
                                            "message": e.get("Message") or "",
                                            "reason": e.get("Message") if e.get("Type") == "Warning" else None})
                 for e in body.get("Events") or []]  # fmt: skip
        return found, (str(number + 1) if number < int(body.get("TotalPageNum") or 0) else None)

    return Page(DeploymentEvent, "/api/v2/services", {}, "EAS service events", fetch=fetch)


def _path(region: str, name: str) -> str:
    return f"/api/v2/services/{quote(region, safe='')}/{quote(name, safe='')}"


def predict(*args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
    raise Unsupported("On Alibaba Cloud a checkpoint is called through its EAS service.",
                      hint="deck.predict(None, inputs, deployment='<service>'); list services with deck.deployments().")  # fmt: skip
    yield  # a plan


PLANS = {
    "deployments": deployments, "deployment": deployment, "deployment_predict": deployment_predict,
    "deployment_chat": deployment_chat, "predict": predict, "create_deployment": _refuse("create"),
    "change_deployment": _refuse("change"), "delete_deployment": _refuse("delete"),
    "deployment_events": deployment_events, "export_deployment": _refuse("export"),
}  # fmt: skip
