"""PAI's model registry (AIWorkspace 2021-02-04, AccessKey-signed): versions listed, read, registered by URI,
changed, approved or rejected (through UpdateModelVersion's ApprovalStatus; a decision is final), deleted.

Written as `alibabacloud-aiworkspace20210204` sends it (docs/clouds/alibaba-sdks.md 3): ROA paths under
`/api/v1` of the `pai` service (`aiworkspace.{region}.aliyuncs.com`, or the local facade's
`<server>/aiworkspace`), PascalCase JSON, path segments percent-encoded as the SDK does. A model is named
by its name (found by ListModels' exact match, `ModelName="<name>"`, as alipai looks it up) or its ModelId.
The PAI workspace is the profile's `pai_workspace`, or `PAI_WORKSPACE_ID` (alipai's variable;
`PAI_AI_WORKSPACE_ID` too); without one, PAI answers from the account's default workspace. A local
checkpoint reaches PAI through OSS (`upload.py`), then registers by its `oss://` uri.

The workspace's models are listed beside Model Studio's (`models`, source `pai`), each with the actions the
caller's PAI roles allow: STS's GetCallerIdentity names the caller, ListMembers (`UserId`) gives its roles
there, as alipai finds them (`get_roles_in_workspace`); an owner or admin may approve.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from ..._http import Call
from ...errors import Conflict, DeckError, InvalidParameter, error_from_payload, response_payload
from ...resources import Model, ModelVersion
from ..base import ASK, Page

SERVICE = "pai"
VERSION = "2021-02-04"
WORKSPACE_ENVIRONMENT = ("PAI_WORKSPACE_ID", "PAI_AI_WORKSPACE_ID")
# the registry's version fields and PAI's
FIELDS = {"uri": "Uri", "version_name": "VersionName", "description": "VersionDescription",
          "approval_status": "ApprovalStatus", "format_type": "FormatType", "framework_type": "FrameworkType",
          "source_type": "SourceType", "source_id": "SourceId", "labels": "Labels", "metrics": "Metrics",
          "training_spec": "TrainingSpec", "inference_spec": "InferenceSpec", "extra_info": "ExtraInfo",
          "options": "Options"}  # fmt: skip
DECISIONS = {"approve": "Approved", "reject": "Rejected"}
# PAI's workspace roles (ListMembers' `Roles`) and what each lets a member do with the registry's models
APPROVERS = frozenset({"PAI.WorkspaceOwner", "PAI.WorkspaceAdmin"})
REGISTRARS = APPROVERS | {"PAI.AlgoDeveloper", "PAI.AlgoOperator", "PAI.MaxComputeDeveloper"}
DEPLOYERS = APPROVERS | {"PAI.AlgoDeveloper", "PAI.AlgoOperator"}  # who may create an EAS service from a version
STS_VERSION = "2015-04-01"


def segment(value: str) -> str:
    """A path parameter as the SDK encodes it (`DaraURL.percent_encode`: RFC 3986, `~` kept)."""
    return quote(value, safe="~")


def workspace_id():  # type: ignore[no-untyped-def]
    """The profile's PAI workspace (`pai_workspace`, or PAI_WORKSPACE_ID), or None for the default one."""
    return (yield ASK).options.get("pai_workspace")


def _headers(action: str, version: str = VERSION) -> dict[str, str]:
    return {"accept": "application/json", "x-acs-action": action, "x-acs-version": version,
            "x-acs-credentials-provider": "static_ak"}  # fmt: skip


def _call(method: str, path: str, action: str, body: dict[str, Any] | None = None, **kwargs: Any) -> Call:
    headers = _headers(action)
    if body is not None:  # the SDK's bytes: compact, UTF-8, its fields in name order
        headers["content-type"] = "application/json; charset=utf-8"
        content = json.dumps(dict(sorted(body.items())), ensure_ascii=False, separators=(",", ":")).encode()
        kwargs["content"] = content
    return Call(method, "/api/v1" + path, headers=headers, service=SERVICE, **kwargs)


def _labels(value: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in value.items()]


def as_version(item: dict[str, Any], model_id: str, model_name: str = "") -> ModelVersion:
    record = {name: item.get(wire) for name, wire in FIELDS.items() if item.get(wire) is not None}
    record["labels"] = {i.get("Key"): i.get("Value") or "" for i in item.get("Labels") or []}
    return ModelVersion.from_json({**record, "model_id": model_id, "model_name": model_name,
                                   "version_id": f"{model_id}:{item.get('VersionName', '')}",
                                   "created_by": item.get("UserId") or "", "created_at": item.get("GmtCreateTime"),
                                   "updated_at": item.get("GmtModifiedTime")})  # fmt: skip


def find_model(name: str):  # type: ignore[no-untyped-def]
    """The ModelId of the workspace's model called exactly `name`, or None (ListModels with a quoted name)."""
    params = {"ModelName": f'"{name}"', "PageNumber": 1, "PageSize": 10}
    ws = yield from workspace_id()
    if ws:
        params["WorkspaceId"] = ws
    body = _admitted(ws, (yield _call("GET", "/models", "ListModels", params=params, ok=(403,)))).json()
    named = [m for m in body.get("Models") or [] if m.get("ModelName") == name]
    return named[0]["ModelId"] if named else None


def model_id(ref: str):  # type: ignore[no-untyped-def]
    """A model named by its name (looked up) or, when no model has that name, taken as its ModelId."""
    return (yield from find_model(ref)) or ref


def model_name(ref: str):  # type: ignore[no-untyped-def]
    """The name of the workspace's model `ref`, named by its name or its ModelId (GetModel)."""
    if (yield from find_model(ref)):
        return ref
    return (yield _call("GET", f"/models/{segment(ref)}", "GetModel")).json().get("ModelName") or ref


def ensure_model(name: str):  # type: ignore[no-untyped-def]
    """The id of the workspace's model `name`, created (PRIVATE) if it does not exist, as alipai does."""
    found = yield from find_model(name)
    if found:
        return found
    ws = yield from workspace_id()
    body = {"ModelName": name, "Accessibility": "PRIVATE", **({"WorkspaceId": ws} if ws else {})}
    created = yield _call("POST", "/models", "CreateModel", body, ok=(409,))
    if created.is_success:
        return created.json()["ModelId"]
    again = yield from find_model(name)  # created meanwhile by a concurrent register
    if not again:
        raise Conflict(f"Model '{name}' could not be created here.", hint="Retry the registration.")
    return again


# ---- the workspace's models, with what the caller's roles allow -----------------------------------------


def caller_id():  # type: ignore[no-untyped-def]
    """The AccessKey's user (STS GetCallerIdentity's UserId, RPC style as `alibabacloud-sts20150401` sends it)."""
    return (yield Call("POST", "/", headers=_headers("GetCallerIdentity", STS_VERSION), service="sts")).json()["UserId"]


def workspace_or_default():  # type: ignore[no-untyped-def]
    """The profile's PAI workspace, or the account's default one (GetDefaultWorkspace)."""
    ws = yield from workspace_id()
    if ws:
        return ws
    return _admitted(None, (yield _call("GET", "/defaultWorkspaces", "GetDefaultWorkspace", ok=(403,)))).json()["WorkspaceId"]


def roles(ws: str):  # type: ignore[no-untyped-def]
    """The caller's roles in a PAI workspace (none when it is not a member, or no STS endpoint says who it is)."""
    if "sts" not in (yield ASK).services:
        return []
    me = yield from caller_id()
    params = {"UserId": me, "PageNumber": 1, "PageSize": 10}
    listed = yield _call("GET", f"/workspaces/{segment(ws)}/members", "ListMembers", params=params, ok=(403,))
    body = _admitted(ws, listed).json()
    return sorted({r for m in body.get("Members") or [] if m.get("UserId") == me for r in m.get("Roles") or []})


def allowed(held: list[str]) -> list[str]:
    """What PAI roles let their holder do with a model of the registry."""
    return [a for a, who in (("register", REGISTRARS), ("deploy", DEPLOYERS), ("approve", APPROVERS)) if who & set(held)]


def as_model(item: dict[str, Any], actions: list[str]) -> Model:
    latest = item.get("LatestVersion") or None
    return Model.from_json({
        "id": item.get("ModelId", ""), "model_name": item.get("ModelName", ""), "source": "pai", "actions": actions,
        "workspace_id": item.get("WorkspaceId") or "", "task": item.get("Task"), "domain": item.get("Domain"),
        "origin": item.get("Origin"), "accessibility": item.get("Accessibility") or "PRIVATE",
        "description": item.get("ModelDescription") or "",
        "labels": {i.get("Key"): i.get("Value") or "" for i in item.get("Labels") or []},
        "latest_version": {"version_name": latest.get("VersionName"), "approval_status": latest.get("ApprovalStatus"),
                           "format_type": latest.get("FormatType")} if latest else None,
    })  # fmt: skip


def refused(ws: str, response: httpx.Response) -> DeckError:
    """A 403 of PAI workspace `ws`: a caller that is no member of it (`Workspace.AccessDenied`) is told what to
    do about it; another refusal keeps PAI's own message."""
    body = response_payload(response)
    code = str(body.get("Code") or "Workspace.AccessDenied")
    fields: dict[str, Any] = {"code": code, "request_id": body.get("RequestId"), "message": body.get("Message")}
    if code.startswith("Workspace.AccessDenied"):
        fields["message"] = f"PAI workspace {ws} does not admit this AccessKey's user ({code})."
        fields["hint"] = (f"Ask an admin of PAI workspace {ws} to add you as a member (PAI console > Workspace > "
                          "Members), or set the profile's pai_workspace (PAI_WORKSPACE_ID) to a workspace you belong to.")  # fmt: skip
    return error_from_payload(403, fields)


def _admitted(ws: str | None, response: httpx.Response) -> httpx.Response:
    """A call's answer in PAI workspace `ws` (None: the default one); a 403 raises `refused`'s error."""
    if response.status_code == 403:
        raise refused(ws or "(the account's default)", response)
    return response


def model(ref: str):  # type: ignore[no-untyped-def]
    """The workspace's model named `ref` (exact name) or with ModelId `ref` (GetModel), or None; a workspace
    that refuses the caller raises `refused`'s error."""
    ws = yield from workspace_or_default()
    found = yield from find_model(ref)
    got = _admitted(ws, (yield _call("GET", f"/models/{segment(found or ref)}", "GetModel", ok=(403, 404))))
    if got.status_code == 404:
        return None
    return as_model(got.json(), allowed((yield from roles(ws))))


def models_page(query: str | None):  # type: ignore[no-untyped-def]
    """ListModels of the workspace, page by page; the caller's roles asked once, with the first page."""
    held: list[list[str]] = []

    def fetch(cursor: str | None, limit: int | None):  # type: ignore[no-untyped-def]
        ws = yield from workspace_or_default()
        if not held:
            held.append(allowed((yield from roles(ws))))
        number, size = int(cursor or 1), min(limit or 50, 100)
        params = {"WorkspaceId": ws, "PageNumber": number, "PageSize": size, **({"ModelName": query} if query else {})}
        body = _admitted(ws, (yield _call("GET", "/models", "ListModels", params=params, ok=(403,)))).json()
        items = [as_model(m, held[0]) for m in body.get("Models") or []]
        more = number * size < int(body.get("TotalCount") or 0) and items
        return items, (str(number + 1) if more else None)

    return fetch


def _versions_page(ref: str, params: dict[str, Any]):  # type: ignore[no-untyped-def]
    def fetch(cursor: str | None, limit: int | None):  # type: ignore[no-untyped-def]
        mid = yield from model_id(ref)
        number, size = int(cursor or 1), min(limit or 50, 100)
        query = {"PageNumber": number, "PageSize": size,
                 **({"ApprovalStatus": params["approval_status"]} if params.get("approval_status") else {})}  # fmt: skip
        body = (yield _call("GET", f"/models/{segment(mid)}/versions", "ListModelVersions", params=query)).json()
        items = [as_version(v, mid, ref) for v in body.get("Versions") or []]
        more = number * size < int(body.get("TotalCount") or 0) and items
        return items, (str(number + 1) if more else None)

    return fetch


def versions(ref: str, params: dict[str, Any]) -> Page[ModelVersion]:
    return Page(ModelVersion, "", params, "versions", fetch=_versions_page(ref, params))


def _version_path(mid: str, name: str) -> str:
    return f"/models/{segment(mid)}/versions/{segment(name)}"


def version(ref: str, name: str):  # type: ignore[no-untyped-def]
    mid = yield from model_id(ref)
    body = (yield _call("GET", _version_path(mid, name), "GetModelVersion")).json()
    return as_version(body, mid, ref)


def create_version(mid: str, spec: dict[str, Any], idempotency_key: str):  # type: ignore[no-untyped-def]
    """CreateModelVersion (PAI takes no idempotency key: the transport does not retry it once sent)."""
    unknown = sorted(set(spec) - set(FIELDS))
    if unknown:
        raise InvalidParameter(f"PAI versions have no field(s) {', '.join(unknown)}.", code="InvalidParameter.Version",
                               hint=f"Use: {', '.join(FIELDS)}.")  # fmt: skip
    body = {FIELDS[k]: (_labels(v) if k == "labels" else v) for k, v in spec.items()}
    if isinstance(body.get("Options"), (dict, list)):
        body["Options"] = json.dumps(body["Options"], separators=(",", ":"))
    created = (yield _call("POST", f"/models/{segment(mid)}/versions", "CreateModelVersion", body)).json()
    return (yield from version(mid, created["VersionName"]))


def update_version(ref: str, name: str, fields: dict[str, Any]):  # type: ignore[no-untyped-def]
    """UpdateModelVersion for the mutable fields; labels through Create/DeleteModelVersionLabels."""
    mid = yield from model_id(ref)
    changes = dict(fields)
    labels = changes.pop("labels", None)
    if changes:
        unknown = sorted(set(changes) - (set(FIELDS) - {"uri", "version_name", "format_type", "framework_type"}))
        if unknown:
            raise InvalidParameter(f"Field(s) {', '.join(unknown)} cannot be changed on a PAI version.",
                                   code="InvalidParameter.ImmutableField",
                                   hint="Register a new version to change the uri, name, format or framework.")  # fmt: skip
        yield _call("PUT", _version_path(mid, name), "UpdateModelVersion", {FIELDS[k]: v for k, v in changes.items()})
    if labels is not None:
        current = (yield from version(mid, name)).labels
        gone = sorted(set(current) - set(labels))
        if gone:
            yield _call("DELETE", _version_path(mid, name) + "/labels", "DeleteModelVersionLabels",
                        params={"LabelKeys": ",".join(gone)})  # fmt: skip
        if labels:
            yield _call("POST", _version_path(mid, name) + "/labels", "CreateModelVersionLabels",
                        {"Labels": _labels(labels)})  # fmt: skip
    return (yield from version(mid, name))


def decide(ref: str, name: str, decision: str):  # type: ignore[no-untyped-def]
    """Approve or reject through UpdateModelVersion's ApprovalStatus; PAI keeps a decision final."""
    mid = yield from model_id(ref)
    yield _call("PUT", _version_path(mid, name), "UpdateModelVersion", {"ApprovalStatus": DECISIONS[decision]})
    return (yield from version(mid, name))


def delete_version(ref: str, name: str):  # type: ignore[no-untyped-def]
    mid = yield from model_id(ref)
    yield _call("DELETE", _version_path(mid, name), "DeleteModelVersion")
