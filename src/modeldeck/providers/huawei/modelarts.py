"""ModelArts for the provider: workspaces (the default one is "0"), models and their versions (one ModelArts
model per version), registration from OBS, ValidateAuthorization and the agency.

Requests are written as `huaweicloudsdkmodelarts` 3.1.219 writes them (docs/clouds/huawei-sdks.md 3), so
the two are equal on the wire where the SDK has the operation (tests/test_huawei_provider.py compares
them): `{project_id}` and `{workspace_id}` stay templates that `iam.HuaweiAuth` fills in.
"""

from __future__ import annotations

import re
from typing import Any

from ..._http import Call
from ...errors import InvalidParameter, NotFound
from ...resources import Model, ModelVersion, Workspace
from ..base import Page
from . import training

GET_JSON = {"Content-Type": "application/json"}
SEND_JSON = {"Content-Type": "application/json;charset=utf-8"}
BASE = "/v1/{project_id}"
DEFAULT = "0"
_CLOUD_ID = re.compile(r"^(0|[0-9a-f]{32})$")
# the deck's model actions -> the ModelArts action that allows each (what a model row says the caller may do)
ACTIONS = {"inference": "modelarts:service:invoke", "fine_tune": "modelarts:trainJob:create",
           "deploy": "modelarts:service:create"}  # fmt: skip
TYPES = {"pytorch": "PyTorch", "tensorflow": "TensorFlow", "sklearn": "Scikit_Learn", "xgboost": "XGBoost",
         "mindspore": "MindSpore"}  # fmt: skip


def _get(path: str, params: dict[str, Any] | None = None) -> Call:
    return Call("GET", BASE + path, params=params, headers=GET_JSON)


def _send(method: str, path: str, body: Any, base: str = BASE) -> Call:
    return Call(method, base + path, json=body, headers=SEND_JSON)


def as_workspace(item: dict[str, Any]) -> Workspace:
    return Workspace.from_json({"id": item.get("id", ""), "name": item.get("name", ""),
                                "description": item.get("description") or "", "is_default": item.get("id") == DEFAULT})  # fmt: skip


def whoami():  # type: ignore[no-untyped-def]
    """ModelArts names no user; the authorization mode is what the account's settings say of this one."""
    mode = (yield Call("GET", "/v1/auth-mode", headers=GET_JSON)).json()
    return {"account": {"name": "", "kind": "", "domain_id": mode.get("domain_id")}, "workspace": None,
            "authorization_mode": mode.get("mode")}  # fmt: skip


def workspaces():  # type: ignore[no-untyped-def]
    body = (yield _get("/workspaces")).json()
    return [as_workspace(w) for w in body.get("workspaces") or []]


def workspace(ref: str):  # type: ignore[no-untyped-def]
    """A workspace by its ModelArts id ("0", 32 hex: shown) or by name (looked up in the listing)."""
    if _CLOUD_ID.match(ref):
        return as_workspace((yield _get("/workspaces/" + ref)).json())
    named = [w for w in (yield from workspaces()) if w.name == ref]
    if not named:
        raise InvalidParameter(f"No workspace you may enter is called {ref!r}.", code="Workspace.NotFound",
                               hint="List them with deck.workspaces(); the default one is '0'.")  # fmt: skip
    return named[0]


def create_workspace(body: dict[str, Any]):  # type: ignore[no-untyped-def]
    payload = {"name": body["name"], **({"description": body["description"]} if body.get("description") else {})}
    return as_workspace((yield _send("POST", "/workspaces", payload)).json())


def _approval(item: dict[str, Any]) -> str:
    """ModelArts has no approval: a model that failed to publish is Rejected, any other Approved."""
    return "Rejected" if item.get("model_status") == "failed" else "Approved"


def as_version(item: dict[str, Any]) -> ModelVersion:
    return ModelVersion.from_json({
        "version_id": item.get("model_id", ""), "model_id": item.get("model_name", ""),
        "model_name": item.get("model_name", ""), "version_name": item.get("model_version", ""),
        "uri": item.get("source_location") or "", "source_type": item.get("source_type") or None,
        "approval_status": _approval(item),
        "description": item.get("description") or "",
        "extra_info": {"model_type": item.get("model_type"), "model_status": item.get("model_status")},
        **training.source_job(item),
    })  # fmt: skip


def _listed(params: dict[str, Any]):  # type: ignore[no-untyped-def]
    return (yield _get("/models", params)).json().get("models") or []


def _allowed():  # type: ignore[no-untyped-def]
    """The deck's actions (inference, fine_tune, deploy) the caller may do in this workspace: ModelArts grants
    them per workspace, not per model, so ValidateAuthorization is asked once for every model listed."""
    answers = yield from check(list(ACTIONS.values()))
    return [deck for deck, why in zip(ACTIONS, answers) if why["allowed"]]


def _grouped(items: list[dict[str, Any]], actions: list[str]) -> list[Model]:
    """ModelArts models are versions: one record per name, its newest version as `latest_version`."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        name = item.get("model_name", "")
        out[name] = {"id": name, "model_name": name, "workspace_id": item.get("workspace_id", ""), "source": "owned",
                     "actions": actions,
                     "model_type": item.get("model_type"), "description": item.get("description") or "",
                     "latest_version": {"version_name": item.get("model_version"), "uri": item.get("source_location"),
                                        "approval_status": _approval(item)}}  # fmt: skip
    return [Model.from_json(m) for m in out.values()]


def models(params: dict[str, Any]) -> Page[Model]:
    wanted = {"model_name": params["query"]} if params.get("query") else {}

    def fetch(cursor: str | None, limit: int | None):  # type: ignore[no-untyped-def]
        items = yield from _listed({**wanted, "limit": 1000})
        return _grouped(items, (yield from _allowed()) if items else []), None

    return Page(Model, BASE + "/models", {}, "models", fetch=fetch)


def _no_model(ref: str) -> NotFound:
    return NotFound(f"No model {ref!r} in this workspace.", code="Model.NotFound",
                    hint="List them with deck.models(); register one with deck.register(name, 'obs://…').")  # fmt: skip


def model(ref: str):  # type: ignore[no-untyped-def]
    items = yield from _listed({"model_name": ref, "exact_match": "true"})
    if not items:
        raise _no_model(ref)
    return _grouped(items, (yield from _allowed()))[0]


def versions(ref: str, params: dict[str, Any]) -> Page[ModelVersion]:
    def fetch(cursor: str | None, limit: int | None):  # type: ignore[no-untyped-def]
        items = yield from _listed({"model_name": ref, "exact_match": "true"})
        return (yield from training.with_states([as_version(i) for i in reversed(items)])), None

    return Page(ModelVersion, BASE + "/models", {}, "versions", fetch=fetch)


def version(ref: str, name: str):  # type: ignore[no-untyped-def]
    """A model's version, or NotFound naming what is missing: the model, or only that version (a deploy asks
    first, since the create's refusal of a missing model would not say so)."""
    items = yield from _listed({"model_name": ref, "exact_match": "true"})
    if not items:
        raise _no_model(ref)
    found = [i for i in items if i.get("model_version") == name]
    if not found:
        raise NotFound(f"Model {ref!r} has no version {name!r} here.", code="ModelVersion.NotFound",
                       hint=f"List them with deck.versions({ref!r}).")  # fmt: skip
    return (yield from training.with_states([as_version(found[0])]))[0]


def ensure_model(name: str):  # type: ignore[no-untyped-def]
    """ModelArts creates a model with its first version: nothing to do before."""
    return name
    yield  # a plan


def create_version(name: str, spec: dict[str, Any], idempotency_key: str):  # type: ignore[no-untyped-def]
    """POST /models: model_name, model_version (D.D.D; omitted: the newest's minor + 1), the OBS source."""
    version_name = spec.get("version_name")
    if version_name is None:
        known = [i.get("model_version", "") for i in (yield from _listed({"model_name": name, "exact_match": "true"}))]
        numbers = [tuple(int(p) for p in v.split(".")) for v in known if re.fullmatch(r"\d+\.\d+\.\d+", v)]
        major, minor, _ = max(numbers, default=(1, -1, 0))
        version_name = f"{major}.{minor + 1}.0"
    body = {"model_name": name, "model_version": version_name, "source_location": spec["uri"],
            "model_type": TYPES.get(str(spec.get("framework_type") or "").lower(), "Custom"),
            **({"description": spec["description"]} if spec.get("description") else {}),
            **training.job_of(spec)}  # fmt: skip
    (yield _send("POST", "/models", body)).json()
    return (yield from version(name, version_name))


def check(actions: list[str]):  # type: ignore[no-untyped-def]
    """ValidateAuthorization in the current workspace: per action, allowed or why not (workspace access or
    the action's permission), as records of action, allowed, missing, hint."""
    body = {"requests": [{"action_id": str(i), "action": a} for i, a in enumerate(actions)]}
    results = (yield _send("POST", "/workspaces/{workspace_id}/auth", body)).json().get("results") or []
    return [explain(r) for r in results]


def explain(result: dict[str, Any]) -> dict[str, Any]:
    cause = ((result.get("cause") or [{}])[0].get("policy_name") or "") if result.get("verdict") == "deny" else ""
    kind, _, detail = cause.partition(":")
    missing = {"workspace-access": "workspace access", "action-permission": "action permission"}.get(kind)
    hints = {"workspace access": f"You are not a member of workspace {detail!r}: its owner or the main account must "
             "add you (or switch ModelArts to loose mode).",
             "action permission": f"Your role there ({detail}) does not allow {result.get('action')}: its owner or "
             "the main account must give you a role that does."}  # fmt: skip
    return {"action": result.get("action"), "allowed": result.get("verdict") == "allow", "missing": missing,
            "hint": hints.get(missing or "")}  # fmt: skip


def authorization_mode(mode: str | None):  # type: ignore[no-untyped-def]
    call = Call("GET", "/v1/auth-mode", headers=GET_JSON) if mode is None else \
        Call("PUT", "/v1/auth-mode", json={"mode": mode}, headers=SEND_JSON)  # fmt: skip
    return (yield call).json().get("mode")


def agency(delegate_to: str | None = None, suffix: str = "modelarts"):  # type: ignore[no-untyped-def]
    """The agency delegations that let ModelArts read OBS; with `delegate_to` (an account id or 'all'), create
    the agency `ma_agency_<suffix>` and delegate it first (the main account's step)."""
    if delegate_to:
        name = "ma_agency_" + suffix
        yield _send("POST", "/agency", {"agency_name_suffix": suffix}, base="/v2/{project_id}")
        yield _send("POST", "/authorizations", {"user_id": delegate_to, "type": "agency", "content": name},
                    base="/v2/{project_id}")  # fmt: skip
    listed = (yield Call("GET", "/v2/{project_id}/authorizations", headers=GET_JSON)).json().get("auth") or []
    return {"delegated": bool(listed), "authorizations": [{k: a.get(k) for k in ("user_id", "user_name", "type", "content")}
                                                          for a in listed]}  # fmt: skip
