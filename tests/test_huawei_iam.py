"""The IAM facade, driven by the unmodified `huaweicloudsdkiam` 3.1.219 (and the core's project-id lookup)
against a real platform server, configured only through documented settings (`with_endpoints`,
`with_iam_endpoint`); AK/SK signatures verified by the platform's SDK-HMAC-SHA256 backend."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import Deployment, deploy
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkiam.v3.iam_client import IamClient
from huaweicloudsdkiam.v3.iam_credentials import IamCredentials
from huaweicloudsdkiam.v3 import model as iam

from modeldeck.platform import Settings
from modeldeck.providers.huawei.auth import SdkHmacAuth

REGION = "cn-north-4"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    dep = deploy(Settings(home=Path(tmp_path_factory.mktemp("huawei-iam")) / "home"))
    yield dep
    dep.close()


@pytest.fixture(scope="module")
def alice(server: Deployment) -> str:
    return server.subaccount("alice")


@pytest.fixture(scope="module")
def pair(server: Deployment) -> dict[str, str]:
    return server.admin.ok("POST", "/api/v1/access-keys", json={"description": "huawei"})


def client(url: str, credentials: object) -> IamClient:
    return IamClient.new_builder().with_credentials(credentials).with_endpoints([url]).build()


def password_body(user: str, password: str, domain: str = "main", project: str = REGION):
    user_ = iam.PwdPasswordUser(domain=iam.PwdPasswordUserDomain(name=domain), name=user, password=password)
    identity = iam.PwdIdentity(methods=["password"], password=iam.PwdPassword(user=user_))
    scope = iam.AuthScope(project=iam.AuthScopeProject(name=project))
    return iam.KeystoneCreateUserTokenByPasswordRequestBody(auth=iam.PwdAuth(identity=identity, scope=scope))


def token_for(url: str, user: str, password: str, **kw: str) -> iam.KeystoneCreateUserTokenByPasswordResponse:
    request = iam.KeystoneCreateUserTokenByPasswordRequest(nocatalog="true", body=password_body(user, password, **kw))
    return client(url, IamCredentials()).keystone_create_user_token_by_password(request)


def test_a_password_token_for_a_sub_account_and_its_project(server: Deployment, alice: str):
    answer = token_for(server.url, "alice", alice)
    assert answer.status_code == 201 and answer.x_subject_token
    token = answer.token
    assert token.user.name == "alice" and token.project.name == REGION and len(token.project.id) == 32
    assert token.expires_at.endswith("Z") and token.methods == ["password"]
    again = token_for(server.url, "alice", alice)  # stable project ids, a fresh token each time
    assert again.token.project.id == token.project.id and again.x_subject_token != answer.x_subject_token

    listed = client(server.url, IamCredentials(answer.x_subject_token)).keystone_list_projects(
        iam.KeystoneListProjectsRequest(name=REGION))  # fmt: skip
    assert [p.id for p in listed.projects] == [token.project.id]


@pytest.mark.parametrize("user, password, domain", [("alice", "mdk-wrong", "main"), ("bob", None, "main"),
                                                    ("alice", None, "other-domain")])  # fmt: skip
def test_wrong_credentials_are_refused_in_iams_shape(server: Deployment, alice: str, user: str, password: str | None,
                                                     domain: str):  # fmt: skip
    with pytest.raises(ClientRequestException) as refused:
        token_for(server.url, user, password or alice, domain=domain)
    assert refused.value.status_code == 401 and refused.value.error_code == "IAM.0001"
    assert refused.value.request_id.startswith("req-") and alice not in refused.value.error_msg


def test_a_signed_token_request_and_the_signed_project_lookup(server: Deployment, pair: dict[str, str]):
    signed = GlobalCredentials(pair["id"], pair["secret"], "d" * 32)
    listed = client(server.url, signed).keystone_list_projects(iam.KeystoneListProjectsRequest(name=REGION))
    assert len(listed.projects) == 1 and listed.projects[0].name == REGION
    token = client(server.url, signed).keystone_create_user_token_by_password(
        iam.KeystoneCreateUserTokenByPasswordRequest(body=password_body("main", server.admin_key)))  # fmt: skip
    assert token.token.project.id == listed.projects[0].id



def test_bad_signatures_and_skewed_clocks_are_apigw_0301(server: Deployment, pair: dict[str, str]):
    with pytest.raises(ClientRequestException) as refused:
        client(server.url, GlobalCredentials(pair["id"], "not-the-secret", "d" * 32)).keystone_list_projects(
            iam.KeystoneListProjectsRequest())  # fmt: skip
    assert (refused.value.status_code, refused.value.error_code) == (401, "APIGW.0301")
    assert "signature does not match" in refused.value.error_msg

    class Skewed(SdkHmacAuth):
        def auth_flow(self, request):  # type: ignore[no-untyped-def]
            self.sign(request, now=time.time() - 3600)
            yield request

    answer = httpx.get(f"{server.url}/v3/projects", auth=Skewed(pair["id"], pair["secret"]))
    assert answer.status_code == 401 and answer.json()["error_code"] == "APIGW.0301"
    assert "15 minutes" in answer.json()["error_msg"] and answer.headers["x-request-id"]
    fine = httpx.get(f"{server.url}/v3/projects", params={"name": REGION}, auth=SdkHmacAuth(pair["id"], pair["secret"]))
    assert fine.status_code == 200 and fine.json()["projects"][0]["name"] == REGION


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"auth": 1}', b'{"auth": {"identity": []}}',
                                  b'{"auth": {"identity": {"methods": "password"}}}',
                                  b'{"auth": {"identity": {"methods": ["password"], "password": {"user": "x"}}}}',
                                  b'{"auth": {"identity": {"methods": ["password"], "password": {"user": '
                                  b'{"name": "alice", "password": 1}}}}}',
                                  b'{"auth": {"identity": {"methods": ["token"]}}}'])  # fmt: skip
def test_malformed_token_requests_are_400_in_iams_shape(server: Deployment, body: bytes):
    answer = httpx.post(f"{server.url}/v3/auth/tokens", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error_code"] == "IAM.0002"


@pytest.mark.parametrize("scope", [{"project": "x"}, {"project": {"name": "mars-1"}}, {"project": {"id": "0" * 32}},
                                   {"project": {"name": ["cn-north-4"]}}, []])  # fmt: skip
def test_a_scope_that_is_not_one_of_the_accounts_projects_is_refused(server: Deployment, alice: str, scope: object):
    user = {"name": "alice", "password": alice, "domain": {"name": "main"}}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}, "scope": scope}}
    answer = httpx.post(f"{server.url}/v3/auth/tokens", json=body)
    assert answer.status_code == 400 and "scope" in answer.json()["error_msg"] and alice not in answer.text
