"""The modeldeck platform, embedded (a `local` profile) or a team server (`server`): every capability.

Its REST API lives under `/api/v1` (pages `{items, next_cursor}`, errors `{code, message, hint,
request_id}`), its chat under the OpenAI-compatible `/v1`, the current workspace travels in
`X-ModelDeck-Workspace`, and checkpoints go up with its resumable upload protocol (modeldeck.transfer).
"""

from __future__ import annotations

import uuid

from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import httpx

from .._http import Call, Credentials
from ..errors import Conflict, from_response
from ..resources import AccessKey, Account, Deployment, DeploymentEvent, Grant, Model, ModelVersion, Prediction, TaskRecord, Workspace
from . import openai
from .base import CAPABILITIES, Context, Page, Progress, Provider, bearer

V1 = "/api/v1"
WORKSPACE_HEADER = "X-ModelDeck-Workspace"


def path(*parts: str) -> str:
    """A path under the REST API, each part quoted (a name may hold any character)."""
    return V1 + "".join("/" + quote(p, safe="") for p in parts)


def auth(credentials: Credentials) -> httpx.Auth | None:
    """An AccessKey pair signs each request (ACS3-HMAC-SHA256); an API key or token is a bearer."""
    if credentials.access_key_id and credentials.access_key_secret:
        from .auth import ACS3Auth

        return ACS3Auth(credentials.access_key_id, credentials.access_key_secret, credentials.security_token)
    return bearer(credentials)


def upload(context: Context, local: Path, progress: Progress | None) -> dict[str, Any]:
    """Into the platform's own blobs, through the deck's client (its auth and workspace header)."""
    from ..transfer import upload_artifact

    assert context.client is not None  # the drivers give an upload step the deck's client
    return upload_artifact(context.client, local, progress=progress)


# ---- leaf plans: one operation's calls, its responses as records ----------------------------------------


def whoami():  # type: ignore[no-untyped-def]
    return (yield Call("GET", path("whoami"))).json()


def workspaces():  # type: ignore[no-untyped-def]
    return [Workspace.from_json(w) for w in (yield Call("GET", path("workspaces"))).json()["items"]]


def workspace(ref: str):  # type: ignore[no-untyped-def]
    return Workspace.from_json((yield Call("GET", path("workspaces", ref))).json())


def create_workspace(body: dict[str, Any]):  # type: ignore[no-untyped-def]
    return Workspace.from_json((yield Call("POST", path("workspaces"), json=body)).json())


def update_workspace(ref: str, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    return Workspace.from_json((yield Call("PATCH", path("workspaces", ref), json=body)).json())


def delete_workspace(ref: str):  # type: ignore[no-untyped-def]
    yield Call("DELETE", path("workspaces", ref))


def accounts() -> Page[Account]:
    return Page(Account, path("accounts"), {}, "accounts")


def create_subaccount(name: str):  # type: ignore[no-untyped-def]
    return Account.from_json((yield Call("POST", path("accounts"), json={"name": name})).json())


def members(ws: str) -> Page[Account]:
    return Page(Account, path("workspaces", ws, "members"), {}, "members")


def add_member(ws: str, account: str, role: str):  # type: ignore[no-untyped-def]
    call = Call("PUT", path("workspaces", ws, "members", account), json={"role": role})
    return Account.from_json((yield call).json())


def remove_member(ws: str, account: str):  # type: ignore[no-untyped-def]
    yield Call("DELETE", path("workspaces", ws, "members", account))


def authorization_mode(mode: str | None):  # type: ignore[no-untyped-def]
    body = {"authorization_mode": mode}
    call = Call("GET", path("settings")) if mode is None else Call("PATCH", path("settings"), json=body)
    return (yield call).json()["authorization_mode"]


def models(params: dict[str, Any]) -> Page[Model]:
    return Page(Model, path("models"), params, "models")


def model(ref: str):  # type: ignore[no-untyped-def]
    return Model.from_json((yield Call("GET", path("models", ref))).json())


def create_model(fields: dict[str, Any]):  # type: ignore[no-untyped-def]
    return Model.from_json((yield Call("POST", path("models"), json=fields)).json())


def update_model(ref: str, fields: dict[str, Any]):  # type: ignore[no-untyped-def]
    return Model.from_json((yield Call("PATCH", path("models", ref), json=fields)).json())


def delete_model(ref: str):  # type: ignore[no-untyped-def]
    yield Call("DELETE", path("models", ref))


def ensure_model(name: str):  # type: ignore[no-untyped-def]
    """The id of the model called `name` owned by the current workspace, creating it if needed."""
    response = yield Call("GET", path("models", name), ok=(403, 404))
    if response.is_success and response.json()["source"] == "owned":
        return response.json()["id"]
    created = yield Call("POST", path("models"), json={"model_name": name}, ok=(409,))
    if created.is_success:
        return created.json()["id"]
    again = yield Call("GET", path("models", name))  # created meanwhile by a concurrent register
    if again.json()["source"] != "owned":
        raise Conflict(f"Model '{name}' could not be created here.", hint="Retry the registration.")
    return again.json()["id"]


def grants(ref: str):  # type: ignore[no-untyped-def]
    return [Grant.from_json(g) for g in (yield Call("GET", path("models", ref, "grants"))).json()["items"]]


def authorize(ref: str, ws: str, actions: list[str]):  # type: ignore[no-untyped-def]
    return Grant.from_json((yield Call("PUT", path("models", ref, "grants", ws), json={"actions": actions})).json())


def revoke(ref: str, ws: str):  # type: ignore[no-untyped-def]
    yield Call("DELETE", path("models", ref, "grants", ws))


def versions(ref: str, params: dict[str, Any]) -> Page[ModelVersion]:
    return Page(ModelVersion, path("models", ref, "versions"), params, "versions")


def version(ref: str, name: str):  # type: ignore[no-untyped-def]
    return ModelVersion.from_json((yield Call("GET", path("models", ref, "versions", name))).json())


def create_version(model_id: str, spec: dict[str, Any], idempotency_key: str):  # type: ignore[no-untyped-def]
    call = Call("POST", path("models", model_id, "versions"), json=spec, headers={"Idempotency-Key": idempotency_key})
    return ModelVersion.from_json((yield call).json())


def update_version(ref: str, name: str, fields: dict[str, Any]):  # type: ignore[no-untyped-def]
    return ModelVersion.from_json((yield Call("PATCH", path("models", ref, "versions", name), json=fields)).json())


def decide(ref: str, name: str, decision: str):  # type: ignore[no-untyped-def]
    """`decision`: approve or reject."""
    return ModelVersion.from_json((yield Call("POST", path("models", ref, "versions", name, decision))).json())


def delete_version(ref: str, name: str):  # type: ignore[no-untyped-def]
    yield Call("DELETE", path("models", ref, "versions", name))


def predict(ref: str, name: str | None, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    parts = ("models", ref, "versions", name, "predict") if name else ("models", ref, "predict")
    return Prediction.from_json((yield Call("POST", path(*parts), json=body)).json())


def submit(kind: str, ref: str, name: str | None, request: dict[str, Any]):  # type: ignore[no-untyped-def]
    body = {"kind": kind, "model": ref, "version": name, "input": request}
    return TaskRecord.from_json((yield Call("POST", path("tasks"), json=body)).json())


def task(task_id: str):  # type: ignore[no-untyped-def]
    return TaskRecord.from_json((yield Call("GET", path("tasks", task_id))).json())


def cancel_task(task_id: str):  # type: ignore[no-untyped-def]
    return TaskRecord.from_json((yield Call("POST", path("tasks", task_id, "cancel"))).json())


def tasks(params: dict[str, Any]) -> Page[TaskRecord]:
    return Page(TaskRecord, path("tasks"), params, "tasks")


def create_access_key(description: str):  # type: ignore[no-untyped-def]
    return AccessKey.from_json((yield Call("POST", path("access-keys"), json={"description": description})).json())


def access_keys(params: dict[str, Any]) -> Page[AccessKey]:
    return Page(AccessKey, path("access-keys"), params, "access keys")


def revoke_access_key(key_id: str):  # type: ignore[no-untyped-def]
    yield Call("DELETE", path("access-keys", key_id))


def endpoints():  # type: ignore[no-untyped-def]
    return dict((yield Call("GET", path("endpoints"))).json())


def create_deployment(body: dict[str, Any]):  # type: ignore[no-untyped-def]
    return (yield Call("POST", path("deployments"), json=body)).json()


def deployments() -> Page[Deployment]:
    return Page(Deployment, path("deployments"), {}, "deployments")


def deployment(name: str, wait: int | None = None, gone: bool = False):  # type: ignore[no-untyped-def]
    """A deployment's record (None once it is gone, with `gone`); `wait`: until its change settles, at most
    that many seconds."""
    params = {"wait": wait} if wait else None
    response = yield Call("GET", path("deployments", name), params=params, ok=(404,) if gone else ())
    return None if response.status_code == 404 else response.json()


def deployment_events(name: str) -> Page[DeploymentEvent]:
    return Page(DeploymentEvent, path("deployments", name, "events"), {}, "deployment events")


def change_deployment(name: str, action: str, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    return (yield Call("POST", path("deployments", name, action), json=body)).json()


def delete_deployment(name: str):  # type: ignore[no-untyped-def]
    yield Call("DELETE", path("deployments", name))


def deployment_predict(endpoint: str, body: dict[str, Any], idempotency_key: str):  # type: ignore[no-untyped-def]
    """Predict on a deployment's own endpoint (its replicas), keyed so the transport may retry it."""
    call = Call("POST", f"{endpoint}/predict", json=body, headers={"Idempotency-Key": idempotency_key})
    return Prediction.from_json((yield call).json())


def export_deployment(name: str, params: dict[str, Any]):  # type: ignore[no-untyped-def]
    """A deployment's export: its texts, and the artifact files to fetch beside them."""
    return (yield Call("GET", path("deployments", name, "export"), params=params)).json()


def artifact_file(digest: str, file: str):  # type: ignore[no-untyped-def]
    """One file of an artifact, whole."""
    return (yield Call("GET", path("artifacts", digest, "files") + "/" + quote(file))).content


def deployment_chat(endpoint: str, body: dict[str, Any], stream: bool):  # type: ignore[no-untyped-def]
    """Chat on a deployment's own endpoint: its replicas speak OpenAI's chat completions. Generating changes
    nothing, so the request is keyed: a connection a draining or dying replica breaks is retried."""
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    return (yield from openai.chat_at(f"{endpoint}/v1/chat/completions", headers)(body, stream))


PROVIDER = Provider(
    name="native",
    title="The modeldeck platform",
    kinds=("local", "server"),
    capabilities=CAPABILITIES,
    engines=("local", "ray"),
    service="native",
    plans=SimpleNamespace(
        whoami=whoami, workspaces=workspaces, workspace=workspace, create_workspace=create_workspace,
        update_workspace=update_workspace, delete_workspace=delete_workspace, accounts=accounts,
        create_subaccount=create_subaccount, members=members, add_member=add_member, remove_member=remove_member,
        authorization_mode=authorization_mode, models=models, model=model, create_model=create_model,
        update_model=update_model, delete_model=delete_model, ensure_model=ensure_model, grants=grants,
        authorize=authorize, revoke=revoke, versions=versions, version=version, create_version=create_version,
        update_version=update_version, decide=decide, delete_version=delete_version, predict=predict,
        chat=openai.chat_at("/v1/chat/completions"), submit=submit, task=task, cancel_task=cancel_task, tasks=tasks,
        create_access_key=create_access_key, access_keys=access_keys, revoke_access_key=revoke_access_key,
        endpoints=endpoints, create_deployment=create_deployment, deployments=deployments, deployment=deployment,
        deployment_events=deployment_events, change_deployment=change_deployment,
        delete_deployment=delete_deployment, deployment_predict=deployment_predict, deployment_chat=deployment_chat,
        export_deployment=export_deployment, artifact_file=artifact_file,
    ),  # fmt: skip
    auth=auth,
    error=from_response,
    chunks=lambda: openai.chunk,  # its /v1 speaks OpenAI's event stream
    environment={
        "api_key": ("MODELDECK_API_KEY",), "access_key_id": ("MODELDECK_ACCESS_KEY_ID",),
        "access_key_secret": ("MODELDECK_ACCESS_KEY_SECRET",), "security_token": ("MODELDECK_SECURITY_TOKEN",),
        "token": ("MODELDECK_TOKEN",),
    },  # fmt: skip
    workspace_header=WORKSPACE_HEADER,
    upload=upload,
    openai_base=lambda url: f"{url}/v1",
)
