"""The Model Studio management facade, driven by the official `alibabacloud-modelstudio20260210` client
(2.2.3, over `alibabacloud-tea-openapi` 0.4.6) unmodified: `Config(endpoint="127.0.0.1:PORT",
protocol="HTTP")`, AccessKey pairs signing ACS3-HMAC-SHA256 that the platform verifies."""

from __future__ import annotations

from urllib.parse import urlsplit

import dashscope
import pytest
from alibabacloud_modelstudio20260210 import models as ms
from alibabacloud_modelstudio20260210.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config
from conftest import Deployment
from test_alibaba_dashscope import MESSAGES, TINY, cloud  # noqa: F401  (fixtures)


def management(url: str, key_id: str, secret: str) -> Client:
    """The official client aimed at a server: its documented `endpoint` (host:port) and `protocol` settings."""
    config = Config(access_key_id=key_id, access_key_secret=secret, endpoint=urlsplit(url).netloc,
                    protocol="HTTP", region_id="cn-beijing")  # fmt: skip
    return Client(config)


@pytest.fixture
def admin(deployment: Deployment) -> Client:
    pair = deployment.admin.ok("POST", "/api/v1/access-keys", json={"description": "console"})
    return management(deployment.url, pair["id"], pair["secret"])


def permissions(client: Client, ws: str, scope: str) -> list[tuple[str, bool]]:
    body = client.list_model_permissions(ms.ListModelPermissionsRequest(
        workspace_id=ws, authorization_scope=scope, model_action="INFERENCE")).body  # fmt: skip
    assert body.success is True
    return [(p.model, p.permissions.inference) for p in body.list]


def update(client: Client, ws: str, **flags: bool) -> ms.UpdateModelPermissionsResponseBody:
    models = [ms.UpdateModelPermissionsRequestModels(model="tiny", inference=flags.get("inference", False),
                                                     fine_tune=False, deploy=False)]  # fmt: skip
    request = ms.UpdateModelPermissionsRequest(workspace_id=ws, access_all_entities="KEEP", models=models)
    return client.update_model_permissions(request).body


def test_workspaces_are_listed_with_cloud_ids(deployment: Deployment, admin: Client, cloud: dict[str, str]):
    body = admin.list_workspaces(ms.ListWorkspacesRequest(max_results=1)).body
    assert body.success is True and body.total_count == 2 and len(body.workspaces) == 1 and body.next_token
    rest = admin.list_workspaces(ms.ListWorkspacesRequest(max_results=1, next_token=body.next_token)).body
    listed = {w.workspace_name: w.workspace_id for w in body.workspaces + rest.workspaces}
    assert listed["team-b"] == cloud["ws"] and listed["default"].startswith("ws_") and not rest.next_token
    assert rest.workspaces[0].api_host.endswith("/dashscope") or body.workspaces[0].api_host.endswith("/dashscope")
    one = admin.list_workspaces(ms.ListWorkspacesRequest(workspace_id=cloud["ws"])).body
    assert [w.workspace_name for w in one.workspaces] == ["team-b"]


def test_the_grant_through_the_management_api_lets_the_sub_workspace_call(
    deployment: Deployment, llm: str, cloud: dict[str, str], admin: Client
):
    def generate():  # type: ignore[no-untyped-def]
        return dashscope.Generation.call(model="tiny", messages=MESSAGES, api_key=cloud["sub"], workspace=cloud["ws"],
                                         result_format="message", **TINY)  # fmt: skip

    assert permissions(admin, cloud["ws"], "AUTHORIZED") == []
    assert permissions(admin, cloud["ws"], "AUTHORIZABLE") == [("tiny", False)]
    assert generate().code == "Model.AccessDenied"

    assert update(admin, cloud["ws"], inference=True).success is True
    assert permissions(admin, cloud["ws"], "AUTHORIZED") == [("tiny", True)]
    granted = generate()
    assert granted.status_code == 200 and granted.output.choices[0].message.content

    update(admin, cloud["ws"], inference=False)  # all False: revoked
    assert permissions(admin, cloud["ws"], "AUTHORIZED") == []
    assert generate().code == "Model.AccessDenied"


def test_refusals_arrive_as_the_sdk_reads_them(deployment: Deployment, llm: str, cloud: dict[str, str], admin: Client):
    pair = deployment.client(cloud["sub"]).ok("POST", "/api/v1/access-keys", json={})
    alice = management(deployment.url, pair["id"], pair["secret"])
    with pytest.raises(ClientException) as refused:
        update(alice, cloud["ws"], inference=True)  # alice is no admin of the default workspace
    assert refused.value.code == "Workspace.AccessDenied" and refused.value.status_code == 403
    assert permissions(alice, cloud["ws"], "AUTHORIZED") == []  # but she may read her own workspace's

    forged = management(deployment.url, pair["id"], "not-the-secret")
    with pytest.raises(ClientException) as refused:
        forged.list_workspaces(ms.ListWorkspacesRequest())
    assert refused.value.code == "Signature.Mismatch" and refused.value.status_code == 401

    with pytest.raises(ClientException) as refused:
        admin.list_model_permissions(ms.ListModelPermissionsRequest(workspace_id=cloud["ws"], authorization_scope="ALL"))
    assert refused.value.code.startswith("InvalidParameter") and refused.value.status_code == 400
