"""The `alibaba` provider: the same scenarios as the official SDKs against the local facades, and the same
requests on the wire as those SDKs (both clients aimed at one loopback recorder).

Wire equality compares method, path, query (decoded), body (parsed JSON, or the form's pairs) and headers,
leaving out what differs by nature: date, nonce, the client's identity (user agent, the dashscope SDK's
`x-dashscope-sdk-client` and session id), what the transport adds (host, connection, encodings, length),
and the signature itself (it covers the date and nonce; its Credential and SignedHeaders are compared).
"""

from __future__ import annotations

import json
from pathlib import Path

import dashscope
import pytest
from alibabacloud_modelstudio20260210 import models as ms
from conftest import Deployment
from dashscope.client.base_api import BaseAsyncApi
from fixtures.wire_recorder import Captured, Recorder, Route, comparable
from test_alibaba_dashscope import MESSAGES, TINY, cloud, expected_text  # noqa: F401  (fixtures)
from test_alibaba_modelstudio import management

import modeldeck as md
from modeldeck.errors import InvalidParameter, ModelAccessDenied, Unsupported, WorkspaceAccessDenied
from modeldeck.profiles import Profile, ProfileFile
from modeldeck.providers.alibaba import endpoints

ALIBABA_VARIABLES = ("DASHSCOPE_API_KEY", "DASHSCOPE_WORKSPACE", "DASHSCOPE_WORKSPACE_ID", "DASHSCOPE_HTTP_BASE_URL",
                     "DASHSCOPE_BASE_URL", "DASHSCOPE_API_REGION", "DASHSCOPE_REGION", "ALIBABA_CLOUD_REGION_ID",
                     "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN")  # fmt: skip


@pytest.fixture(autouse=True)
def no_alibaba_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALIBABA_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def profile(url: str, name: str = "ali") -> str:
    """An `alibaba` profile aimed at a server's local facades: DashScope under /dashscope, management at the root."""
    file = ProfileFile.load()
    file.profiles[name] = Profile(name, "alibaba", url=f"{url}/dashscope", endpoints={"modelstudio": url})
    file.save()
    return name


def test_the_workspace_story_through_the_provider(deployment: Deployment, llm: str, cloud: dict[str, str],
                                                  monkeypatch: pytest.MonkeyPatch):  # fmt: skip
    name = profile(deployment.url)
    expected = expected_text(deployment)
    with md.connect(name, api_key=cloud["main"]) as main:  # a main-account key needs no workspace
        assert main.provider == "alibaba" and main.chat("tiny", MESSAGES, **TINY).text == expected

    monkeypatch.setenv("DASHSCOPE_API_KEY", cloud["sub"])  # the cloud's own variable
    with md.connect(name) as alice:
        with pytest.raises(WorkspaceAccessDenied) as denied:
            alice.chat("tiny", MESSAGES, **TINY)
        assert "DASHSCOPE_WORKSPACE" in denied.value.hint
    monkeypatch.setenv("DASHSCOPE_WORKSPACE", cloud["ws"])
    with md.connect(name) as alice:
        with pytest.raises(ModelAccessDenied) as denied:
            alice.chat("tiny", MESSAGES, **TINY)
        assert "Models > View Details > Authorize" in denied.value.hint
        assert list(alice.models()) == []

    pair = deployment.admin.ok("POST", "/api/v1/access-keys", json={"description": "console"})
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", pair["id"])
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", pair["secret"])
    monkeypatch.setenv("DASHSCOPE_API_KEY", cloud["main"])
    monkeypatch.delenv("DASHSCOPE_WORKSPACE")
    with md.connect(name) as admin:
        listed = {w.name: w.id for w in admin.workspaces()}
        assert listed == {"default": listed["default"], "team-b": cloud["ws"]}
        grant = admin.authorize("tiny", cloud["ws"], actions=["inference"])
        assert grant.actions == ["inference"]
        assert [(g.workspace, g.actions) for g in admin.grants("tiny")] == [("team-b", ["inference"])]

    monkeypatch.setenv("DASHSCOPE_API_KEY", cloud["sub"])
    monkeypatch.setenv("DASHSCOPE_WORKSPACE", cloud["ws"])
    with md.connect(name) as alice:
        assert alice.chat("tiny", MESSAGES, **TINY).text == expected
        assert [m.model_name for m in alice.models()] == ["tiny"] and alice.model("tiny").actions == ["inference"]
        streamed = list(alice.chat("tiny", MESSAGES, stream=True, **TINY))
        assert "".join(c.text for c in streamed) == expected and streamed[-1].finish_reason in ("stop", "length")
        task = alice.chat("tiny", MESSAGES, wait=False, **TINY)
        assert task.result(timeout=60).text == expected
        compatible = alice.openai_client()  # the official openai SDK on the compatible mode, as this workspace
        assert compatible.chat.completions.create(model="tiny", messages=MESSAGES, **TINY).choices[0].message.content == expected
        with pytest.raises(Unsupported):
            list(alice.tasks())
        with pytest.raises(Unsupported):  # Model Studio has no workspace members API (PAI's versions are supported)
            alice.members(cloud["ws"])


def test_switching_by_name_asks_the_management_api(deployment: Deployment, llm: str, cloud: dict[str, str],
                                                   monkeypatch: pytest.MonkeyPatch):  # fmt: skip
    pair = deployment.admin.ok("POST", "/api/v1/access-keys", json={})
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", pair["id"])
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", pair["secret"])
    monkeypatch.setenv("DASHSCOPE_API_KEY", cloud["main"])
    with md.connect(profile(deployment.url)) as deck:
        assert deck.use("team-b").id == cloud["ws"]
        with pytest.raises(ModelAccessDenied):  # the main account in team-b: tiny is not authorized there
            deck.chat("tiny", MESSAGES, **TINY)
        with pytest.raises(InvalidParameter):
            deck.use("nowhere")


def test_management_without_an_access_key_says_which_variables(deployment: Deployment, cloud: dict[str, str]):
    with md.connect(profile(deployment.url), api_key=cloud["main"]) as deck:
        with pytest.raises(md.errors.InvalidApiKey) as refused:
            deck.workspaces()
        assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in refused.value.hint


# ---- wire equality -------------------------------------------------------------------------------------

SKIPPED = {"x-dashscope-sdk-client", "x-dashscope-sdk-session-id", "x-acs-date", "x-acs-signature-nonce"}


def wire(req: Captured) -> dict:
    """What must be equal between two clients' requests (an ACS3 signature up to its date-bound part)."""
    return comparable(req, SKIPPED, lambda value: value.rsplit(",Signature=", 1)[0] if value.startswith("ACS3") else value)


GENERATED = {"output": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}]},
             "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}, "request_id": "r1"}  # fmt: skip
STREAM = [b'id:1\nevent:result\n:HTTP_STATUS/200\ndata:' + json.dumps(GENERATED).encode() + b"\n\n"]
TASK = {"output": {"task_id": "t-1", "task_status": "PENDING"}, "request_id": "r1"}
DONE = {"output": {"task_id": "t-1", "task_status": "SUCCEEDED", **GENERATED["output"]}, "usage": GENERATED["usage"]}
OK = {"requestId": "r1", "success": True, "workspaces": [{"workspaceId": "ws_1", "workspaceName": "team-b"}],
      "list": [{"model": "qwen-plus", "permissions": {"inference": True}}]}  # fmt: skip


def generation_reply(req: Captured):  # type: ignore[no-untyped-def]
    from fixtures.wire_recorder import Reply

    if req.header("X-DashScope-SSE"):
        return Reply(200, {"Content-Type": "text/event-stream;charset=UTF-8"}, chunks=STREAM)
    body = TASK if req.header("X-DashScope-Async") else GENERATED
    return Reply(200, {"Content-Type": "application/json"}, json.dumps(body).encode())


ROUTES = [Route("POST", r"/api/v1/services/aigc/text-generation/generation", handler=generation_reply),
          Route("GET", r"/api/v1/tasks/.*", json_body=DONE), Route("POST", r"/api/v1/tasks/.*/cancel", json_body=TASK),
          Route("*", r"/modelstudio/.*", json_body=OK),
          Route("GET", r"(/dashscope)?/api/v1/models/permissions", json_body={"output": {"permissions": []}})]  # fmt: skip
CONNECT = "models/permissions"  # the provider's connect-time check, which the SDKs have no call for


def captured(rec: Recorder) -> list[dict]:
    return [wire(r) for r in rec.requests if not r.path.endswith(CONNECT) or r.header("x-acs-action")]


def test_dashscope_requests_equal_the_sdks(monkeypatch: pytest.MonkeyPatch):
    with Recorder(ROUTES) as rec:
        base = f"{rec.url}/api/v1"
        dashscope.Generation.call(model="qwen-plus", messages=MESSAGES, api_key="sk-test", workspace="ws_abc",
                                  result_format="message", base_address=base, **TINY)  # fmt: skip
        list(dashscope.Generation.call(model="qwen-plus", messages=MESSAGES, api_key="sk-test", workspace="ws_abc",
                                       result_format="message", stream=True, incremental_output=True,
                                       base_address=base, **TINY))  # fmt: skip
        BaseAsyncApi.async_call(model="qwen-plus", input={"messages": MESSAGES}, task_group="aigc",
                                task="text-generation", function="generation", api_key="sk-test", workspace="ws_abc",
                                result_format="message", base_address=base, **TINY)  # fmt: skip
        BaseAsyncApi.fetch("t-1", api_key="sk-test", workspace="ws_abc", base_address=base)
        BaseAsyncApi.cancel("t-1", api_key="sk-test", workspace="ws_abc", base_address=base)
        theirs = [wire(r) for r in rec.requests]
        rec.requests.clear()

        file = ProfileFile.load()
        file.profiles["rec"] = Profile("rec", "alibaba", url=rec.url)
        file.save()
        with md.connect("rec", api_key="sk-test", workspace="ws_abc") as deck:
            assert deck.chat("qwen-plus", MESSAGES, **TINY).text == "hi"
            assert [c.text for c in deck.chat("qwen-plus", MESSAGES, stream=True, **TINY)] == ["hi"]
            task = deck.chat("qwen-plus", MESSAGES, wait=False, **TINY)
            assert task.id == "t-1" and deck.task("t-1").record.status == "SUCCEEDED"
            deck.cancel_task("t-1")
        ours = captured(rec)
    assert len(ours) == len(theirs) == 5
    for mine, sdk in zip(ours, theirs):
        assert mine == sdk


def test_management_requests_equal_the_sdks():
    with Recorder(ROUTES) as rec:
        client = management(rec.url, "AKTEST", "SECRETTEST")
        client.list_workspaces(ms.ListWorkspacesRequest(max_results=100))
        client.list_model_permissions(ms.ListModelPermissionsRequest(
            workspace_id="ws_1", authorization_scope="AUTHORIZED", model_action="INFERENCE", max_results=100,
            filter=ms.ListModelPermissionsRequestFilter(model="qwen-plus")))  # fmt: skip
        client.update_model_permissions(ms.UpdateModelPermissionsRequest(
            workspace_id="ws_1", access_all_entities="KEEP",
            models=[ms.UpdateModelPermissionsRequestModels(model="qwen-plus", inference=True, fine_tune=False, deploy=False)]))  # fmt: skip
        theirs = [wire(r) for r in rec.requests]
        rec.requests.clear()

        file = ProfileFile.load()
        file.profiles["rec"] = Profile("rec", "alibaba", url=f"{rec.url}/dashscope", endpoints={"modelstudio": rec.url},
                                       access_key_id="AKTEST", access_key_secret="SECRETTEST", api_key="sk-test")  # fmt: skip
        file.save()
        with md.connect("rec", workspace="ws_1") as deck:
            assert [w.id for w in deck.workspaces()] == ["ws_1"]
            deck.authorize("qwen-plus", "ws_1", actions=["inference"])
            ours = captured(rec)
            rec.requests.clear()
            assert [g.workspace for g in deck.grants("qwen-plus")] == ["team-b"]
            ours.insert(1, captured(rec)[1])  # grants: ListWorkspaces, then ListModelPermissions per workspace
    assert [o["headers"].get("x-acs-action") for o in ours] == ["ListWorkspaces", "ListModelPermissions", "UpdateModelPermissions"]
    assert [o["path"] for o in ours] == ["/modelstudio/workspaces", "/modelstudio/models/permissions", "/modelstudio/models/permissions"]
    for mine, sdk in zip(ours, theirs):
        assert mine == sdk


def test_endpoints_per_region_and_from_the_sdks_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from modeldeck.profiles import resolve

    file = ProfileFile.load()
    file.profiles["intl"] = Profile("intl", "alibaba", region="ap-southeast-1", api_key="sk-x")
    file.profiles["env"] = Profile("env", "alibaba", api_key="sk-x")
    file.save()
    settings = resolve("intl")[1]
    assert settings.url == "https://dashscope-intl.aliyuncs.com"
    assert settings.services == {"modelstudio": "https://modelstudio.ap-southeast-1.aliyuncs.com",
                                 "pai": "https://aiworkspace.ap-southeast-1.aliyuncs.com",
                                 "eas": "https://pai-eas.ap-southeast-1.aliyuncs.com",
                                 "oss": "https://oss-ap-southeast-1.aliyuncs.com",
                                 "sts": "https://sts.ap-southeast-1.aliyuncs.com"}  # fmt: skip
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", "http://127.0.0.1:9/dashscope/api/v1")
    monkeypatch.setenv("DASHSCOPE_WORKSPACE_ID", "ws_abc")
    settings = resolve("env")[1]
    assert (settings.url, settings.workspace) == ("http://127.0.0.1:9/dashscope", "ws_abc")
    assert endpoints.maas_url("ws_abc", "us-east-1") == "https://ws_abc.us-east-1.maas.aliyuncs.com"
    with pytest.raises(InvalidParameter):
        endpoints.maas_url("ws abc.evil", "us-east-1")
    monkeypatch.setenv("DASHSCOPE_API_REGION", "mars-1")
    with pytest.raises(InvalidParameter) as refused:
        resolve("env")
    assert "cn-beijing" in refused.value.hint


def test_throttling_is_retried_after_retry_after_then_typed_with_its_hint():
    from fixtures.wire_recorder import Reply

    answers = iter([429, 200, 429, 429, 429, 429])

    def throttled(req: Captured) -> Reply:
        status = next(answers)
        body = GENERATED if status == 200 else {"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded.",
                                                "request_id": "r2"}  # fmt: skip
        return Reply(status, {"Content-Type": "application/json", "Retry-After": "0"}, json.dumps(body).encode())

    with Recorder([Route("POST", r"/api/v1/services/.*", handler=throttled), *ROUTES[-1:]]) as rec:
        file = ProfileFile.load()
        file.profiles["rec"] = Profile("rec", "alibaba", url=rec.url)
        file.save()
        with md.connect("rec", api_key="sk-test") as deck:
            assert deck.chat("qwen-plus", MESSAGES, **TINY).text == "hi"  # one 429, retried
            with pytest.raises(md.errors.Throttling) as raised:
                deck.chat("qwen-plus", MESSAGES, **TINY)
        assert raised.value.code == "Throttling.RateQuota" and "Retry-After" in raised.value.hint
        assert raised.value.request_id == "r2"
