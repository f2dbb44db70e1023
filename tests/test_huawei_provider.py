"""The `huawei` provider: the same scenarios as the official SDKs against the local facades (strict mode,
loose mode, the agency, IAM tokens reused per project), and the same requests on the wire as
`huaweicloudsdkmodelarts` for every operation both have (both aimed at one loopback recorder).

Wire equality compares method, path, query, body (parsed JSON) and headers, leaving out what differs by
nature: `X-Sdk-Date`, the client's identity (User-Agent), what the transport adds, and the signature itself
(it covers the date; its Access and SignedHeaders are compared)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import Deployment
from fixtures.wire_recorder import Captured, Recorder, Reply, Route, comparable
from huaweicloudsdkiam.v3 import model as iam
from huaweicloudsdkmodelarts.v1 import model as ma
from test_huawei_modelarts import client, pair_of, server  # noqa: F401  (a module's own server, team-b made)

import modeldeck as md
from modeldeck.errors import AccessDenied, InvalidApiKey, WorkspaceAccessDenied
from modeldeck.examples import onnx_linear
from modeldeck.profiles import Profile, ProfileFile
from modeldeck.providers import huawei

VARIABLES = ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN", "HUAWEICLOUD_SDK_PROJECT_ID",
             "HUAWEICLOUD_SDK_REGION", "HUAWEICLOUD_SDK_IAM_ENDPOINT", "HUAWEICLOUD_USER_NAME", "HUAWEICLOUD_PASSWORD",
             "HUAWEICLOUD_DOMAIN_NAME", "HUAWEICLOUD_MODELARTS_WORKSPACE_ID")  # fmt: skip
OBS = "obs://models/ckpt/model.pt"


@pytest.fixture(autouse=True)
def no_huawei_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def keys(server: Deployment) -> dict[str, str]:
    return {"main": server.admin_key, "alice": server.subaccount("alice"), "carol": server.subaccount("carol")}


def profile(url: str, name: str = "hw") -> str:
    """A `huawei` profile aimed at the local facades: ModelArts and IAM both answer at the server's root."""
    file = ProfileFile.load()
    file.profiles[name] = Profile(name, "huawei", url=url, endpoints={"iam": url})
    file.save()
    return name


def signing_as(monkeypatch: pytest.MonkeyPatch, server: Deployment, key: str) -> None:
    ak, sk = pair_of(server, key)
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", ak)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", sk)


def test_the_strict_mode_story_through_the_provider(server: Deployment, keys: dict[str, str],
                                                    monkeypatch: pytest.MonkeyPatch):  # fmt: skip
    name = profile(server.url)
    signing_as(monkeypatch, server, keys["main"])
    with md.connect(name) as main:
        assert main.provider == "huawei" and huawei.authorization_mode(main) == "strict"
        team_b = {w.name: w.id for w in main.workspaces()}["team-b"]

    signing_as(monkeypatch, server, keys["alice"])
    with md.connect(name) as alice:
        assert alice.workspaces() == []
        with pytest.raises(WorkspaceAccessDenied) as denied:
            alice.use(team_b)
        assert denied.value.code == "ModelArts.0105" and "add you" in denied.value.hint
    with md.connect(name, workspace=team_b) as alice:
        [why] = huawei.check(alice, "modelarts:model:create")
        assert (why["allowed"], why["missing"]) == (False, "workspace access") and "team-b" in why["hint"]

    server.admin.ok("PUT", "/api/v1/workspaces/team-b/members/alice", json={"role": "viewer"})
    with md.connect(name) as alice:
        assert alice.use("team-b").id == team_b
        listed, create = huawei.check(alice, "modelarts:model:list", "modelarts:model:create")
        assert listed["allowed"] and (create["allowed"], create["missing"]) == (False, "action permission")
        with pytest.raises(AccessDenied) as refused:
            alice.register("resnet", OBS, version="1.0.0")
        assert refused.value.code == "ModelArts.0104" and "role" in refused.value.hint

    server.admin.ok("PUT", "/api/v1/workspaces/team-b/members/alice", json={"role": "developer"})
    with md.connect(name, workspace=team_b) as alice:
        assert huawei.check(alice, "modelarts:model:create")[0]["allowed"]
        with pytest.raises(AccessDenied) as refused:  # ModelArts reads OBS through the agency, not delegated yet
            alice.register("resnet", OBS, version="1.0.0")
        assert refused.value.code == "ModelArts.0107" and "agency" in refused.value.hint
        assert huawei.agency(alice)["delegated"] is False
    signing_as(monkeypatch, server, keys["main"])
    with md.connect(name) as main:
        assert huawei.agency(main, delegate_to="all")["delegated"] is True
    signing_as(monkeypatch, server, keys["alice"])
    with md.connect(name, workspace=team_b) as alice:
        first = alice.register("resnet", OBS, version="1.0.0", framework="pytorch")
        second = alice.register("resnet", "obs://models/ckpt/model-2.pt")  # no version: the minor is bumped
        assert (first.version_name, second.version_name, first.uri) == ("1.0.0", "1.1.0", OBS)
        assert [m.model_name for m in alice.models()] == ["resnet"] and alice.model("resnet").model_type == "PyTorch"
        assert alice.model("resnet").actions == ["inference", "fine_tune", "deploy"]  # a developer's, in team-b
        assert [v.version_name for v in alice.versions("resnet")] == ["1.1.0", "1.0.0"]
        assert alice.version("resnet", "1.0.0").uri == OBS
    with md.connect(name) as alice:  # the default workspace ("0"): alice is no member there
        with pytest.raises(WorkspaceAccessDenied):
            list(alice.models())


def test_a_local_checkpoint_goes_to_obs_and_registers_by_its_uri(server: Deployment, keys: dict[str, str],
                                                                 monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # fmt: skip
    checkpoint = onnx_linear(tmp_path / "iris.onnx")
    name = profile(server.url, name="hw-obs")
    signing_as(monkeypatch, server, keys["main"])
    with md.connect(name) as main:
        with pytest.raises(md.errors.InvalidParameter) as refused:  # no bucket named: refused before a byte is sent
            main.register("iris-obs", checkpoint)
        assert refused.value.code == "Profile.Invalid" and "obs_bucket" in refused.value.hint
        bucket = server.admin.ok("GET", "/api/v1/workspaces")["items"][0]["id"]  # a bucket is a workspace
        huawei.agency(main, delegate_to="all")
    file = ProfileFile.load()
    file.profiles[name].obs_bucket = bucket
    file.profiles[name].endpoints["obs"] = server.url  # the OBS facade answers on the same server
    file.save()
    sent: list[int] = []
    with md.connect(name) as main:
        version = main.register("iris-obs", checkpoint, progress=sent.append)
        assert version.uri.startswith(f"obs://{bucket}/modeldeck/") and version.uri.endswith("/iris.onnx")
        assert main.version("iris-obs", version.version_name).uri == version.uri
    assert sum(sent) == checkpoint.stat().st_size, "progress covers the whole file"
    native = server.admin.ok("GET", f"/api/v1/models/iris-obs/versions/{version.version_name}",
                             headers={"X-ModelDeck-Workspace": bucket})  # fmt: skip
    assert native["uri"] == version.uri and native["runnable"] is True  # the bytes arrived and load as ONNX


def test_loose_mode_through_the_provider(server: Deployment, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    name = profile(server.url)
    signing_as(monkeypatch, server, keys["main"])
    with md.connect(name) as main:
        assert huawei.authorization_mode(main, "loose") == "loose"
    signing_as(monkeypatch, server, keys["carol"])
    try:
        with md.connect(name) as carol:
            assert {w.name for w in carol.workspaces()} == {"default", "team-b"}
            assert huawei.check(carol, "modelarts:service:create")[0]["allowed"]
    finally:
        signing_as(monkeypatch, server, keys["main"])
        with md.connect(name) as main:
            huawei.authorization_mode(main, "strict")


def test_iam_tokens_are_asked_for_once_and_reused(server: Deployment, keys: dict[str, str],
                                                  monkeypatch: pytest.MonkeyPatch):  # fmt: skip
    name = profile(server.url)
    monkeypatch.setenv("HUAWEICLOUD_USER_NAME", "main")
    monkeypatch.setenv("HUAWEICLOUD_PASSWORD", keys["main"])
    with md.connect(name) as deck:
        for _ in range(5):
            assert {w.name for w in deck.workspaces()} == {"default", "team-b"}
        assert deck._transport.client.auth.iam_round_trips == 1
    monkeypatch.setenv("HUAWEICLOUD_PASSWORD", "mdk-not-a-key")
    with pytest.raises(InvalidApiKey) as refused:
        md.connect(name)
    assert refused.value.code == "IAM.0001" and "HUAWEICLOUD_USER_NAME" in refused.value.hint
    assert "mdk-not-a-key" not in str(refused.value)


def test_no_credentials_says_which_variables(server: Deployment):
    with pytest.raises(InvalidApiKey) as refused:
        md.connect(profile(server.url))
    assert "HUAWEICLOUD_SDK_AK" in refused.value.hint


# ---- wire equality -------------------------------------------------------------------------------------

PROJECT, WS = "a" * 32, "b" * 32
AK, SK = "AKTESTHUAWEI", "secret-test"


def wire(req: Captured) -> dict:
    return comparable(req, {"x-sdk-date"}, lambda value: value.rsplit(", Signature=", 1)[0])


def reply(req: Captured) -> Reply:
    body: object = {"domain_id": "d", "mode": "strict"}
    if "/workspaces" in req.path and req.path.endswith("/auth"):
        body = {"results": [{"action": "modelarts:model:create", "verdict": "allow", "action_id": "0", "cause": []}]}
    elif req.path.endswith("/workspaces"):
        body = {"total_count": 1, "count": 1, "workspaces": [{"id": WS, "name": "team-b"}]}
    elif "/workspaces/" in req.path:
        body = {"id": WS, "name": "team-b", "grants": []}
    elif req.path.endswith("/authorizations") and req.method == "GET":
        body = {"total_count": 1, "auth": [{"user_id": "all", "type": "agency", "content": "ma_agency_modelarts"}]}
    elif "/v2/" in req.path:
        body = {}
    return Reply(200, {"Content-Type": "application/json"}, json.dumps(body).encode())


def test_modelarts_requests_equal_the_sdks(monkeypatch: pytest.MonkeyPatch):
    with Recorder([Route("*", r"/.*", handler=reply)]) as rec:
        sdk = client(rec.url, AK, SK, PROJECT)
        sdk.show_authmode_detail(ma.ShowAuthmodeDetailRequest())
        sdk.list_workspace(ma.ListWorkspaceRequest())
        sdk.show_workspace(ma.ShowWorkspaceRequest(workspace_id=WS))
        sdk.validate_authorization(ma.ValidateAuthorizationRequest(workspace_id=WS, body=ma.ValidateAuthorizationRequestBody(
            requests=[ma.AuthRequests(action_id="0", action="modelarts:model:create")])))  # fmt: skip
        sdk.update_auth_mode(ma.UpdateAuthModeRequest(body=ma.UpdateAuthModeRequestBody(mode="loose")))
        sdk.create_model_arts_agency(ma.CreateModelArtsAgencyRequest(body=ma.ModelArtsAgencyRequest(agency_name_suffix="modelarts")))
        sdk.create_authorization(ma.CreateAuthorizationRequest(body=ma.AuthorizationRequest(
            user_id="all", type="agency", content="ma_agency_modelarts")))  # fmt: skip
        sdk.get_authorizations(ma.GetAuthorizationsRequest())
        sdk.create_workspace(ma.CreateWorkspaceRequest(body=ma.CreateWorkspaceReq(name="vision", description="cv")))
        theirs = [wire(r) for r in rec.requests]
        rec.requests.clear()

        monkeypatch.setenv("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        monkeypatch.setenv("HUAWEICLOUD_SDK_AK", AK)
        monkeypatch.setenv("HUAWEICLOUD_SDK_SK", SK)
        with md.connect(profile(rec.url, "rec")) as deck:  # connecting is the auth-mode read (whoami)
            assert [w.id for w in deck.workspaces()] == [WS]
            assert deck.use(WS).name == "team-b"
            assert huawei.check(deck, "modelarts:model:create")[0]["allowed"]
            assert huawei.authorization_mode(deck, "loose")
            assert huawei.agency(deck, delegate_to="all")["delegated"]
            deck.create_workspace("vision", description="cv")
        ours = [wire(r) for r in rec.requests]
    assert [(o["method"], o["path"]) for o in ours] == [(t["method"], t["path"]) for t in theirs]
    for mine, sdk_request in zip(ours, theirs):
        assert mine == sdk_request
    assert len(ours) == 9 and ours[1]["headers"]["authorization"].startswith(f"SDK-HMAC-SHA256 Access={AK}, ")


def iam_reply(expires_in: float):  # type: ignore[no-untyped-def]
    """IAM answers: a token valid `expires_in` seconds from now, and one project."""

    def answer(req: Captured) -> Reply:
        if req.path == "/v3/auth/tokens":
            at = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(time.time() + expires_in))
            body = {"token": {"expires_at": at, "project": {"id": PROJECT, "name": "cn-north-4"}}}
            return Reply(201, {"Content-Type": "application/json", "X-Subject-Token": "MIItoken"}, json.dumps(body).encode())
        if req.path == "/v3/projects":
            return Reply(200, {"Content-Type": "application/json"}, json.dumps({"projects": [{"id": PROJECT}]}).encode())
        return reply(req)

    return answer


@pytest.mark.parametrize("expires_in, asked", [(7200, 1), (600, 3)])
def test_a_token_is_reused_until_shortly_before_it_expires(monkeypatch: pytest.MonkeyPatch, expires_in: float,
                                                          asked: int):  # fmt: skip
    monkeypatch.setenv("HUAWEICLOUD_USER_NAME", "alice")
    monkeypatch.setenv("HUAWEICLOUD_PASSWORD", "s3cret!")
    with Recorder([Route("*", r"/.*", handler=iam_reply(expires_in))]) as rec:
        with md.connect(profile(rec.url, "rec")) as deck:
            deck.workspaces()
            deck.workspaces()
        tokens = [r for r in rec.requests if r.path == "/v3/auth/tokens"]
        assert len(tokens) == asked  # connect's whoami and two listings: 15 minutes before expiry it is renewed
        assert all(r.header("X-Auth-Token") == "MIItoken" for r in rec.requests if r.path.startswith("/v1/"))
        assert rec.requests[-1].path == f"/v1/{PROJECT}/workspaces"  # the project from the token's scope


def test_iam_requests_equal_the_sdks(monkeypatch: pytest.MonkeyPatch):
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.region.region import Region
    from huaweicloudsdkiam.v3.iam_credentials import IamCredentials
    from huaweicloudsdkmodelarts.v1 import ModelArtsClient
    from test_huawei_iam import client as iam_client
    from test_huawei_iam import password_body

    lookup_ak = "AKLOOKUP" + str(time.time_ns())  # the SDK caches a looked-up project per AK and region
    with Recorder([Route("*", r"/.*", handler=iam_reply(7200))]) as rec:
        iam_client(rec.url, IamCredentials()).keystone_create_user_token_by_password(
            iam.KeystoneCreateUserTokenByPasswordRequest(body=password_body("alice", "s3cret!", domain="alice")))  # fmt: skip
        ModelArtsClient.new_builder().with_credentials(BasicCredentials(lookup_ak, SK).with_iam_endpoint(rec.url)) \
            .with_region(Region("cn-north-4", rec.url)).build().list_workspace(ma.ListWorkspaceRequest())  # fmt: skip
        theirs = [wire(r) for r in rec.requests]
        rec.requests.clear()

        monkeypatch.setenv("HUAWEICLOUD_USER_NAME", "alice")
        monkeypatch.setenv("HUAWEICLOUD_PASSWORD", "s3cret!")
        md.connect(profile(rec.url, "rec")).close()
        monkeypatch.delenv("HUAWEICLOUD_PASSWORD")
        monkeypatch.setenv("HUAWEICLOUD_SDK_AK", lookup_ak)
        monkeypatch.setenv("HUAWEICLOUD_SDK_SK", SK)
        with md.connect("rec") as deck:
            deck.workspaces()
        ours = [wire(r) for r in rec.requests if r.path != "/v1/auth-mode"]  # connect's whoami: no SDK call
    assert [(o["method"], o["path"]) for o in ours] == [("POST", "/v3/auth/tokens"), ("GET", "/v3/projects"),
                                                       ("GET", f"/v1/{PROJECT}/workspaces")]  # fmt: skip
    for mine, sdk_request in zip(ours, theirs):
        assert mine == sdk_request


def test_the_async_deck_takes_the_same_token_flow(monkeypatch: pytest.MonkeyPatch):
    import asyncio

    monkeypatch.setenv("HUAWEICLOUD_USER_NAME", "alice")
    monkeypatch.setenv("HUAWEICLOUD_PASSWORD", "s3cret!")

    async def listed(url: str) -> list[str]:
        async with md.AsyncDeck(profile(url, "rec")) as deck:
            return [w.id for w in await deck.workspaces()]

    with Recorder([Route("*", r"/.*", handler=iam_reply(7200))]) as rec:
        assert asyncio.run(listed(rec.url)) == [WS]
        assert [r.path for r in rec.requests] == ["/v3/auth/tokens", "/v1/auth-mode", f"/v1/{PROJECT}/workspaces"]


def test_a_token_refused_before_its_time_is_replaced_once(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HUAWEICLOUD_USER_NAME", "alice")
    monkeypatch.setenv("HUAWEICLOUD_PASSWORD", "s3cret!")
    refusals = iter([True, False, False])
    answer = iam_reply(7200)

    def revoking(req: Captured) -> Reply:
        if req.path.endswith("/workspaces") and next(refusals):
            return Reply(401, {"Content-Type": "application/json"}, b'{"error_code": "APIGW.0301", "error_msg": "no"}')
        return answer(req)

    with Recorder([Route("*", r"/.*", handler=revoking)]) as rec:
        with md.connect(profile(rec.url, "rec")) as deck:
            assert [w.id for w in deck.workspaces()] == [WS]
        assert [r.path for r in rec.requests].count("/v3/auth/tokens") == 2
