"""The Pangu facade over the platform's deployments, driven by the unmodified `huaweicloudsdkpangulargemodels`
3.1.219 (chat v1 and v2, AK/SK-signed, configured only with `BasicCredentials` and `with_endpoints`), by raw
httpx with an IAM token as the docs describe (streaming: the SDK does not parse streams), and by the
`huawei` provider; the provider's requests equal the SDK's on the wire.

A tiny real language model is registered twice (1.0.0, 1.0.1) and deployed; every chat answer must be the
native chat's for the version the deployment serves, and every text completion transformers' own greedy
continuation of the prompt.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import Deployment, deploy, wait_for
from fixtures.wire_recorder import Captured, Recorder, Reply, Route, comparable
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkpangulargemodels import v1 as pangu_v1
from huaweicloudsdkpangulargemodels import v2 as pangu_v2

import modeldeck as md
from modeldeck import examples
from modeldeck.platform import Settings
from modeldeck.profiles import Profile, ProfileFile
from modeldeck.providers import huawei

MESSAGES = [{"role": "user", "content": "the cat sat on the mat"}]
PROMPT = MESSAGES[0]["content"]  # a text completion's prompt: the same words, continued instead of answered
TINY = {"max_tokens": 8, "temperature": 0}
REGION = "cn-north-4"
HUAWEI_VARIABLES = ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_PROJECT_ID", "HUAWEICLOUD_SDK_REGION",
                    "HUAWEICLOUD_SDK_IAM_ENDPOINT", "HUAWEICLOUD_SDK_SECURITY_TOKEN")  # fmt: skip


@pytest.fixture(autouse=True)
def no_huawei_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in HUAWEI_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def platform_with_tiny(root: Path) -> dict:
    """A platform with `tiny` 1.0.0 and 1.0.1 registered, an AccessKey pair, and an IAM token with its project."""
    server = deploy(Settings(home=root / "home"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELDECK_CONFIG", str(root / "profiles.toml"))
        mp.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        with md.connect(url=server.url, api_key=server.admin_key) as deck:
            for seed, version in ((3, "1.0.0"), (4, "1.0.1")):
                folder = examples.tiny_causal_lm(root / f"lm-{seed}", seed=seed)
                deck.register("tiny", folder, version=version, format="SafeTensors", framework="Transformers", progress=False)
    pair = server.admin.ok("POST", "/api/v1/access-keys", json={"description": "huawei"})
    main = server.admin.ok("GET", "/api/v1/whoami")["account"]["name"]
    user = {"name": main, "password": server.admin_key, "domain": {"name": main}}
    asked = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}, "scope": {"project": {"name": REGION}}}}
    issued = httpx.post(f"{server.url}/v3/auth/tokens", json=asked)
    assert issued.status_code == 201, issued.text
    return {"server": server, "ak": pair["id"], "sk": pair["secret"], "token": issued.headers["X-Subject-Token"],
            "project": issued.json()["token"]["project"]["id"]}  # fmt: skip


def native_text(server: Deployment, version: str) -> str:
    """What the native chat answers for MESSAGES from that version, greedily: every path must say the same."""
    body = {"model": f"tiny:{version}", "messages": MESSAGES, **TINY}
    return server.admin.ok("POST", "/v1/chat/completions", json=body)["choices"][0]["message"]["content"]


def serving(server: Deployment, name: str) -> None:
    """Until the deployment runs: each request waits at most 20 s server-side (within the client's 60 s
    timeout, which a loaded machine's first start of a language model can outlast), the whole a generous bound."""

    def running() -> bool:
        shown = server.admin.ok("GET", f"/api/v1/deployments/{name}", params={"wait": 20})
        assert shown["status"] != "Failed", shown
        return shown["status"] == "Running"

    wait_for(running, timeout=600, interval=0)


def continued(folder: Path, prompt: str) -> str:
    """What transformers' greedy `generate` writes on from the prompt's own tokens (no chat template, no turn):
    a text completion's answer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, use_safetensors=True).eval()
    ids = tokenizer(prompt, return_tensors="pt")
    new = model.generate(**ids, max_new_tokens=TINY["max_tokens"], do_sample=False)[0, ids["input_ids"].shape[1]:]
    return tokenizer.decode(new.tolist(), skip_special_tokens=True)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("pangu")
    found = platform_with_tiny(root)
    server = found["server"]
    try:
        dep = server.admin.ok("POST", "/api/v1/deployments", json={"name": "tiny", "model": "tiny", "version": "1.0.0"})
        serving(server, dep["name"])
        yield {**found, "deployment": dep["id"], "expected": native_text(server, "1.0.0"),
               "continued": continued(root / "lm-3", PROMPT)}  # fmt: skip
    finally:
        server.close()


def sdk(module, cloud: dict, url: str | None = None):  # type: ignore[no-untyped-def]
    credentials = BasicCredentials(cloud["ak"], cloud["sk"], cloud["project"])
    return module.PanguLargeModelsClient.new_builder().with_credentials(credentials).with_endpoints([url or cloud["server"].url]).build()


def chat_req(module, **kw):  # type: ignore[no-untyped-def]
    return module.ChatCompletionReq(messages=[module.Message(**m) for m in MESSAGES], **{**TINY, **kw})


def token_headers(cloud: dict) -> dict[str, str]:
    return {"X-Auth-Token": cloud["token"], "Content-Type": "application/json"}


# ---- the official SDK --------------------------------------------------------------------------------


def test_sdk_chat_v1_and_v2(cloud: dict):
    v1 = sdk(pangu_v1, cloud).execute_chat_completion(
        pangu_v1.ExecuteChatCompletionRequest(deployment_id=cloud["deployment"], body=chat_req(pangu_v1)))  # fmt: skip
    assert v1.status_code == 200 and v1.choices[0].message.content == cloud["expected"]
    assert v1.usage.total_tokens == v1.usage.prompt_tokens + v1.usage.completion_tokens > 0
    v2 = sdk(pangu_v2, cloud).execute_chat_completion(pangu_v2.ExecuteChatCompletionRequest(
        pool_id="pool-1", deployment_id=cloud["deployment"], body=chat_req(pangu_v2)))  # fmt: skip
    assert v2.choices[0].message.content == cloud["expected"]


def test_sdk_streaming_leaves_the_event_stream_unparsed(cloud: dict):
    answer = sdk(pangu_v1, cloud).execute_chat_completion(
        pangu_v1.ExecuteChatCompletionRequest(deployment_id=cloud["deployment"], body=chat_req(pangu_v1, stream=True)))  # fmt: skip
    assert answer.choices is None  # the SDK has no stream parser: the events are in raw_content
    events = [line for line in answer.raw_content.decode().split("\n") if line]
    assert events[-1] == "data: [DONE]"
    assert "".join(_delta(e) for e in events[:-1]) == cloud["expected"]


def _delta(event: str) -> str:
    choices = json.loads(event[len("data: "):])["choices"]
    return choices[0]["delta"].get("content", "") if choices else ""


@pytest.mark.parametrize("body, status, code", [
    ({"messages": MESSAGES, "temperature": 3}, 400, "PanGu.0101"),
    ({"messages": []}, 400, "PanGu.0101"),
])  # fmt: skip
def test_sdk_errors_in_huaweis_shape(cloud: dict, body: dict, status: int, code: str):
    with httpx.Client() as raw:  # the SDK's models check nothing: a bad body reaches the facade
        refused = raw.post(f"{cloud['server'].url}/v1/{cloud['project']}/deployments/{cloud['deployment']}/chat/completions",
                           json=body, headers=token_headers(cloud))  # fmt: skip
    assert (refused.status_code, refused.json()["error_code"]) == (status, code) and refused.headers["x-request-id"]
    with pytest.raises(ClientRequestException) as missing:
        sdk(pangu_v1, cloud).execute_chat_completion(
            pangu_v1.ExecuteChatCompletionRequest(deployment_id="dep-000000000000", body=chat_req(pangu_v1)))  # fmt: skip
    assert missing.value.status_code == 404 and missing.value.error_code == "PanGu.0102"
    assert "deck.deployments()" in missing.value.error_msg and missing.value.request_id.startswith("req-")
    wrong = dict(cloud, project="0" * 32)
    with pytest.raises(ClientRequestException) as foreign:
        sdk(pangu_v1, wrong).execute_chat_completion(
            pangu_v1.ExecuteChatCompletionRequest(deployment_id=cloud["deployment"], body=chat_req(pangu_v1)))  # fmt: skip
    assert foreign.value.status_code == 404 and "project" in foreign.value.error_msg


def test_sdk_text_completion_v1_v2_and_its_stream(cloud: dict):
    body = pangu_v1.TextCompletionReq(prompt=PROMPT, **TINY)
    v1 = sdk(pangu_v1, cloud).execute_text_completion(
        pangu_v1.ExecuteTextCompletionRequest(deployment_id=cloud["deployment"], body=body))  # fmt: skip
    assert v1.status_code == 200 and v1.choices[0].text == cloud["continued"] and v1.choices[0].index == 0
    assert v1.usage.total_tokens == v1.usage.prompt_tokens + v1.usage.completion_tokens > 0
    v2 = sdk(pangu_v2, cloud).execute_text_completion(pangu_v2.ExecuteTextCompletionRequest(
        pool_id="pool-1", deployment_id=cloud["deployment"], body=pangu_v2.TextCompletionReq(prompt=PROMPT, **TINY)))  # fmt: skip
    assert v2.choices[0].text == cloud["continued"]
    body.stream = True
    streamed = sdk(pangu_v1, cloud).execute_text_completion(
        pangu_v1.ExecuteTextCompletionRequest(deployment_id=cloud["deployment"], body=body))  # fmt: skip
    assert streamed.choices is None  # unparsed, as for chat
    events = [json.loads(e[len("data: "):]) for e in streamed.raw_content.decode().split("\n") if e and e != "data: [DONE]"]
    assert streamed.raw_content.decode().rstrip().endswith("data: [DONE]")
    assert all(e["object"] == "text_completion" and "delta" not in e["choices"][0] for e in events)
    assert "".join(e["choices"][0]["text"] for e in events) == cloud["continued"]
    assert events[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_a_text_completion_continues_the_prompt_rather_than_replying_to_it(cloud: dict):
    """The deployment writes on from the prompt's last word (transformers' greedy continuation of its raw
    tokens); the chat with the same text as a user turn is a reply, and says something else."""
    url = f"{cloud['server'].url}/v1/{cloud['project']}/deployments/{cloud['deployment']}/text/completions"
    answer = httpx.post(url, json={"prompt": PROMPT, **TINY}, headers=token_headers(cloud)).json()
    assert answer["choices"][0]["text"] == cloud["continued"] != cloud["expected"]
    reply = httpx.post(url.replace("/text/", "/chat/"), json={"messages": MESSAGES, **TINY}, headers=token_headers(cloud)).json()
    assert answer["usage"]["prompt_tokens"] < reply["usage"]["prompt_tokens"]  # no template, no turn markers


@pytest.mark.parametrize("body", [{"prompt": ""}, {"messages": MESSAGES}, {"prompt": "hi", "top_p": 0}])
def test_a_bad_text_completion_is_refused_in_huaweis_shape(cloud: dict, body: dict):
    url = f"{cloud['server'].url}/v1/{cloud['project']}/deployments/{cloud['deployment']}/text/completions"
    refused = httpx.post(url, json=body, headers=token_headers(cloud))
    assert (refused.status_code, refused.json()["error_code"]) == (400, "PanGu.0101"), refused.text


# ---- raw httpx with an IAM token, as the docs describe -----------------------------------------------


def test_streaming_with_an_iam_token(cloud: dict):
    url = f"{cloud['server'].url}/v1/{cloud['project']}/deployments/{cloud['deployment']}/chat/completions"
    with httpx.stream("POST", url, json={"messages": MESSAGES, "stream": True, **TINY}, headers=token_headers(cloud)) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        events = [line for line in answer.iter_lines() if line]
    assert events[-1] == "data: [DONE]" and "".join(_delta(e) for e in events[:-1]) == cloud["expected"]


def test_the_openai_format_path_names_the_deployment(cloud: dict):
    url = f"{cloud['server'].url}/api/v2/chat/completions"
    for model in ("tiny", cloud["deployment"]):  # its name or its id
        answer = httpx.post(url, json={"model": model, "messages": MESSAGES, **TINY}, headers=token_headers(cloud))
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"] == cloud["expected"]


def test_a_task_submitted_and_polled(cloud: dict):
    base = f"{cloud['server'].url}/v1/{cloud['project']}/deployments/{cloud['deployment']}/tasks"
    task = httpx.post(base, json={"name": "job-1", "input": {"messages": MESSAGES, **TINY}}, headers=token_headers(cloud))
    assert task.status_code == 201 and task.json()["status"] in ("Pending", "Running", "Completed")
    polled: dict = {}

    def finished() -> bool:
        polled.update(httpx.get(f"{base}/{task.json()['task_id']}", headers=token_headers(cloud)).json())
        return polled["status"] in ("Completed", "Failed")

    wait_for(finished, timeout=60, interval=0.1)
    assert polled["status"] == "Completed" and polled["name"] == "job-1"
    assert polled["output"]["choices"][0]["message"]["content"] == cloud["expected"]


# ---- the huawei provider: the same scenarios --------------------------------------------------------


def profile(url: str, name: str = "hw") -> str:
    """A `huawei` profile aimed at the local facades: ModelArts, IAM, Pangu and OBS all answer at the server's root."""
    file = ProfileFile.load()
    file.profiles[name] = Profile(name, "huawei", url=url, endpoints={"iam": url, "pangu": url, "obs": url})
    file.save()
    return name


def signing(cloud: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", cloud["ak"])
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", cloud["sk"])
    monkeypatch.setenv("HUAWEICLOUD_SDK_PROJECT_ID", cloud["project"])


def test_chat_streaming_and_a_task_through_the_provider(cloud: dict, monkeypatch: pytest.MonkeyPatch):
    signing(cloud, monkeypatch)
    with md.connect(profile(cloud["server"].url)) as deck:
        assert {"chat", "tasks", "deployments"} <= deck.capabilities
        assert deck.chat(cloud["deployment"], MESSAGES, **TINY).text == cloud["expected"]
        streamed = list(deck.chat(cloud["deployment"], MESSAGES, stream=True, **TINY))
        assert "".join(c.text for c in streamed) == cloud["expected"] and streamed[-1].finish_reason in ("stop", "length")
        assert deck.chat(None, MESSAGES, deployment="tiny", **TINY).text == cloud["expected"]  # by name
        task = deck.chat(cloud["deployment"], MESSAGES, wait=False, **TINY)
        assert task.id.startswith(cloud["deployment"] + "/") and task.result(timeout=60).text == cloud["expected"]
        with pytest.raises(md.errors.InvalidParameter) as refused:
            deck.chat(cloud["deployment"], MESSAGES, seed=1)
        assert "seed" in str(refused.value)
        with pytest.raises(md.errors.NotFound) as missing:
            deck.chat("dep-000000000000", MESSAGES, **TINY)
        assert missing.value.code == "PanGu.0102" and missing.value.request_id


def test_text_completion_through_the_provider(cloud: dict, monkeypatch: pytest.MonkeyPatch):
    signing(cloud, monkeypatch)
    with md.connect(profile(cloud["server"].url)) as deck:
        done = huawei.complete(deck, cloud["deployment"], PROMPT, **TINY)
        assert done.text == cloud["continued"] and done.usage["completion_tokens"] > 0
        pieces = list(huawei.complete(deck, cloud["deployment"], PROMPT, stream=True, **TINY))
        assert "".join(c.text for c in pieces) == cloud["continued"] and pieces[-1].finish_reason in ("stop", "length")
        with pytest.raises(md.errors.InvalidParameter) as refused:
            huawei.complete(deck, cloud["deployment"], PROMPT, seed=1)
        assert "seed" in str(refused.value)


# ---- wire equality with the SDK ----------------------------------------------------------------------

COMPLETION = {"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}  # fmt: skip
CHUNKS = [(b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
           b'"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\n'), b"data: [DONE]\n\n"]  # fmt: skip


TEXT_COMPLETION = {**COMPLETION, "object": "text_completion", "choices": [{"index": 0, "text": "hi", "finish_reason": "stop"}]}
TEXT_CHUNKS = [(b'data: {"id":"c1","object":"text_completion","created":1,"choices":[{"index":0,"text":"hi",'
                b'"finish_reason":"stop"}]}\n\n'), b"data: [DONE]\n\n"]  # fmt: skip


def chat_reply(req: Captured) -> Reply:
    text = req.path.endswith("/text/completions")
    if json.loads(req.body).get("stream"):
        return Reply(200, {"Content-Type": "text/event-stream"}, chunks=TEXT_CHUNKS if text else CHUNKS)
    return Reply(200, {"Content-Type": "application/json"}, json.dumps(TEXT_COMPLETION if text else COMPLETION).encode())


def wire(req: Captured) -> dict:
    """As test_huawei_provider compares ModelArts calls: the signature up to its date-bound value."""
    return comparable(req, {"x-sdk-date"}, lambda value: value.rsplit(", Signature=", 1)[0])


def test_chat_requests_equal_the_sdks(monkeypatch: pytest.MonkeyPatch):
    keys = {"ak": "AKLOCAL123", "sk": "SKLOCAL456", "project": "a" * 32}
    routes = [Route("POST", r"/v1/.*/chat/completions", handler=chat_reply),
              Route("GET", r"/v1/auth-mode", json_body={"domain_id": "d", "mode": "strict"})]  # connecting asks it
    with Recorder(routes) as rec:
        client = sdk(pangu_v1, keys, rec.url)
        body = pangu_v1.ChatCompletionReq(messages=[pangu_v1.Message(**m) for m in MESSAGES], **TINY)
        client.execute_chat_completion(pangu_v1.ExecuteChatCompletionRequest(deployment_id="dep-1", body=body))
        body.stream = True
        client.execute_chat_completion(pangu_v1.ExecuteChatCompletionRequest(deployment_id="dep-1", body=body))
        theirs = [wire(r) for r in rec.requests]
        rec.requests.clear()

        signing(keys, monkeypatch)
        with md.connect(profile(rec.url)) as deck:
            rec.requests.clear()  # what connecting asked (whoami) has no SDK counterpart here
            assert deck.chat("dep-1", MESSAGES, **TINY).text == "hi"
            assert [c.text for c in deck.chat("dep-1", MESSAGES, stream=True, **TINY)] == ["hi"]
        ours = [wire(r) for r in rec.requests]
    assert len(ours) == len(theirs) == 2
    for mine, sdk_side in zip(ours, theirs):
        assert mine == sdk_side


def test_text_completion_requests_equal_the_sdks(monkeypatch: pytest.MonkeyPatch):
    keys = {"ak": "AKLOCAL123", "sk": "SKLOCAL456", "project": "a" * 32}
    routes = [Route("POST", r"/v1/.*/text/completions", handler=chat_reply),
              Route("GET", r"/v1/auth-mode", json_body={"domain_id": "d", "mode": "strict"})]  # fmt: skip
    params = {**TINY, "top_p": 0.5, "user": "u-1"}
    with Recorder(routes) as rec:
        client = sdk(pangu_v1, keys, rec.url)
        for stream in (False, True):
            body = pangu_v1.TextCompletionReq(prompt="你好 world", stream=stream or None, **params)
            client.execute_text_completion(pangu_v1.ExecuteTextCompletionRequest(deployment_id="dep-1", body=body))
        theirs = [wire(r) for r in rec.requests]
        signing(keys, monkeypatch)
        with md.connect(profile(rec.url)) as deck:
            rec.requests.clear()
            assert huawei.complete(deck, "dep-1", "你好 world", **params).text == "hi"
            assert [c.text for c in huawei.complete(deck, "dep-1", "你好 world", stream=True, **params)] == ["hi"]
        ours = [wire(r) for r in rec.requests]
    assert len(ours) == len(theirs) == 2 and ours == theirs
