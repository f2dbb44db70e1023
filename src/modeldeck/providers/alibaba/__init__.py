"""Alibaba Cloud Model Studio: one kind, `alibaba`, because one Alibaba Cloud account holds both credentials
its services take: the DashScope API key (inference, in a workspace) and the AccessKey pair (Model Studio
management: workspaces and model authorization; PAI-EAS services: `eas.py`). docs/clouds/alibaba.md says how to set it up.

The main service is DashScope (the profile's `url`, or the region's host); management calls go to the
`modelstudio` service (`Call(service="modelstudio")`), PAI's model registry to `pai` (AIWorkspace, `pai.py`);
a local checkpoint registers on PAI after `upload.py` puts it in the profile's OSS bucket (`oss` service).
The model list holds both worlds, Model Studio's and PAI's (`models.py`); STS (`sts`) names the caller.
Credentials in the cloud's own variables.
"""

from __future__ import annotations

from types import SimpleNamespace

from ..base import Provider
from . import dashscope, eas, endpoints, models, modelstudio, pai, upload
from .auth import WORKSPACE_HEADER, auth
from .errors import error

PROVIDER = Provider(
    name="alibaba",
    title="Alibaba Cloud Model Studio",
    kinds=("alibaba",),
    capabilities=frozenset({"workspaces", "switch", "models", "grants", "chat", "tasks", "versions", "register", "approve",
                            "predict", "deployments"}),  # fmt: skip
    service="dashscope",
    plans=SimpleNamespace(
        whoami=dashscope.whoami, workspaces=modelstudio.workspaces, workspace=modelstudio.workspace,
        models=models.models, model=models.model, grants=modelstudio.grants, authorize=modelstudio.authorize,
        revoke=modelstudio.revoke, chat=dashscope.chat, submit=dashscope.submit, task=dashscope.task,
        versions=pai.versions, version=pai.version, ensure_model=pai.ensure_model, create_version=pai.create_version,
        update_version=pai.update_version, decide=pai.decide, delete_version=pai.delete_version,
        cancel_task=dashscope.cancel_task, tasks=dashscope.tasks, **eas.PLANS,
    ),  # fmt: skip
    auth=auth,
    error=error,
    chunks=dashscope.Events,
    environment={
        "api_key": ("DASHSCOPE_API_KEY",), "access_key_id": ("ALIBABA_CLOUD_ACCESS_KEY_ID",),
        "access_key_secret": ("ALIBABA_CLOUD_ACCESS_KEY_SECRET",), "security_token": ("ALIBABA_CLOUD_SECURITY_TOKEN",),
    },  # fmt: skip
    workspace_header=WORKSPACE_HEADER,
    regions=endpoints.REGIONS,
    openai_base=lambda url: f"{url}/compatible-mode/v1",
    workspace_environment=("DASHSCOPE_WORKSPACE", "DASHSCOPE_WORKSPACE_ID"),
    region_environment=("DASHSCOPE_API_REGION", "DASHSCOPE_REGION", "ALIBABA_CLOUD_REGION_ID"),
    url_from_environment=endpoints.from_environment,
    upload=upload.upload,
    options_environment={"pai_workspace": pai.WORKSPACE_ENVIRONMENT},
    model_sources=models.SOURCES,
)
