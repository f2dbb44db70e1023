"""PAI-EAS: services as the profile's deployments, predict and OpenAI-style chat on a service.

Management (eas 2021-07-01, AccessKey-signed, `Call(service="eas")`) is written as
`alibabacloud-eas20210701` sends it: `GET /api/v2/services` (ListServices) and
`GET /api/v2/services/{region}/{name}` (DescribeService, which carries the service's `AccessToken`) and
its `/events` (DescribeServiceEvent).
A call to a service goes to its `InternetEndpoint` with that token as `Authorization` (raw, as alipai's
Predictor sends it; the OpenAI-style paths take it the same way), so predict and chat first read the
service (ListServices finds its region, DescribeService its token) and keep nothing between calls.
Services are managed as the platform's deployments are: `deck.deploy` is CreateService (the JSON service spec:
`model_path` the PAI version's `Uri`, `processor`, `metadata.instance` / `cpu` / `memory` /
`rolling_strategy`; `Labels` name the model and version), `deck.upgrade` UpdateService (a new `model_path`,
and the rolling strategy when a mode is given), `deck.rollback` UpdateServiceVersion to the version before
the current one, `deck.stop` / `start` / `delete_deployment` StopService, StartService, DeleteService.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import quote

from ..._http import Call
from ...errors import AccessDenied, Conflict, InvalidParameter, NotFound, Unsupported
from ...resources import Deployment, DeploymentEvent, Prediction
from ..base import Page, Pause
from ..openai import chat_at
from . import pai

SERVICE = "eas"
VERSION = "2021-07-01"
PAGE_SIZE = 100
# EAS's service statuses as the platform's deployment statuses (the rest are kept as EAS writes them)
STATUSES = {"Updating": "Upgrading", "HotUpdate": "Upgrading", "Starting": "Creating", "Waiting": "Creating",
            "Stopping": "Stopped", "DeleteFailed": "Failed"}  # fmt: skip
BUSY = frozenset({"Creating", "Upgrading", "RollingBack", "Deleting"})
POLL = 0.5  # seconds between DescribeService polls while a change is under way
PROCESSORS = {"ONNX": "onnx", "SkopsModel": "sklearn", "XGBoost": "xgboost", "SafeTensors": "llm"}
_PERCENT = re.compile(r"^(\d{1,3})%$")
RESOURCES = (("cpus", "cpu"), ("memory_mb", "memory"))  # a deployment's resources as `metadata`'s fields


def _call(path: str, action: str, params: dict[str, Any] | None = None, method: str = "GET",
          spec: dict[str, Any] | None = None) -> Call:  # fmt: skip
    """An EAS OpenAPI request; `spec` is the JSON body (the service spec, or UpdateServiceVersion's)."""
    headers = {"accept": "application/json", "x-acs-action": action, "x-acs-version": VERSION,
               "x-acs-credentials-provider": "static_ak"}  # fmt: skip
    content = None
    if spec is not None:
        headers["content-type"] = "application/json; charset=utf-8"
        content = json.dumps(spec, separators=(",", ":")).encode()
    return Call(method, path, params=params, headers=headers, service=SERVICE, content=content)


# ---- the rolling strategy -----------------------------------------------------------------------------


def _strategy_error(message: str) -> InvalidParameter:
    return InvalidParameter(message, code="InvalidParameter.RollingStrategy",
                            hint='Send "metadata": {"rolling_strategy": {"max_surge": 1, "max_unavailable": 0}} (instances, '
                            'or a percentage of metadata.instance like "50%"); "max_surge": "100%" upgrades fully.')  # fmt: skip


def _instances(value: Any, count: int, name: str) -> int:
    """A rolling_strategy value, a number of instances or a percentage of `count`, in instances."""
    found = _PERCENT.match(value) if isinstance(value, str) else None
    if found and int(found[1]) <= 100:
        return math.ceil(int(found[1]) * count / 100)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1000:
        return value
    raise _strategy_error(f"rolling_strategy.{name} must be a number of instances or a percentage.")


def upgrade_mode(strategy: Any, count: int) -> dict[str, Any]:
    """EAS's `metadata.rolling_strategy` as the platform's upgrade mode for `count` instances: `max_surge`
    new instances start beside the old ones and `max_unavailable` old ones are freed per batch; a surge of
    "100%" (every new instance beside the old ones, then the switch) is the platform's full upgrade."""
    if not isinstance(strategy, dict) or set(strategy) - {"max_surge", "max_unavailable"}:
        raise _strategy_error("rolling_strategy holds max_surge and max_unavailable only.")
    surge = _instances(strategy.get("max_surge", 1), count, "max_surge")
    freed = _instances(strategy.get("max_unavailable", 0), count, "max_unavailable")
    if strategy.get("max_surge") == "100%" and freed == 0:
        return {"mode": "full"}
    if surge + freed == 0:
        raise _strategy_error("A rolling update needs max_surge or max_unavailable above 0.")
    if freed >= count:
        raise _strategy_error(f"max_unavailable {freed} would stop all {count} instance(s) at once.")
    return {"mode": "rolling", "batch_size": surge + freed, "max_unavailable": freed}


def rolling_strategy(mode: Any) -> dict[str, Any]:
    """The platform's upgrade mode (`"full"`, `"rolling"` or {mode, batch_size, max_unavailable}) as EAS's."""
    mode = {"mode": mode or "rolling"} if mode is None or isinstance(mode, str) else mode
    if mode.get("mode") == "full":
        return {"max_surge": "100%", "max_unavailable": 0}
    freed = mode.get("max_unavailable", 0)
    return {"max_surge": max(mode.get("batch_size", 1) - freed, 0), "max_unavailable": freed}


def as_record(service: dict[str, Any]) -> dict[str, Any]:
    """A `Service` as the platform's deployment record (what `Deployment.from_json` reads)."""
    labels = {item.get("LabelKey"): item.get("LabelValue") for item in service.get("Labels") or []}
    status = STATUSES.get(service.get("Status", ""), service.get("Status", ""))
    total, running = int(service.get("TotalInstance") or 0), int(service.get("RunningInstance") or 0)
    config = _config(service)
    strategy = (config.get("metadata") or {}).get("rolling_strategy")
    return {
        "id": service.get("ServiceId", ""), "name": service.get("ServiceName", ""),
        "workspace_id": service.get("WorkspaceId") or "", "model_name": labels.get("model"),
        "version": labels.get("version") or str(service.get("CurrentVersion") or ""),
        "replicas": total, "engine": labels.get("engine") or "eas", "status": status,
        "upgrade": upgrade_mode(strategy, max(total, 1)) if isinstance(strategy, dict) else {},
        "status_reason": service.get("Reason") or service.get("Message") or "",
        "resources": {"cpus": service.get("Cpu"), "memory_mb": service.get("Memory")},
        "endpoint": service.get("InternetEndpoint") if status == "Running" else None,
        # EAS counts its instances (Running / Pending) without naming them: one unnamed entry per instance
        "replica_status": [{"replica": None, "state": "running" if i < running else "pending"} for i in range(total)],
        "created_by": service.get("CallerUid") or "", "created_at": service.get("CreateTime"),
        "updated_at": service.get("UpdateTime"),
    }  # fmt: skip


def _config(service: dict[str, Any]) -> dict[str, Any]:
    """The service's spec (`ServiceConfig`, a JSON string), or {} when it shows none."""
    try:
        config = json.loads(service.get("ServiceConfig") or "{}")
    except ValueError:
        return {}
    return config if isinstance(config, dict) else {}


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


def _lookup(name: str):  # type: ignore[no-untyped-def]
    """The service called `name` as ListServices shows it (its `ServiceName` filter matches substrings), or None."""
    body = yield from _services(1, PAGE_SIZE, name)
    return next((s for s in body.get("Services") or [] if s.get("ServiceName") == name), None)


def _listed(name: str):  # type: ignore[no-untyped-def]
    found = yield from _lookup(name)
    if found is None:
        raise NotFound(f"There is no EAS service '{name}' in this profile's region.", code="Service.NotFound",
                       hint="EAS services are regional: set the profile's region (or ALIBABA_CLOUD_REGION_ID) to the "
                       "service's, or check the name with deck.deployments().")  # fmt: skip
    return found


def deployment(name: str, wait: int | None = None, gone: bool = False):  # type: ignore[no-untyped-def]
    """The service's record, polled while a change is under way when `wait` (None once gone, with `gone`)."""
    waited = 0.0
    while True:
        found = yield from (_lookup(name) if gone else _listed(name))
        record = None if found is None else as_record(found)
        if record is None or not wait or record["status"] not in BUSY or waited >= wait:
            return record
        yield Pause(POLL)
        waited += POLL


def _version_uri(model: str, version: Any):  # type: ignore[no-untyped-def]
    """The `Uri` and processor of a registered PAI model version (None: the newest not rejected), what an
    EAS service's `model_path` loads."""
    if version is None:
        listed, _ = yield from pai.versions(model, {}).fetch(None, 100)
        usable = [v for v in listed if v.approval_status != "Rejected"]
        if not usable:
            raise InvalidParameter(f"PAI model '{model}' has no version to serve.", code="Version.NotFound",
                                   hint="Register a version first (deck.register), or name one: deck.deploy(model, '1.0.0').")  # fmt: skip
        found = max(usable, key=lambda v: str(v.created_at or ""))
    else:
        found = yield from pai.version(model, version)
    return found.uri, found.version_name, PROCESSORS.get(found.format_type or "", "")


def create_deployment(body: dict[str, Any]):  # type: ignore[no-untyped-def]
    """CreateService with the spec EAS takes, the model and version as the service's labels."""
    if body.get("engine") not in (None, "local"):
        raise Unsupported("EAS services run on EAS's own instances.", hint="Leave engine out on an Alibaba profile.")
    uri, version, processor = yield from _version_uri(body["model"], body.get("version"))
    resources = body.get("resources") or {}
    metadata = {"instance": body.get("replicas") or 1, "rolling_strategy": rolling_strategy(body.get("upgrade")),
                **{eas: resources[ours] for ours, eas in RESOURCES if ours in resources}}  # fmt: skip
    spec = {"name": body["name"], "model_path": uri, "processor": processor, "metadata": metadata}
    named = yield from pai.model_name(body["model"])  # the panel names a PAI model by its ModelId
    labels = json.dumps({"model": named, "version": version}, separators=(",", ":"))
    ws = yield from pai.workspace_id()
    params = {"Labels": labels, **({"WorkspaceId": ws} if ws else {})}
    yield _call("/api/v2/services", "CreateService", params, "POST", spec)
    return (yield from deployment(body["name"]))


def change_deployment(name: str, action: str, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    """upgrade (UpdateService: the new version's model_path, and its rolling strategy when a mode is given),
    rollback (UpdateServiceVersion to the version before the current one), stop, start."""
    service = yield from describe(name)
    path = _path(service.get("Region") or "", name)
    if action == "upgrade":
        record = as_record(service)
        uri, _, processor = yield from _version_uri(record["model_name"] or "", body.get("version") or "")
        spec: dict[str, Any] = {"model_path": uri, "processor": processor}
        if body.get("mode") is not None:
            spec["metadata"] = {"rolling_strategy": rolling_strategy(body["mode"])}
        yield _call(path, "UpdateService", None, "PUT", spec)
    elif action == "rollback":
        current = int(service.get("CurrentVersion") or 1)
        if current <= 1:
            raise Conflict(f"EAS service '{name}' has no earlier version to go back to.", code="Deployment.NoPrevious",
                           hint="Upgrade it to the version you want instead: deck.upgrade(name, '<version>').")  # fmt: skip
        yield _call(f"{path}/version", "UpdateServiceVersion", None, "PUT", {"Version": current - 1})
    else:
        yield _call(f"{path}/{action}", f"{action.capitalize()}Service", None, "PUT")
    return (yield from deployment(name))


def delete_deployment(name: str):  # type: ignore[no-untyped-def]
    region = (yield from _listed(name)).get("Region") or ""
    yield _call(_path(region, name), "DeleteService", None, "DELETE")


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


def export_deployment(*args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
    raise Unsupported("EAS services are not exported: they run on EAS.",
                      hint="Export from a modeldeck platform profile, where the version's files are served.")  # fmt: skip
    yield  # a plan


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
    "deployment_chat": deployment_chat, "predict": predict, "create_deployment": create_deployment,
    "change_deployment": change_deployment, "delete_deployment": delete_deployment,
    "deployment_events": deployment_events, "export_deployment": export_deployment,
}  # fmt: skip
