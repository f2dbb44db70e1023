"""ModelArts real-time services (the v2 inference API, as `huaweicloudsdkmodelarts` writes it) as the
profile's deployments: deploy, list, show, upgrade (full or rolling), stop, start, delete, events.

How the words meet (the facade maps them the same way, with these functions):
- a service serves one model (`group_configs[0].model.asset_id`) at one `version`, the model's version
  (D.D.D), on `group_configs[0].count` instances; `PUT {"version": ...}` upgrades it;
- `upgrade_config {type: ROLLING, rolling_update {max_surge, max_unavailable}}`, percentages of the instance
  count, is the upgrade mode. Rolling add-instances (扩实例升级: surge S%, unavailable 0%) starts
  ceil(S% x count) new instances beside the old ones per batch; remove-instances (缩实例升级: surge 0%,
  unavailable U%) first frees ceil(U% x count) old ones. Surge 100% with unavailable 0% is the full upgrade
  (全量升级: every new instance up beside the old ones, then the switch); `type: FULL` says so outright, an
  extension the SDK passes through as any string;
- ModelArts has no rollback (upgrade to the earlier version instead) and no per-request wait (the plan polls).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from ... import vocabulary
from ..._http import Call
from ...errors import InvalidParameter, Unsupported
from ...resources import Deployment, DeploymentEvent
from ..base import Page, Pause
from . import modelarts

JSON = "application/json;charset=utf-8"  # what the SDK sends with a body (its GETs: application/json)
BUSY = vocabulary.DEPLOYMENT_BUSY
POLL = 0.5  # seconds between polls while a change is under way
# ModelArts' service statuses <-> the platform's deployment statuses
STATUSES = {"Creating": "DEPLOYING", "Running": "RUNNING", "Upgrading": "UPGRADING", "RollingBack": "UPGRADING",
            "Failed": "FAILED", "Stopped": "STOPPED", "Deleting": "DELETING"}  # fmt: skip
FROM_CLOUD = {"DEPLOYING": "Creating", "RUNNING": "Running", "UPGRADING": "Upgrading", "FAILED": "Failed",
              "STOPPED": "Stopped", "DELETING": "Deleting", "STOPPING": "Running", "CONCERNING": "Running",
              "ERROR": "Failed", "INTERRUPTING": "Running"}  # fmt: skip
_PERCENT = re.compile(r"^(\d{1,3})%$")
_VERSION = re.compile(r"^\d{1,2}\.\d{1,2}\.\d{1,2}$")


def _invalid(message: str, hint: str) -> InvalidParameter:
    return InvalidParameter(message, code="InvalidParameter.Upgrade", hint=hint)


# ---- upgrade_config <-> the platform's upgrade mode ---------------------------------------------------


def _percent(value: Any, name: str) -> int:
    found = _PERCENT.match(value) if isinstance(value, str) else None
    if found is None or int(found[1]) > 100:
        raise _invalid(f"rolling_update.{name} must be a percentage from 0% to 100%.",
                       'Send "rolling_update": {"max_surge": "50%", "max_unavailable": "0%"}.')  # fmt: skip
    return int(found[1])


def upgrade_mode(config: Any, count: int) -> dict[str, Any] | None:
    """`upgrade_config` as the platform's upgrade mode for `count` instances (None: keep the current one)."""
    if config is None:
        return None
    if not isinstance(config, dict) or config.get("type", "ROLLING") not in ("ROLLING", "FULL"):
        raise _invalid("upgrade_config.type must be ROLLING (or FULL).", 'Send "upgrade_config": {"type": "ROLLING", ...}.')
    rolling = config.get("rolling_update") or {}
    if not isinstance(rolling, dict):
        raise _invalid("upgrade_config.rolling_update must be an object.", 'Send {"max_surge": "50%", "max_unavailable": "0%"}.')
    surge = _percent(rolling.get("max_surge", "1%"), "max_surge")
    unavailable = _percent(rolling.get("max_unavailable", "0%"), "max_unavailable")
    if config.get("type") == "FULL" or (surge, unavailable) == (100, 0):
        return {"mode": "full"}
    added, freed = math.ceil(surge * count / 100), math.ceil(unavailable * count / 100)
    if added + freed == 0:
        raise _invalid("A rolling upgrade needs max_surge or max_unavailable above 0%.",
                       'Add instances ("max_surge": "50%") or free some ("max_unavailable": "50%").')  # fmt: skip
    if freed >= count:
        raise _invalid(f"max_unavailable {unavailable}% would stop all {count} instance(s) at once.",
                       "Free fewer instances, add instances instead (max_surge), or upgrade fully.")  # fmt: skip
    return {"mode": "rolling", "batch_size": added + freed, "max_unavailable": freed}


def upgrade_config(mode: Any, count: int) -> dict[str, Any]:
    """The platform's upgrade mode (`"full"`, `"rolling"` or {mode, batch_size, max_unavailable}) as
    `upgrade_config`, in percentages of `count` instances."""
    mode = {"mode": mode or "rolling"} if mode is None or isinstance(mode, str) else mode
    if mode.get("mode") == "full":
        surge, unavailable = 100, 0
    else:
        freed = mode.get("max_unavailable", 0)
        surge = round(100 * (mode.get("batch_size", 1) - freed) / count)
        unavailable = round(100 * freed / count)
    return {"type": "ROLLING", "rolling_update": {"max_surge": f"{surge}%", "max_unavailable": f"{unavailable}%"}}


# ---- records ------------------------------------------------------------------------------------------


def as_deployment(service: dict[str, Any]) -> dict[str, Any]:
    """A ServiceResponse (or a list item) as the deck's deployment record."""
    version = service.get("version")
    shown = version if isinstance(version, dict) else {"version": version}
    groups = shown.get("instance_groups") or [{}]
    count = sum(g.get("count") or 0 for g in groups) or 1
    running = sum(g.get("running_count") or 0 for g in groups)
    config = shown.get("upgrade_config") or (groups[0].get("advanced_config") or {}).get("upgrade_config")
    model = (groups[0].get("model") or {}).get("asset_id")
    return {
        "id": service.get("id", ""), "name": service.get("name", ""), "workspace_id": service.get("workspace_id", ""),
        "model_id": model or "", "model_name": model, "version": shown.get("version") or "",
        "replicas": count, "upgrade": upgrade_mode(config, count) if config else {},
        "replica_status": [{"replica": None, "state": "running" if i < running else "pending"} for i in range(count)],
        "status": FROM_CLOUD.get(service.get("status") or "", "Failed"), "status_reason": service.get("failure_reason") or "",
        "endpoint": shown.get("predict_url"), "engine": "local",
    }  # fmt: skip


def as_event(item: dict[str, Any]) -> DeploymentEvent:
    """A ServiceEventResponse: its `event_type` (normal | abnormal) as the kind, `event_info` as the message."""
    at = datetime.fromtimestamp(item["create_at"] / 1000, timezone.utc) if item.get("create_at") else None
    return DeploymentEvent.from_json({"at": at, "kind": item.get("event_type", ""), "message": item.get("event_info", "")})


# ---- plans: `{project_id}` filled in by `iam.HuaweiAuth`, the current workspace put in by it too -----

BASE = "/v2/{project_id}/services"
GET = {"Content-Type": "application/json"}


def _find(name: str):  # type: ignore[no-untyped-def]
    """The service called `name` in the current workspace (None if there is none)."""
    items = (yield Call("GET", BASE, params={"name": name, "limit": 1000}, headers=GET)).json()
    return next((i for i in items.get("data") or [] if i.get("name") == name), None)


def _show(service_id: str, gone: bool = False):  # type: ignore[no-untyped-def]
    """A service's record; with `gone`, None when it no longer exists (deleted since it was listed)."""
    shown = yield Call("GET", f"{BASE}/{quote(service_id, safe='')}", headers=GET, ok=(404,) if gone else ())
    return None if shown.status_code == 404 else shown.json()


def create_deployment(body: dict[str, Any]):  # type: ignore[no-untyped-def]
    if body.get("engine") not in (None, "local") or body.get("resources"):
        raise Unsupported("ModelArts services run on ModelArts' own instances.",
                          hint="Leave engine and resources out (a flavor is chosen by the service).")  # fmt: skip
    version = body.get("version")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise InvalidParameter("A ModelArts service serves one model version, like 1.0.0.", code="InvalidParameter.Version",
                               hint="Pass the version: deck.deploy(model, '1.0.0', ...).")  # fmt: skip
    yield from modelarts.version(body["model"], version)  # a missing model is NotFound, not the create's refusal
    count = body.get("replicas") or 1
    sent = {
        "name": body["name"], "version": version, "type": "REAL_TIME",
        "group_configs": [{"name": body["name"], "count": count, "model": {"source": "MODELARTS", "asset_id": body["model"]}}],
        "upgrade_config": upgrade_config(body.get("upgrade"), count),
    }  # fmt: skip
    return as_deployment((yield Call("POST", BASE, json=sent, headers={"Content-Type": JSON})).json())


def deployments() -> Page[Deployment]:
    def fetch(cursor: str | None, limit: int | None):  # type: ignore[no-untyped-def]
        offset, size = int(cursor or 0), min(limit or 100, 1000)
        got = (yield Call("GET", BASE, params={"limit": size, "offset": offset}, headers=GET)).json()
        more = offset + size < int(got.get("total") or 0)
        # a list item has no instance groups (count, running_count, model): each service is shown for them
        # (one deleted since the listing is left out)
        shown = []
        for item in got.get("data") or []:
            if (record := (yield from _show(item["id"], gone=True))) is not None:
                shown.append(Deployment.from_json(as_deployment(record)))
        return shown, (str(offset + size) if more else None)

    return Page(Deployment, BASE, {}, "deployments", fetch=fetch)


def deployment(name: str, wait: int | None = None, gone: bool = False):  # type: ignore[no-untyped-def]
    """A deployment's record, polled while a change is under way when `wait` (None once gone, with `gone`)."""
    waited = 0.0
    while True:
        item = yield from _find(name)
        shown = None if item is None else (yield from _show(item["id"], gone))
        record = None if shown is None else as_deployment(shown)
        if record is None and not gone:
            raise InvalidParameter(f"No ModelArts service is called {name!r} in this workspace.",
                                   code="Deployment.NotFound", hint="List them with deck.deployments().")  # fmt: skip
        if record is None or not wait or record["status"] not in BUSY or waited >= wait:
            return record
        yield Pause(POLL)
        waited += POLL


def change_deployment(name: str, action: str, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    """upgrade (PUT the version, and the mode as upgrade_config when given), stop, start; no rollback."""
    if action == "rollback":
        raise Unsupported("ModelArts services have no rollback.",
                          hint="Upgrade to the earlier version: deck.upgrade(name, '<version>').")  # fmt: skip
    current = yield from deployment(name)
    path = f"{BASE}/{quote(current['id'], safe='')}"
    if action == "upgrade":
        sent: dict[str, Any] = {"version": body["version"]}
        if body.get("mode") is not None:
            sent["upgrade_config"] = upgrade_config(body["mode"], current["replicas"])
        answer = yield Call("PUT", path, json=sent, headers={"Content-Type": JSON})
    else:
        answer = yield Call("POST", f"{path}/{action}", headers=GET)
    return as_deployment(answer.json())


def delete_deployment(name: str):  # type: ignore[no-untyped-def]
    service_id = (yield from deployment(name))["id"]
    yield Call("POST", f"{BASE}/delete", json={"service_ids": [service_id]}, headers={"Content-Type": JSON})


def deployment_events(name: str) -> Page[DeploymentEvent]:
    def fetch(cursor: str | None, limit: int | None):  # type: ignore[no-untyped-def]
        offset, size = int(cursor or 0), min(limit or 100, 1000)
        service_id = (yield from deployment(name))["id"]
        got = (yield Call("GET", f"{BASE}/{quote(service_id, safe='')}/events", params={"limit": size, "offset": offset},
                          headers=GET)).json()  # fmt: skip
        more = offset + size < int(got.get("total") or 0)
        return [as_event(i) for i in got.get("data") or []], (str(offset + size) if more else None)

    return Page(DeploymentEvent, BASE, {}, "deployment events", fetch=fetch)


def deployment_predict(endpoint: str, body: dict[str, Any], idempotency_key: str) -> Any:
    raise Unsupported("Predict on a ModelArts service goes to its own predict URL, not through this profile.",
                      hint="Chat with a language-model deployment instead: deck.chat(None, messages, deployment=name).")  # fmt: skip
