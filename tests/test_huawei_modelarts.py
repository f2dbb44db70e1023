"""The ModelArts facade, driven by the unmodified `huaweicloudsdkmodelarts` 3.1.219 against a real platform
server, configured only through documented settings (`BasicCredentials(ak, sk, project_id)` and
`with_endpoints`, or `with_region` + `with_iam_endpoint` for the project-id lookup): the strict-mode story,
loose mode, the agency, and IAM tokens on ModelArts paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import Deployment, deploy
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.region.region import Region
from huaweicloudsdkmodelarts.v1 import ModelArtsClient
from huaweicloudsdkmodelarts.v1 import model as ma
from test_huawei_iam import REGION, token_for

from modeldeck.platform import Settings


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    dep = deploy(Settings(home=Path(tmp_path_factory.mktemp("huawei-modelarts")) / "home"))
    dep.admin.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    yield dep
    dep.close()


def pair_of(server: Deployment, key: str) -> tuple[str, str]:
    made = server.client(key).ok("POST", "/api/v1/access-keys", json={"description": "huawei"})
    return made["id"], made["secret"]


@pytest.fixture(scope="module")
def project(server: Deployment) -> str:
    return token_for(server.url, "main", server.admin_key).token.project.id


@pytest.fixture(scope="module")
def cloud(server: Deployment, project: str) -> dict[str, object]:
    """Clients of the main account and of two sub-accounts, each with its own AccessKey pair."""
    keys = {"main": server.admin_key, "alice": server.subaccount("alice"), "bob": server.subaccount("bob")}
    clients = {name: client(server.url, *pair_of(server, key), project) for name, key in keys.items()}
    return {"keys": keys, **clients}


def client(url: str, ak: str, sk: str, project: str | None) -> ModelArtsClient:
    return ModelArtsClient.new_builder().with_credentials(BasicCredentials(ak, sk, project)).with_endpoints([url]).build()


def team_b(main: ModelArtsClient) -> str:
    listed = main.list_workspace(ma.ListWorkspaceRequest(sort_by="name", order="asc")).workspaces
    assert [w.name for w in listed] == ["default", "team-b"] and listed[0].id == "0" and len(listed[1].id) == 32
    return listed[1].id


def check(sdk: ModelArtsClient, ws: str, *actions: str) -> list[ma.ValidateAuthResults]:
    body = ma.ValidateAuthorizationRequestBody(requests=[ma.AuthRequests(action=a, action_id=str(i))
                                                         for i, a in enumerate(actions)])  # fmt: skip
    return sdk.validate_authorization(ma.ValidateAuthorizationRequest(workspace_id=ws, body=body)).results


def test_strict_mode_a_sub_user_denied_then_member_without_the_permission_then_granted(server: Deployment, cloud):
    main, alice = cloud["main"], cloud["alice"]
    assert main.show_authmode_detail(ma.ShowAuthmodeDetailRequest()).mode == "strict"
    ws = team_b(main)
    assert alice.list_workspace(ma.ListWorkspaceRequest()).total_count == 0

    denied = check(alice, ws, "modelarts:model:create")[0]
    assert denied.verdict == "deny" and denied.cause[0].policy_name == "workspace-access:team-b"
    with pytest.raises(ClientRequestException) as refused:
        alice.show_workspace(ma.ShowWorkspaceRequest(workspace_id=ws))
    assert (refused.value.status_code, refused.value.error_code) == (403, "ModelArts.0105")
    assert refused.value.request_id.startswith("req-")

    server.admin.ok("PUT", "/api/v1/workspaces/team-b/members/alice", json={"role": "viewer"})
    listed, create = check(alice, ws, "modelarts:model:list", "modelarts:model:create")
    assert listed.verdict == "allow" and create.verdict == "deny"
    assert create.cause[0].policy_name == "action-permission:viewer" and "developer" in create.cause[0].condition[0].value
    shown = alice.show_workspace(ma.ShowWorkspaceRequest(workspace_id=ws))
    assert shown.auth_type == "INTERNAL" and [g.user_name for g in shown.grants] == ["alice"]

    server.admin.ok("PUT", "/api/v1/workspaces/team-b/members/alice", json={"role": "developer"})
    assert [r.verdict for r in check(alice, ws, "modelarts:model:create", "modelarts:service:create")] == ["allow"] * 2
    assert [w.name for w in alice.list_workspace(ma.ListWorkspaceRequest()).workspaces] == ["team-b"]


def test_loose_mode_lets_every_sub_user_in_until_strict_again(cloud):
    main, bob = cloud["main"], cloud["bob"]
    ws = team_b(main)
    with pytest.raises(ClientRequestException) as refused:  # the main account's switch
        bob.update_auth_mode(ma.UpdateAuthModeRequest(body=ma.UpdateAuthModeRequestBody(mode="loose")))
    assert refused.value.status_code == 403
    assert main.update_auth_mode(ma.UpdateAuthModeRequest(body=ma.UpdateAuthModeRequestBody(mode="loose"))).mode == "loose"
    try:
        assert [r.verdict for r in check(bob, ws, "modelarts:model:create")] == ["allow"]
        assert {w.auth_type for w in bob.list_workspace(ma.ListWorkspaceRequest()).workspaces} == {"PUBLIC"}
    finally:
        main.update_auth_mode(ma.UpdateAuthModeRequest(body=ma.UpdateAuthModeRequestBody(mode="strict")))
    assert check(bob, ws, "modelarts:model:create")[0].verdict == "deny"


def test_the_agency_is_created_then_delegated(server: Deployment, cloud):
    main, alice = cloud["main"], cloud["alice"]
    assert alice.get_authorizations(ma.GetAuthorizationsRequest()).auth == []
    bad = ma.AuthorizationRequest(user_id="all", type="agency", content="ma_agency_modelarts")
    with pytest.raises(ClientRequestException) as refused:  # not created yet
        main.create_authorization(ma.CreateAuthorizationRequest(body=bad))
    assert refused.value.status_code == 400 and "agency" in refused.value.error_msg
    main.create_model_arts_agency(ma.CreateModelArtsAgencyRequest(body=ma.ModelArtsAgencyRequest(agency_name_suffix="modelarts")))
    main.create_authorization(ma.CreateAuthorizationRequest(body=bad))
    listed = alice.get_authorizations(ma.GetAuthorizationsRequest()).auth
    assert [(a.user_id, a.type, a.content) for a in listed] == [("all", "agency", "ma_agency_modelarts")]


def test_the_project_id_is_looked_up_in_iam_or_its_absence_explained(server: Deployment, cloud, project: str):
    ak, sk = pair_of(server, cloud["keys"]["main"])
    built = (ModelArtsClient.new_builder().with_credentials(BasicCredentials(ak, sk).with_iam_endpoint(server.url))
             .with_region(Region(REGION, server.url)).build())  # fmt: skip
    assert built.list_workspace(ma.ListWorkspaceRequest()).total_count == 2  # after GET /v3/projects?name=cn-north-4
    with pytest.raises(ClientRequestException) as refused:
        client(server.url, ak, sk, None).list_workspace(ma.ListWorkspaceRequest())
    assert refused.value.status_code == 400 and "project id" in refused.value.error_msg


def test_iam_tokens_on_modelarts_paths_only_for_their_project(server: Deployment, cloud, project: str):
    token = token_for(server.url, "main", cloud["keys"]["main"]).x_subject_token
    ok = httpx.get(f"{server.url}/v1/{project}/workspaces", headers={"X-Auth-Token": token})
    assert ok.status_code == 200 and ok.json()["total_count"] == 2
    other = token_for(server.url, "main", cloud["keys"]["main"], project="cn-southwest-2").x_subject_token
    wrong = httpx.get(f"{server.url}/v1/{project}/workspaces", headers={"X-Auth-Token": other})
    assert wrong.status_code == 403 and wrong.json()["error_code"] == "APIGW.0302"
    end = "xyz" if token.endswith("abc") else "abc"  # a token ending in "abc" would stay right
    forged = httpx.get(f"{server.url}/v1/{project}/workspaces", headers={"X-Auth-Token": token[:-3] + end})
    assert forged.status_code in (401, 403) and token not in forged.text


@pytest.mark.parametrize("method, path, body, status", [
    ("POST", "/workspaces/0/auth", {"requests": [{"action": "rm -rf"}]}, 400),
    ("POST", "/workspaces/0/auth", {"requests": "x"}, 400),
    ("POST", "/workspaces/" + "f" * 32 + "/auth", {"requests": []}, 404),
    ("GET", "/workspaces/..%2F..%2Fetc", None, 404),
    ("GET", "/workspaces?sort_by=password", None, 400),
    ("POST", "/models", {"model_name": "m", "model_version": "01.0.0", "source_location": "obs://b/k", "model_type": "PyTorch"}, 400),
    ("POST", "/models", {"model_name": "m", "model_version": "1.0.0", "source_location": "obs://b/k", "model_type": "Evil"}, 400),
    ("POST", "/models", {"model_name": "m", "model_version": "1.0.0", "source_location": "file:///etc/passwd",
                         "model_type": "PyTorch"}, 400),
    ("GET", "/models/nope.1.0.0", None, 404),
    ("POST", "/authorizations", {"user_id": "all", "type": "credential", "content": "AK", "secret_key": "s"}, 400),
])  # fmt: skip
def test_caller_mistakes_are_4xx_in_modelarts_shape(server: Deployment, cloud, project: str, method: str, path: str,
                                                    body: object, status: int):  # fmt: skip
    token = token_for(server.url, "main", cloud["keys"]["main"]).x_subject_token
    base = f"/v2/{project}" if path.startswith("/authorizations") else f"/v1/{project}"
    answer = httpx.request(method, server.url + base + path, json=body, headers={"X-Auth-Token": token})
    assert answer.status_code == status and answer.json()["error_code"].startswith(("ModelArts.", "APIGW."))
    assert answer.headers["x-request-id"] and token not in answer.text


def test_openais_paths_under_v1_stay_openais(server: Deployment):
    answer = server.admin.get("/v1/models/workspaces")  # a model id that is also a ModelArts resource's name
    assert answer.status_code == 404 and "error" in answer.json() and "error_code" not in answer.json()


def test_a_workspace_created_with_grants_and_the_reserved_name(server: Deployment, cloud):
    main, bob = cloud["main"], cloud["bob"]
    made = main.create_workspace(ma.CreateWorkspaceRequest(body=ma.CreateWorkspaceReq(
        name="vision", description="cv", grants=[ma.CreateWorkspaceReqGrants(user_name="bob")])))  # fmt: skip
    assert len(made.id) == 32 and made.name == "vision" and [g.user_name for g in made.grants] == ["bob"]
    assert check(bob, made.id, "modelarts:model:create")[0].verdict == "allow"
    with pytest.raises(ClientRequestException) as refused:
        main.create_workspace(ma.CreateWorkspaceRequest(body=ma.CreateWorkspaceReq(name="default")))
    assert refused.value.status_code == 400 and "reserved" in refused.value.error_msg
    with pytest.raises(ClientRequestException) as refused:  # strict mode: a sub-account names no workspaces
        bob.create_workspace(ma.CreateWorkspaceRequest(body=ma.CreateWorkspaceReq(name="mine")))
    assert refused.value.status_code == 403
