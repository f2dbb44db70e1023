"""Huawei Cloud: one kind, `huawei`, because one account's credentials serve all four services it needs:
the AccessKey pair (or the IAM token it gets with its password) signs for IAM, ModelArts, Pangu and OBS
alike, and the project id they share comes from one IAM lookup. docs/clouds/huawei.md says how to set it up.

The main service is ModelArts (the profile's `url`, or the region's host); IAM, Pangu and OBS are the
region's others (`endpoints = {iam = ..., pangu = ..., obs = ...}` to override). Credentials in the cloud's
own variables (`HUAWEICLOUD_SDK_AK`, `_SK`, `_SECURITY_TOKEN`, `_PROJECT_ID`, `_REGION`, `_IAM_ENDPOINT`).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ..base import Context, Progress, Provider
from . import endpoints, iam, modelarts, pangu, services
from .errors import CLASSES, error, hint_for

if TYPE_CHECKING:
    import httpx

BUCKET_HINT = ("Name the OBS bucket checkpoints go to: `obs_bucket = \"...\"` in the profile (or "
               "HUAWEICLOUD_OBS_BUCKET), or register a checkpoint already in OBS by its obs://bucket/key uri.")  # fmt: skip


def upload(context: Context, local: Path, progress: Progress | None) -> dict[str, Any]:
    """A local checkpoint to the profile's OBS bucket (`obs.upload`, multipart and resumable), registered by
    its obs:// uri; OBS is the `obs` service (the region's host, or the profile's endpoint)."""
    from ..objects import put_checkpoint
    from . import obs

    _may_register(context.client)
    return put_checkpoint(context, local, progress, put=obs.upload, scheme="obs", service="obs",
                          bucket_option="obs_bucket", bucket_hint=BUCKET_HINT)  # fmt: skip


def _may_register(client: httpx.Client) -> None:
    """ValidateAuthorization before any byte goes to OBS: a register ModelArts would refuse is refused now, naming
    what is missing, not after the upload. An account that may not ask (an error answer) goes on: the calls say."""
    call = next(modelarts.check(["modelarts:model:create"]))
    answer = client.request(call.method, call.path, json=call.json, headers=call.headers)
    results = answer.json().get("results") if answer.status_code < 400 else None
    why = modelarts.explain(results[0]) if results else {"allowed": True}
    if not why["allowed"]:
        code = {"workspace access": "ModelArts.0105"}.get(why["missing"], "ModelArts.0104")
        missing = why["missing"] or "the permission"
        raise CLASSES[code](f"Registering a model in this workspace is refused: {missing} is missing.", code=code,
                            status=403, hint=why["hint"] or hint_for(code))  # fmt: skip


PROVIDER = Provider(
    name="huawei",
    title="Huawei Cloud ModelArts",
    kinds=("huawei",),
    capabilities=frozenset({"workspaces", "switch", "create_workspace", "models", "versions", "register", "chat", "tasks",
                            "deployments"}),  # fmt: skip
    service="modelarts",
    plans=SimpleNamespace(
        whoami=modelarts.whoami, workspaces=modelarts.workspaces, workspace=modelarts.workspace,
        create_workspace=modelarts.create_workspace,
        models=modelarts.models, model=modelarts.model, versions=modelarts.versions, version=modelarts.version,
        ensure_model=modelarts.ensure_model, create_version=modelarts.create_version, check=modelarts.check,
        authorization_mode=modelarts.authorization_mode, agency=modelarts.agency,
        # Pangu: chat on a deployment and its tasks; ModelArts real-time services as the deployments
        chat=pangu.chat, deployment_chat=pangu.deployment_chat, submit=pangu.submit, task=pangu.task,
        cancel_task=pangu.cancel_task, tasks=pangu.tasks, create_deployment=services.create_deployment,
        deployments=services.deployments,
        deployment=services.deployment, change_deployment=services.change_deployment,
        delete_deployment=services.delete_deployment, deployment_events=services.deployment_events,
        deployment_predict=services.deployment_predict,
    ),  # fmt: skip
    auth=iam.auth,
    error=error,
    chunks=lambda: pangu.chunk,  # Pangu's streamed chat: OpenAI-style events (the delta or the message form)
    environment={
        "access_key_id": ("HUAWEICLOUD_SDK_AK",), "access_key_secret": ("HUAWEICLOUD_SDK_SK",),
        "security_token": ("HUAWEICLOUD_SDK_SECURITY_TOKEN",), "api_key": ("HUAWEICLOUD_PASSWORD",),
    },  # fmt: skip
    workspace_header=iam.WORKSPACE_HEADER,
    regions=endpoints.REGIONS,
    upload=upload,
    options_environment={"obs_bucket": ("HUAWEICLOUD_OBS_BUCKET",)},
    workspace_environment=("HUAWEICLOUD_MODELARTS_WORKSPACE_ID",),
    region_environment=("HUAWEICLOUD_SDK_REGION",),
    url_from_environment=endpoints.from_environment,
)


def check(deck: Any, *actions: str) -> list[dict[str, Any]]:
    """Whether the deck's account may do each ModelArts action (`modelarts:model:create`, ...) in its current
    workspace, and if not which condition is missing (workspace access or the action's permission) and who
    can grant it: ValidateAuthorization, asked before the call that would be refused."""
    return deck._run(modelarts.check(list(actions)))


def authorization_mode(deck: Any, mode: str | None = None) -> str:
    """ModelArts' authorization mode (strict | loose); set by the main account."""
    return deck._run(modelarts.authorization_mode(mode))


def agency(deck: Any, delegate_to: str | None = None) -> dict[str, Any]:
    """Whether ModelArts has an agency delegated (to read OBS for this user); `delegate_to` an account id or
    'all' creates and delegates it first (the main account's step)."""
    return deck._run(modelarts.agency(delegate_to))


def complete(deck: Any, deployment: str, prompt: str, stream: bool = False, **params: Any) -> Any:
    """Pangu's text completion of `prompt` on a deployment (its id): a `Completion`, or with `stream=True` an
    iterator of `Chunk`s. `params` are TextCompletionReq's (max_tokens, temperature, top_p, presence_penalty,
    frequency_penalty, user, n). The deployment writes on from the prompt's last word (no chat template); the
    deck's `chat` answers a conversation instead."""
    return deck._run(pangu.text_completion(deployment, {"prompt": prompt, **params}, stream))
