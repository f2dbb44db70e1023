"""The DashScope facade, driven by the official SDKs unmodified (`dashscope` 2.0.2, which carries the 1.x
calls and `dashscope.Client`; `openai` on the compatible mode), configured only through their documented
settings (`dashscope.base_http_api_url`, `api_key=`, `workspace=`, `base_url=`).

The story of the source documents: a main-account key needs no workspace; a RAM sub-account key without one
meets `Workspace.AccessDenied`; in a sub-workspace not yet authorized, `Model.AccessDenied`; an admin
authorizes it through the ModelStudio management API; then the call succeeds.
"""

from __future__ import annotations


import dashscope
import openai
import pytest
from conftest import Deployment, wait_for
from dashscope.client.base_api import BaseAsyncApi
from fixtures.wire_recorder import Recorder, Route

from modeldeck.errors import ModelAccessDenied
from modeldeck.platform.api.facades.dashscope import wire

MESSAGES = [{"role": "user", "content": "the cat sat on the mat"}]
TINY = {"max_tokens": 8, "temperature": 0}




@pytest.fixture
def cloud(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The SDK pointed at the facade; a sub-workspace `team-b` with its id as Model Studio writes it, and a
    RAM sub-account `alice` who is a developer there."""
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{deployment.url}/dashscope/api/v1")
    ws = deployment.admin.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    alice = deployment.subaccount("alice", {"team-b": "developer"})
    return {"main": deployment.admin_key, "sub": alice, "ws": "ws_" + ws["id"][3:]}


def expected_text(deployment: Deployment) -> str:
    """What the native chat answers for MESSAGES, greedily: every facade must say the same."""
    body = {"model": "tiny", "messages": MESSAGES, **TINY}
    return deployment.admin.ok("POST", "/v1/chat/completions", json=body)["choices"][0]["message"]["content"]


def call(key: str, workspace: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
    return dashscope.Generation.call(model="tiny", messages=MESSAGES, api_key=key, workspace=workspace,
                                     result_format="message", **TINY, **kwargs)  # fmt: skip


def grant_through_the_console(deployment: Deployment, ws: str) -> None:
    """Models > View Details > Authorize, as the native API does it (the ModelStudio SDK's own grant is
    tested in test_alibaba_modelstudio.py)."""
    deployment.admin.ok("PUT", "/api/v1/models/tiny/grants/team-b", json={"actions": ["inference"]})


def test_the_workspace_story_with_generation_call(deployment: Deployment, llm: str, cloud: dict[str, str]):
    answer = call(cloud["main"])
    assert answer.status_code == 200, answer
    choice = answer.output.choices[0]
    assert choice.message.content == expected_text(deployment) and choice.finish_reason in ("stop", "length")
    assert answer.usage.output_tokens > 0 and answer.request_id.startswith("req-")

    denied = call(cloud["sub"])
    assert (denied.status_code, denied.code) == (403, "Workspace.AccessDenied")
    assert "alice" in denied.message and denied.request_id

    unauthorized = call(cloud["sub"], workspace=cloud["ws"])
    assert (unauthorized.status_code, unauthorized.code) == (403, "Model.AccessDenied")
    assert "team-b" in unauthorized.message

    grant_through_the_console(deployment, cloud["ws"])
    granted = call(cloud["sub"], workspace=cloud["ws"])
    assert granted.status_code == 200 and granted.output.choices[0].message.content == choice.message.content
    by_name = call(cloud["sub"], workspace="team-b")  # the workspace's name works as well as its id
    assert by_name.status_code == 200


def test_the_legacy_prompt_and_text_format(deployment: Deployment, llm: str, cloud: dict[str, str]):
    answer = dashscope.Generation.call(model="tiny", prompt=MESSAGES[0]["content"], api_key=cloud["main"], **TINY)
    assert answer.status_code == 200 and answer.output.text == expected_text(deployment)
    assert answer.output.finish_reason in ("stop", "length") and not answer.output.choices


def test_streaming_in_dashscope_framing(deployment: Deployment, llm: str, cloud: dict[str, str]):
    expected = expected_text(deployment)
    deltas = list(call(cloud["main"], stream=True, incremental_output=True))
    assert all(d.status_code == 200 for d in deltas) and len(deltas) > 1
    reasons = [d.output.choices[0].finish_reason for d in deltas]
    assert set(reasons[:-1]) == {"null"} and reasons[-1] in ("stop", "length")
    assert "".join(d.output.choices[0].message.content for d in deltas) == expected
    assert deltas[-1].usage.output_tokens > 0

    # Without incremental_output the SDK sends none, and the server's default is the whole text so far.
    whole = list(dashscope.Generation.call(model="tiny", messages=MESSAGES, api_key=cloud["main"], stream=True,
                                           result_format="message", **TINY))  # fmt: skip
    texts = [d.output.choices[0].message.content for d in whole]
    assert texts[-1] == expected and all(expected.startswith(t) for t in texts)

    denied = list(call(cloud["sub"], workspace=cloud["ws"], stream=True, incremental_output=True))
    assert [(d.status_code, d.code) for d in denied] == [(403, "Model.AccessDenied")]


def test_errors_inside_a_stream_parse_as_the_sdk_expects():
    """An error after the first event travels as an `event:error`; both SDK generations read it."""
    error = ModelAccessDenied("Workspace 'team-b' is not authorized to use model 'tiny' for inference.")
    error.request_id = "req-1"
    first = {"output": wire.output("Hel", "null", "message"), "request_id": "req-1"}
    frames = [wire.event(1, first), wire.event(2, wire.error_body(error), 403)]
    headers = {"Content-Type": "text/event-stream;charset=UTF-8"}
    with Recorder([Route("POST", r"/api/v1/services/.*", headers=headers, chunks=frames)]) as rec:
        got = list(dashscope.Generation.call(model="tiny", messages=MESSAGES, api_key="sk-x", stream=True,
                                             base_address=f"{rec.url}/api/v1"))  # fmt: skip
        assert [(g.status_code, g.code) for g in got] == [(200, ""), (403, "Model.AccessDenied")]
        assert got[1].message == error.message and got[1].request_id == "req-1"
        client = dashscope.Client(api_key="sk-x", base_url=f"{rec.url}/api/v1", max_retries=0)
        with pytest.raises(dashscope.v2.errors.DashScopeError) as raised:
            list(client.chat.completions.create(model="tiny", messages=MESSAGES, stream=True))
        assert raised.value.code == "Model.AccessDenied"


def test_async_tasks_submitted_polled_and_canceled(deployment: Deployment, llm: str, cloud: dict[str, str]):
    """Generation has no async_call in either SDK generation; BaseAsyncApi is the public class that submits
    text generation with X-DashScope-Async and polls /tasks (docs/clouds/alibaba-sdks.md, 1.7)."""
    grant_through_the_console(deployment, cloud["ws"])
    submit = dict(model="tiny", input={"messages": MESSAGES}, task_group="aigc", task="text-generation",
                  function="generation", api_key=cloud["sub"], workspace=cloud["ws"], result_format="message", **TINY)  # fmt: skip
    task = BaseAsyncApi.async_call(**submit)
    assert task.status_code == 200 and task.output["task_status"] == "PENDING", task
    done = BaseAsyncApi.wait(task, api_key=cloud["sub"], workspace=cloud["ws"])
    assert done.output["task_status"] == "SUCCEEDED", done
    assert done.output["choices"][0]["message"]["content"] == expected_text(deployment)
    assert done.usage["output_tokens"] > 0

    # Another workspace's key and workspace do not see it.
    elsewhere = BaseAsyncApi.fetch(task, api_key=cloud["main"])
    assert (elsewhere.status_code, elsewhere.code) == (404, "Task.NotFound")

    # Both workers busy: the next task stays PENDING, and cancel ends it at once.
    deployment.platform.tasks.register("sleep", sleeper)
    busy = [deployment.admin.ok("POST", "/api/v1/tasks", json={"kind": "sleep", "model": "tiny", "input": {}})["id"]
            for _ in range(2)]  # fmt: skip
    for task_id in busy:
        wait_for(lambda task_id=task_id: deployment.admin.ok("GET", f"/api/v1/tasks/{task_id}")["status"] == "RUNNING")
    queued = BaseAsyncApi.async_call(**submit)
    canceled = BaseAsyncApi.cancel(queued, api_key=cloud["sub"], workspace=cloud["ws"])
    assert canceled.status_code == 200 and canceled.output["task_status"] == "CANCELED"
    assert BaseAsyncApi.fetch(queued, api_key=cloud["sub"], workspace=cloud["ws"]).output["task_status"] == "CANCELED"
    for task_id in busy:
        deployment.admin.ok("POST", f"/api/v1/tasks/{task_id}/cancel")

    refused = BaseAsyncApi.async_call(**{**submit, "api_key": cloud["sub"], "workspace": None})
    assert (refused.status_code, refused.code) == (403, "Workspace.AccessDenied")


def sleeper(platform, caller, request, progress, cancelled) -> dict:
    """A test-only job that runs until it is canceled: it keeps a worker busy."""
    while not cancelled.wait(0.02):
        pass
    return {}


def compatible(deployment: Deployment, key: str, workspace: str | None = None) -> openai.OpenAI:
    headers = {"X-DashScope-WorkSpace": workspace} if workspace else {}
    return openai.OpenAI(base_url=f"{deployment.url}/dashscope/compatible-mode/v1", api_key=key,
                         default_headers=headers, max_retries=0)  # fmt: skip


def test_the_compatible_mode_with_the_openai_sdk(deployment: Deployment, llm: str, cloud: dict[str, str]):
    expected = expected_text(deployment)
    answer = compatible(deployment, cloud["main"]).chat.completions.create(model="tiny", messages=MESSAGES, **TINY)
    assert answer.choices[0].message.content == expected
    with pytest.raises(openai.PermissionDeniedError) as denied:
        compatible(deployment, cloud["sub"]).chat.completions.create(model="tiny", messages=MESSAGES, **TINY)
    assert denied.value.code == "Workspace.AccessDenied" and denied.value.body["code"] == "Workspace.AccessDenied"
    sub = compatible(deployment, cloud["sub"], cloud["ws"])
    with pytest.raises(openai.PermissionDeniedError) as denied:
        sub.chat.completions.create(model="tiny", messages=MESSAGES, **TINY)
    assert denied.value.code == "Model.AccessDenied"
    assert [m.id for m in sub.models.list()] == []
    grant_through_the_console(deployment, cloud["ws"])
    assert [m.id for m in sub.models.list()] == ["tiny"]
    stream = sub.chat.completions.create(model="tiny", messages=MESSAGES, stream=True, **TINY)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == expected


def test_the_2x_client_in_both_protocols(deployment: Deployment, llm: str, cloud: dict[str, str]):
    expected = expected_text(deployment)
    native = dashscope.Client(api_key=cloud["sub"], base_url=f"{deployment.url}/dashscope/api/v1",
                              workspace=cloud["ws"], max_retries=0)  # fmt: skip
    with pytest.raises(dashscope.v2.errors.PermissionDeniedError) as denied:
        native.chat.completions.create(model="tiny", messages=MESSAGES, **TINY)
    assert denied.value.code == "Model.AccessDenied" and denied.value.status_code == 403
    grant_through_the_console(deployment, cloud["ws"])
    answer = native.chat.completions.create(model="tiny", messages=MESSAGES, **TINY)
    assert answer.choices[0].message.content == expected
    streamed = native.chat.completions.create(model="tiny", messages=MESSAGES, stream=True, **TINY)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == expected
    compat = dashscope.Client(api_key=cloud["sub"], base_url=f"{deployment.url}/dashscope/compatible-mode/v1",
                              workspace=cloud["ws"], protocol="openai", max_retries=0)  # fmt: skip
    assert compat.chat.completions.create(model="tiny", messages=MESSAGES, **TINY).choices[0].message.content == expected


def test_model_permissions_on_the_data_plane(deployment: Deployment, llm: str, cloud: dict[str, str]):
    """No SDK has this call (docs/clouds/alibaba-sdks.md, 1.1): plain HTTP, as the documentation shows it."""
    url = "/dashscope/api/v1/models/permissions"
    sub = deployment.client(cloud["sub"])
    headers = {"X-DashScope-WorkSpace": cloud["ws"]}
    authorized = sub.ok("GET", url, params={"authorization_scope": "AUTHORIZED"}, headers=headers)
    assert authorized["success"] is True and authorized["output"]["permissions"] == []
    authorizable = sub.ok("GET", url, headers=headers)["output"]
    assert authorizable["total"] == 0  # alice is not a member of the default workspace: she may not learn of tiny
    main = deployment.admin.ok("GET", url, headers=headers)["output"]
    assert main["permissions"] == [{"model": "tiny", "name": "tiny",
                                    "permissions": {"inference": False, "fine_tune": False, "deploy": False}}]  # fmt: skip
    grant_through_the_console(deployment, cloud["ws"])
    authorized = sub.ok("GET", url, params={"authorization_scope": "AUTHORIZED", "action": "INFERENCE"}, headers=headers)
    assert [(p["model"], p["permissions"]["inference"]) for p in authorized["output"]["permissions"]] == [("tiny", True)]
    assert sub.get(url, params={"authorization_scope": "EVERYTHING"}, headers=headers).status_code == 400
    assert sub.get(url).json()["code"] == "Workspace.AccessDenied"


def test_model_permissions_updated_on_the_data_plane(deployment: Deployment, llm: str, cloud: dict[str, str]):
    url = "/dashscope/api/v1/models/permissions"
    team_b = {"X-DashScope-WorkSpace": cloud["ws"]}
    grant = {"access_all_entities": "KEEP", "models": [{"model": "tiny", "inference": True}]}
    refused = deployment.client(cloud["sub"]).post(url, json=grant, headers=team_b)  # alice is no admin of default
    assert refused.status_code == 403 and refused.json()["code"] == "Workspace.AccessDenied"
    assert deployment.admin.ok("POST", url, json=grant, headers=team_b)["success"] is True
    assert call(cloud["sub"], workspace=cloud["ws"]).status_code == 200
    revoke = {"access_all_entities": "KEEP", "models": [{"model": "tiny", "inference": False}]}
    deployment.admin.ok("POST", url, json=revoke, headers=team_b)
    assert call(cloud["sub"], workspace=cloud["ws"]).code == "Model.AccessDenied"
    for bad in ({"models": []}, {"models": [{"model": "tiny", "inference": "yes"}]}, [1], {**grant, "access_all_entities": "OPEN"}):
        assert deployment.admin.post(url, json=bad, headers=team_b).status_code == 400
