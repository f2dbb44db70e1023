"""PAI's AIWorkspace facade, driven by the official `alibabacloud-aiworkspace20210204` client (8.3.5, over
`alibabacloud-tea-openapi`) unmodified and configured only through its documented `Config` settings
(`endpoint="127.0.0.1:PORT/aiworkspace"`, `protocol="HTTP"`; ACS3 by default, the legacy ROA signature with
`signature_algorithm="v2"`), then the same scenarios through the `alibaba` provider, and the requests of
both compared on one loopback recorder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from alibabacloud_aiworkspace20210204 import models as pai
from alibabacloud_aiworkspace20210204.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config
from conftest import Deployment, deploy
from fixtures.wire_recorder import Recorder, Route
from test_alibaba_provider import ALIBABA_VARIABLES, wire

import modeldeck as md
from modeldeck.errors import AccessDenied, Conflict
from modeldeck.platform.api.facades.aiworkspace import pai_workspace_id, platform_workspace_id
from modeldeck.platform.settings import Settings
from modeldeck.profiles import Profile, ProfileFile

URI = "oss://models-bucket/pai/resnet/1/"


def official(url: str, key_id: str, secret: str, algorithm: str | None = None) -> Client:
    """The official client aimed at a server's facade: `endpoint` (host:port and the facade's path), `protocol`."""
    config = Config(access_key_id=key_id, access_key_secret=secret, endpoint=urlsplit(url).netloc + "/aiworkspace",
                    protocol="HTTP", region_id="cn-hangzhou", signature_algorithm=algorithm)  # fmt: skip
    return Client(config)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One platform for the module: workspace `team-b`, a sub-account alice (developer there), AccessKeys."""
    dep = deploy(Settings(home=tmp_path_factory.mktemp("pai") / "home"))
    ws = dep.admin.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    alice = dep.subaccount("alice", {"team-b": "developer"})
    admin_pair = dep.admin.ok("POST", "/api/v1/access-keys", json={"description": "console"})
    alice_pair = dep.client(alice).ok("POST", "/api/v1/access-keys", json={})
    yield {"deployment": dep, "ws": pai_workspace_id(ws["id"]), "admin": (admin_pair["id"], admin_pair["secret"]),
           "alice": (alice_pair["id"], alice_pair["secret"]), "keys": {"admin": dep.admin_key, "alice": alice}}  # fmt: skip
    dep.close()


@pytest.fixture(autouse=True)
def no_alibaba_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ALIBABA_VARIABLES, "PAI_WORKSPACE_ID", "PAI_AI_WORKSPACE_ID"):
        monkeypatch.delenv(name, raising=False)


def test_workspace_ids_are_numeric_and_stable():
    assert pai_workspace_id("ws-00000000a1b2") == "41394" and platform_workspace_id("41394") == "ws-00000000a1b2"
    assert platform_workspace_id(pai_workspace_id("ws-ffffffffffff")) == "ws-ffffffffffff"
    with pytest.raises(md.errors.InvalidParameter):
        platform_workspace_id("ws-1; DROP")


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["acs3", "roa-hmac-sha1"])
def test_the_registry_story_with_the_official_client(server: dict, algorithm: str | None):
    dep: Deployment = server["deployment"]
    admin = official(dep.url, *server["admin"], algorithm)
    alice = official(dep.url, *server["alice"], algorithm)
    listed = admin.list_workspaces(pai.ListWorkspacesRequest(page_size=50)).body
    names = {w.workspace_name: w.workspace_id for w in listed.workspaces}
    assert names["team-b"] == server["ws"] and names["default"].isdigit() and listed.total_count == 2
    got_ws = admin.get_workspace(server["ws"], pai.GetWorkspaceRequest())
    assert got_ws.body.workspace_name == "team-b" and got_ws.body.owner.user_id

    name = f"resnet {algorithm or 'acs3'}"
    model_id = alice.create_model(pai.CreateModelRequest(model_name=name, workspace_id=server["ws"],
                                                         labels=[pai.Label(key="team", value="b")])).body.model_id  # fmt: skip
    exact = alice.list_models(pai.ListModelsRequest(model_name=f'"{name}"', workspace_id=server["ws"])).body
    assert [m.model_id for m in exact.models] == [model_id] and exact.total_count == 1
    assert alice.list_models(pai.ListModelsRequest(model_name='"resnet"', workspace_id=server["ws"])).body.total_count == 0

    created = alice.create_model_version(model_id, pai.CreateModelVersionRequest(
        uri=URI, version_name="1.0.0", format_type="SavedModel", framework_type="TensorFlow",
        labels=[pai.Label(key="stage", value="dev")], metrics={"acc": 0.9}, options='{"x":1}',
        inference_spec={"processor": "tensorflow_gpu_1.12"})).body  # fmt: skip
    assert created.version_name == "1.0.0"
    got = alice.get_model_version(model_id, "1.0.0", pai.GetModelVersionRequest()).body
    assert (got.uri, got.approval_status, got.options, got.metrics) == (URI, "Pending", '{"x":1}', {"acc": 0.9})
    assert [(label.key, label.value) for label in got.labels] == [("stage", "dev")]
    assert got.gmt_create_time.endswith("Z")

    with pytest.raises(ClientException) as denied:  # a developer registers, but may not approve
        alice.update_model_version(model_id, "1.0.0", pai.UpdateModelVersionRequest(approval_status="Approved"))
    assert denied.value.status_code == 403 and denied.value.code == "AccessDenied"

    admin.update_model_version(model_id, "1.0.0", pai.UpdateModelVersionRequest(approval_status="Approved"))
    with pytest.raises(ClientException) as final:
        admin.update_model_version(model_id, "1.0.0", pai.UpdateModelVersionRequest(approval_status="Rejected"))
    assert final.value.status_code == 409 and final.value.code == "Version.ApprovalFinal"

    alice.create_model_version_labels(model_id, "1.0.0", pai.CreateModelVersionLabelsRequest(
        labels=[pai.Label(key="stage", value="prod"), pai.Label(key="owner", value="alice")]))  # fmt: skip
    alice.delete_model_version_labels(model_id, "1.0.0", pai.DeleteModelVersionLabelsRequest(label_keys="owner"))
    alice.update_model_version(model_id, "1.0.0", pai.UpdateModelVersionRequest(metrics={"acc": 0.95, "f1": 0.9}))
    got = admin.get_model_version(model_id, "1.0.0", pai.GetModelVersionRequest()).body
    assert [(label.key, label.value) for label in got.labels] == [("stage", "prod")]
    assert got.metrics == {"acc": 0.95, "f1": 0.9} and got.approval_status == "Approved"

    alice.create_model_version(model_id, pai.CreateModelVersionRequest(uri=URI + "2/"))  # named 1.1.0
    pending = alice.list_model_versions(model_id, pai.ListModelVersionsRequest(approval_status="Pending")).body
    assert [v.version_name for v in pending.versions] == ["1.1.0"] and pending.total_count == 1
    admin.update_model_version(model_id, "1.1.0", pai.UpdateModelVersionRequest(approval_status="Rejected"))
    model = admin.get_model(model_id, pai.GetModelRequest()).body
    assert model.model_name == name and model.workspace_id == server["ws"]
    assert model.latest_version.version_name == "1.1.0" and model.latest_version.approval_status == "Rejected"

    with pytest.raises(ClientException) as denied:
        alice.delete_model_version(model_id, "1.1.0", pai.DeleteModelVersionRequest())  # needs `manage`
    assert denied.value.status_code == 403
    admin.delete_model_version(model_id, "1.1.0", pai.DeleteModelVersionRequest())
    assert admin.list_model_versions(model_id, pai.ListModelVersionsRequest()).body.total_count == 1


def test_refusals_arrive_as_the_sdk_reads_them(server: dict):
    dep: Deployment = server["deployment"]
    forged = official(dep.url, server["alice"][0], "not-the-secret")
    with pytest.raises(ClientException) as refused:
        forged.list_workspaces(pai.ListWorkspacesRequest())
    assert refused.value.code == "Signature.Mismatch" and refused.value.status_code == 401
    with pytest.raises(ClientException) as refused:
        official(dep.url, server["alice"][0], "not-the-secret", "v2").list_workspaces(pai.ListWorkspacesRequest())
    assert refused.value.code == "Signature.Mismatch"

    admin = official(dep.url, *server["admin"])
    default = admin.get_default_workspace(pai.GetDefaultWorkspaceRequest()).body.workspace_id
    secret = admin.create_model(pai.CreateModelRequest(model_name="admins-only", workspace_id=default)).body.model_id
    alice = official(dep.url, *server["alice"])
    with pytest.raises(ClientException) as hidden:  # alice is no member of the default workspace
        alice.get_model(secret, pai.GetModelRequest())
    assert hidden.value.status_code == 404 and hidden.value.code == "Model.NotFound"
    with pytest.raises(ClientException) as refused:
        alice.list_models(pai.ListModelsRequest(workspace_id=default))
    assert refused.value.status_code == 403 and refused.value.code == "Workspace.AccessDenied"
    with pytest.raises(ClientException) as refused:
        alice.list_models(pai.ListModelsRequest(workspace_id="team-b"))
    assert refused.value.status_code == 400 and refused.value.code == "InvalidParameter.WorkspaceId"
    with pytest.raises(ClientException) as refused:
        admin.create_model_version(secret, pai.CreateModelVersionRequest(uri=URI, format_type="Pickle"))
    assert refused.value.status_code == 400


# ---- the same through the provider ---------------------------------------------------------------------


def profile(url: str, key_id: str, secret: str, name: str = "pai", api_key: str = "sk-test",
            pai_base: str = "/aiworkspace") -> str:  # fmt: skip
    """An `alibaba` profile at a server's facades: DashScope (the API key), management and PAI (the AccessKey)."""
    file = ProfileFile.load()
    file.profiles[name] = Profile(name, "alibaba", url=f"{url}/dashscope",
                                  endpoints={"modelstudio": url, "pai": url + pai_base},
                                  access_key_id=key_id, access_key_secret=secret, api_key=api_key)  # fmt: skip
    file.save()
    return name


def test_the_registry_story_through_the_provider(server: dict, monkeypatch: pytest.MonkeyPatch):
    dep: Deployment = server["deployment"]
    monkeypatch.setenv("PAI_WORKSPACE_ID", server["ws"])
    with md.connect(profile(dep.url, *server["alice"], name="alice", api_key=server["keys"]["alice"])) as alice:
        assert {"versions", "register", "approve"} <= set(alice.capabilities)
        first = alice.register("detector", URI, format="SavedModel", framework="TensorFlow", metrics={"map": 0.5},
                               labels={"stage": "dev"})  # fmt: skip
        assert (first.version_name, first.approval_status, first.uri) == ("0.1.0", "Pending", URI)
        second = alice.register("detector", URI + "2/")  # the model exists now: found by its exact name
        assert second.version_name == "0.2.0" and second.model_id == first.model_id
        with pytest.raises(AccessDenied):
            alice.approve("detector", "0.1.0")
        changed = alice.update_version("detector", "0.1.0", labels={"stage": "prod"}, metrics={"map": 0.6})
        assert changed.labels == {"stage": "prod"} and changed.metrics == {"map": 0.6}
    with md.connect(profile(dep.url, *server["admin"], name="admin", api_key=server["keys"]["admin"])) as admin:
        assert admin.approve("detector", "0.1.0").approval_status == "Approved"
        with pytest.raises(Conflict) as final:
            admin.reject("detector", "0.1.0")
        assert "new version" in final.value.hint
        assert admin.reject("detector", "0.2.0").approval_status == "Rejected"
        assert [v.version_name for v in admin.versions("detector")] == ["0.2.0", "0.1.0"]
        assert [v.version_name for v in admin.versions("detector", approval_status="Approved")] == ["0.1.0"]
        admin.delete_version("detector", "0.2.0")
        assert admin.version("detector", "0.1.0").labels == {"stage": "prod"}
        with pytest.raises(md.errors.NotFound) as missing:
            admin.version("detector", "0.2.0")
        assert missing.value.code == "Version.NotFound"


# ---- wire equality -------------------------------------------------------------------------------------

MODEL = {"ModelId": "model-1", "ModelName": "my model", "WorkspaceId": "12345"}
VERSION = {"VersionName": "1.0.0", "Uri": URI, "ApprovalStatus": "Pending", "Labels": [{"Key": "k", "Value": "v"}]}
ROUTES = [Route("GET", r"/dashscope/api/v1/models/permissions", json_body={"output": {"permissions": []}}),
          Route("GET", r"/api/v1/models", json_body={"RequestId": "r", "TotalCount": 1, "Models": [MODEL]}),
          Route("POST", r"/api/v1/models", json_body={"RequestId": "r", "ModelId": "model-1"}),
          Route("GET", r"/api/v1/models/[^/]+/versions", json_body={"RequestId": "r", "TotalCount": 1, "Versions": [VERSION]}),
          Route("POST", r"/api/v1/models/[^/]+/versions", json_body={"RequestId": "r", "VersionName": "1.0.0"}),
          Route("*", r"/api/v1/models/[^/]+/versions/.*", json_body={"RequestId": "r", **VERSION})]  # fmt: skip


def test_provider_requests_equal_the_sdks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("PAI_WORKSPACE_ID", "12345")
    with Recorder(ROUTES) as rec:
        client = Client(Config(access_key_id="AKTEST", access_key_secret="SECRETTEST", endpoint=urlsplit(rec.url).netloc,
                               protocol="HTTP", region_id="cn-hangzhou"))  # fmt: skip
        client.list_models(pai.ListModelsRequest(model_name='"my model"', workspace_id="12345", page_number=1, page_size=10))
        client.create_model_version("model-1", pai.CreateModelVersionRequest(
            uri=URI, version_name="1.0.0", format_type="SavedModel", labels=[pai.Label(key="k", value="v")],
            metrics={"acc": 0.9}))  # fmt: skip
        client.get_model_version("model-1", "1.0.0", pai.GetModelVersionRequest())
        client.update_model_version("model-1", "1.0.0", pai.UpdateModelVersionRequest(approval_status="Approved"))
        client.update_model_version("model-1", "1.0.0", pai.UpdateModelVersionRequest(metrics={"acc": 0.95}))
        client.list_model_versions("model-1", pai.ListModelVersionsRequest(page_number=1, page_size=50))
        client.delete_model_version("model-1", "1.0.0", pai.DeleteModelVersionRequest())
        theirs = [wire(r) for r in rec.requests]
        rec.requests.clear()

        with md.connect(profile(rec.url, "AKTEST", "SECRETTEST", name="rec", pai_base="")) as deck:
            deck.register("my model", URI, version="1.0.0", format="SavedModel", labels={"k": "v"}, metrics={"acc": 0.9})
            deck.approve("my model", "1.0.0")
            deck.update_version("my model", "1.0.0", metrics={"acc": 0.95})
            list(deck.versions("my model"))
            deck.delete_version("my model", "1.0.0")
        ours = [wire(r) for r in rec.requests if r.header("x-acs-action")]
    actions = [o["headers"]["x-acs-action"] for o in ours]
    # the provider names the model by name: each operation looks it up (ListModels) first
    by_action = {}
    for request in ours:
        by_action.setdefault(request["headers"]["x-acs-action"], []).append(request)
    assert set(actions) == {"ListModels", "CreateModelVersion", "GetModelVersion", "UpdateModelVersion",
                            "ListModelVersions", "DeleteModelVersion"}  # fmt: skip
    sdk = {}
    for request in theirs:
        sdk.setdefault(request["headers"]["x-acs-action"], []).append(request)
    assert by_action["ListModels"][0] == sdk["ListModels"][0]
    assert by_action["CreateModelVersion"] == sdk["CreateModelVersion"]
    assert by_action["GetModelVersion"][0] == sdk["GetModelVersion"][0]
    assert by_action["UpdateModelVersion"] == sdk["UpdateModelVersion"]
    assert by_action["ListModelVersions"] == sdk["ListModelVersions"]
    assert by_action["DeleteModelVersion"] == sdk["DeleteModelVersion"]


def test_the_platform_verifies_roaauth_and_refuses_replays_and_changes(server: dict):
    from modeldeck.providers.alibaba.roa import ROAAuth

    dep: Deployment = server["deployment"]
    signer = ROAAuth(*server["admin"])
    headers = {"accept": "application/json", "x-acs-action": "ListWorkspaces", "x-acs-version": "2021-02-04"}
    with httpx.Client(base_url=f"{dep.url}/aiworkspace") as http:
        request = http.build_request("GET", "/api/v1/workspaces", params={"WorkspaceName": "team b ü*~"}, headers=headers)
        signer.sign(request)
        assert http.send(request).status_code == 200
        replayed = http.send(request)
        assert (replayed.status_code, replayed.json()["Code"]) == (401, "Signature.Replayed")

        changed = http.build_request("GET", "/api/v1/workspaces", params={"WorkspaceName": "team-b"}, headers=headers)
        signer.sign(changed)
        changed.url = changed.url.copy_with(params={"WorkspaceName": "default"})
        assert http.send(changed).json()["Code"] == "Signature.Mismatch"

        body = b'{"ModelName":"m","WorkspaceId":"%s"}' % server["ws"].encode()
        posted = http.build_request("POST", "/api/v1/models", content=body,
                                    headers={**headers, "content-md5": "AAAAAAAAAAAAAAAAAAAAAA==",
                                             "content-type": "application/json"})  # fmt: skip
        signer.sign(posted)
        refused = http.send(posted)
        assert (refused.status_code, refused.json()["Code"]) == (401, "Signature.Mismatch")
        assert "Content-MD5" in refused.json()["Message"]
