"""The platform's OpenAI-compatible surface, driven by the official `openai` SDK, unmodified."""

from __future__ import annotations

import sys

import openai
import pytest

from conftest import Deployment


def sdk(deployment: Deployment, key: str | None = None, workspace: str | None = None) -> openai.OpenAI:
    headers = {"X-ModelDeck-Workspace": workspace} if workspace else {}
    return openai.OpenAI(base_url=f"{deployment.url}/v1", api_key=key or deployment.admin_key,
                         default_headers=headers, max_retries=0)  # fmt: skip


def test_models_lists_what_the_workspace_may_call(deployment: Deployment):
    api = deployment.admin
    api.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    for name in ("alpha", "beta", "hidden"):
        api.ok("POST", "/api/v1/models", json={"model_name": name})
    api.ok("PUT", "/api/v1/models/beta/grants/team-b", json={"actions": ["inference"]})
    api.ok("PUT", "/api/v1/models/alpha/grants/team-b", json={"actions": ["deploy"]})
    assert [m.id for m in sdk(deployment).models.list()] == ["alpha", "beta", "hidden"]
    listed = list(sdk(deployment, workspace="team-b").models.list())
    assert [(m.id, m.owned_by) for m in listed] == [("beta", "default")]


def test_errors_arrive_as_the_sdk_expects_with_the_hint(deployment: Deployment):
    with pytest.raises(openai.AuthenticationError) as err:
        sdk(deployment, key="mdk-wrong").models.list()
    assert err.value.body["code"] == "InvalidApiKey" and err.value.body["hint"]
    key = deployment.subaccount("alice", {})
    with pytest.raises(openai.PermissionDeniedError) as err:
        sdk(deployment, key=key).models.list()
    assert err.value.body["code"] == "Workspace.AccessDenied"
    deployment.admin.ok("POST", "/api/v1/models", json={"model_name": "remote"})
    deployment.admin.ok("POST", "/api/v1/models/remote/versions", json={"uri": "oss://b/m", "format_type": "ONNX"})
    with pytest.raises(openai.BadRequestError) as err:
        sdk(deployment).chat.completions.create(model="remote", messages=[{"role": "user", "content": "hi"}])
    assert err.value.body["code"] == "Inference.NotLocal"




MESSAGES = [{"role": "user", "content": "the cat sat on the mat"}]


def test_chat_completion_through_the_official_sdk(deployment: Deployment, llm):
    client = sdk(deployment)
    reply = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=8, temperature=0)
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.finish_reason in ("stop", "length")
    assert reply.usage.completion_tokens <= 8 and reply.usage.prompt_tokens > 0
    again = client.chat.completions.create(model="tiny:0.1.0", messages=MESSAGES, max_tokens=8, temperature=0)
    assert again.choices[0].message.content == choice.message.content  # greedy is deterministic; pinned works
    assert [m.id for m in client.models.list()] == ["tiny"]


def test_streaming_through_the_official_sdk_matches_the_completion(deployment: Deployment, llm):
    client = sdk(deployment)
    whole = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=12, temperature=0)
    stream = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=12, temperature=0,
                                            stream=True, stream_options={"include_usage": True})  # fmt: skip
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(pieces) == whole.choices[0].message.content
    assert finish == whole.choices[0].finish_reason
    assert usage.completion_tokens == whole.usage.completion_tokens


def test_deck_chat_streams_and_stops_early(deployment: Deployment, llm):
    import modeldeck as md

    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        full = deck.chat("tiny", "the cat sat on the mat", max_tokens=16, temperature=0)
        assert full.text and full.usage["completion_tokens"] <= 16
        chunks = deck.chat("tiny", "the cat sat on the mat", stream=True, max_tokens=16, temperature=0)
        text = "".join(c.text for c in chunks)
        assert text == full.text
        stream = deck.chat("tiny", "the cat sat on the mat", stream=True, max_tokens=200, temperature=0.9, seed=1)
        first = next(stream)
        stream.close()  # leaving early closes the connection; the platform stops generating
        assert isinstance(first.text, str)
        # the model is free again right away
        assert deck.chat("tiny", "a dog", max_tokens=2, temperature=0).finish_reason == "length"


def test_chat_refusals_are_typed_errors(deployment: Deployment, llm, tmp_path):
    import modeldeck as md
    from modeldeck import examples
    from modeldeck.errors import InvalidParameter, ModelAccessDenied

    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        deck.register("linear", examples.onnx_linear(tmp_path / "l.onnx"), format="ONNX", progress=False)
        with pytest.raises(InvalidParameter) as err:
            deck.chat("linear", "hi")
        assert err.value.code == "Inference.NotChat"
        with pytest.raises(InvalidParameter) as err:
            deck.chat("tiny", [{"role": "hacker", "content": "SENTINEL-TEXT"}])
        assert "SENTINEL-TEXT" not in str(err.value)
        with pytest.raises(InvalidParameter):
            deck.chat("tiny", "hi", stream=True, max_tokens=0)  # refused before the first byte
        deck.create_workspace("team-b")
        key = deployment.subaccount("bob", {"team-b": "developer"})
    with md.connect(url=deployment.url, api_key=key, workspace="team-b") as bob:
        with pytest.raises(ModelAccessDenied) as err:
            bob.chat("tiny", "hi")
        assert "team-b" in err.value.hint and "inference" in err.value.hint  # the owner is not a sub-account's to learn
        with pytest.raises(ModelAccessDenied):
            bob.chat("tiny", "hi", stream=True)
    with pytest.raises(openai.PermissionDeniedError):
        sdk(deployment, key=key, workspace="team-b").chat.completions.create(model="tiny", messages=MESSAGES)


def test_chat_sees_a_revoked_grant_or_key_on_the_next_request(deployment: Deployment, llm):
    """A repeated chat request's authorization is recalled while nothing changed; any change counts at once."""
    import modeldeck as md
    from modeldeck.errors import InvalidApiKey, ModelAccessDenied

    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        deck.create_workspace("team-c")
        key = deployment.subaccount("carol", {"team-c": "developer"})
        deck.authorize("tiny", "team-c")
        with md.connect(url=deployment.url, api_key=key, workspace="team-c") as carol:
            for _ in range(2):
                assert carol.chat("tiny", "hi", max_tokens=2, temperature=0).finish_reason == "length"
            deck.revoke("tiny", "team-c")
            with pytest.raises(ModelAccessDenied):
                carol.chat("tiny", "hi", max_tokens=2)
            with pytest.raises(ModelAccessDenied):
                carol.chat("tiny", "hi", stream=True, max_tokens=2)
            deck.authorize("tiny", "team-c")
            assert "".join(c.text for c in carol.chat("tiny", "hi", stream=True, max_tokens=2, temperature=0))
            [carols_key] = deployment.admin.ok("GET", "/api/v1/accounts/carol/keys")["items"]
            deployment.admin.ok("DELETE", f"/api/v1/keys/{carols_key['id']}")
            with pytest.raises(InvalidApiKey):
                carol.chat("tiny", "hi", stream=True, max_tokens=2)


def test_async_deck_streams(deployment: Deployment, llm):
    import asyncio

    import modeldeck as md

    async def main() -> str:
        async with md.AsyncDeck(url=deployment.url, api_key=deployment.admin_key) as deck:
            stream = await deck.chat("tiny", "the cat", stream=True, max_tokens=6, temperature=0)
            return "".join([c.text async for c in stream])

    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        expected = deck.chat("tiny", "the cat", max_tokens=6, temperature=0).text
    assert asyncio.run(main()) == expected


def test_openai_client_and_cli_chat(deployment: Deployment, llm):
    import json
    import os
    import subprocess
    import sys

    import modeldeck as md

    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        client = deck.openai_client()
        reply = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=5, temperature=0)
        expected = deck.chat("tiny", MESSAGES, max_tokens=5, temperature=0).text
    assert reply.choices[0].message.content == expected
    env = {**os.environ, "MODELDECK_URL": deployment.url, "MODELDECK_API_KEY": deployment.admin_key}
    run = [sys.executable, "-m", "modeldeck", "chat", "tiny", "the cat sat on the mat", "--max-tokens", "5",
           "--temperature", "0"]  # fmt: skip
    streamed = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout.strip() == expected.strip()
    as_json = json.loads(subprocess.run([*run, "--json"], env=env, capture_output=True, text=True).stdout)
    assert as_json["choices"][0]["message"]["content"] == expected


def test_a_version_proxied_to_an_upstream_server(deployment: Deployment, llm, tmp_path):
    """The platform forwards chat for an upstream-backed version, streaming included; the key stays inside."""
    import ipaddress

    import modeldeck as md
    from conftest import deploy
    from modeldeck.errors import InvalidParameter
    from modeldeck.platform import Settings

    loopback = (ipaddress.ip_network("127.0.0.0/8"),)
    gateway = deploy(Settings(home=tmp_path / "gateway", allowed_networks=loopback))
    try:
        spec = {"upstream": {"base_url": f"{deployment.url}/v1", "model": "tiny", "api_key": deployment.admin_key}}
        with md.connect(url=gateway.url, api_key=gateway.admin_key) as deck:
            v = deck.register("remote-tiny", f"{deployment.url}/v1", inference_spec=spec, progress=False)
            assert v.inference_spec["upstream"] == {"base_url": f"{deployment.url}/v1", "model": "tiny",
                                                    "api_key_set": True}  # fmt: skip
            listing = gateway.admin.get("/api/v1/models/remote-tiny/versions").text
            assert deployment.admin_key not in listing
            reply = deck.chat("remote-tiny", MESSAGES, max_tokens=6, temperature=0)
            with md.connect(url=deployment.url, api_key=deployment.admin_key) as direct:
                expected = direct.chat("tiny", MESSAGES, max_tokens=6, temperature=0)
            assert reply.text == expected.text
            streamed = "".join(c.text for c in deck.chat("remote-tiny", MESSAGES, stream=True, max_tokens=6, temperature=0))
            assert streamed == expected.text
            # a wrong upstream key surfaces as a clear 502, without the key
            bad = {"upstream": {**spec["upstream"], "api_key": "mdk-wrong-upstream-key"}}
            deck.update_version("remote-tiny", "0.1.0", inference_spec=bad)
            with pytest.raises(md.errors.ServerError) as err:
                deck.chat("remote-tiny", MESSAGES, max_tokens=2)
            assert err.value.code == "Upstream.Error" and "mdk-wrong-upstream-key" not in str(err.value)
    finally:
        gateway.close()
    # without the admin's allowance, a loopback upstream is refused at registration
    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        with pytest.raises(InvalidParameter):
            deck.register("loop", "oss://b/x", inference_spec={"upstream": {"base_url": "http://127.0.0.1:9/v1",
                                                                             "model": "m"}}, progress=False)  # fmt: skip


def test_the_openai_provider_against_any_compatible_server(deployment: Deployment, llm, tmp_path):
    """A profile of kind openai: models and chat (streaming too) from any OpenAI-compatible endpoint, one
    implicit workspace, clear refusals for what such a server does not have, typed errors from its bodies."""
    import modeldeck as md
    from modeldeck.errors import InvalidApiKey, InvalidParameter, Unsupported
    from modeldeck.profiles import Profile, ProfileFile

    file = ProfileFile.load()
    file.profiles["vllm"] = Profile("vllm", "openai", url=f"{deployment.url}/v1", api_key=deployment.admin_key)
    file.save()
    with md.connect("vllm") as deck:
        assert [w.name for w in deck.workspaces()] == ["default"] and "no workspaces" in deck.workspace.description
        assert [(m.name, m.actions) for m in deck.models()] == [("tiny", ["inference"])]
        assert deck.model("tiny").name == "tiny"
        reply = deck.chat("tiny", MESSAGES, max_tokens=5, temperature=0)
        assert "".join(c.text for c in deck.chat("tiny", MESSAGES, stream=True, max_tokens=5, temperature=0)) == reply.text
        assert deck.openai_client().models.list().data[0].id == "tiny"
        for refused in (lambda: deck.use("team-b"), lambda: deck.versions("tiny"), lambda: deck.register("m", "oss://b/k"),
                        lambda: deck.predict("tiny", [[1]]), lambda: deck.create_workspace("x")):  # fmt: skip
            with pytest.raises((Unsupported, InvalidParameter)) as err:
                refused()
            assert err.value.code in ("Provider.Unsupported", "Provider.NoWorkspaces") and err.value.hint
        with pytest.raises(md.errors.NotFound):
            deck.chat("no-such-model", "hi")
    file.profiles["vllm"].api_key = "wrong"
    file.save()
    with pytest.raises(InvalidApiKey):
        md.connect("vllm")


def test_chat_and_predict_as_tasks_from_the_deck(deployment: Deployment, llm, tmp_path):
    import modeldeck as md
    from modeldeck import examples
    from modeldeck.errors import InvalidParameter, ModelAccessDenied

    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        task = deck.chat("tiny", "the cat sat", max_tokens=6, temperature=0, wait=False)
        assert task.record.kind == "chat" and task.status in ("PENDING", "RUNNING", "SUCCEEDED")
        completion = task.result(timeout=120)
        assert completion.text == deck.chat("tiny", "the cat sat", max_tokens=6, temperature=0).text
        deck.register("linear", examples.onnx_linear(tmp_path / "l.onnx"), format="ONNX", progress=False)
        X, _ = examples.tabular_data(n=2)
        predicted = deck.predict("linear", X, wait=False)
        assert predicted.wait(timeout=120, progress=True).status == "SUCCEEDED"
        assert predicted.result().shapes == deck.predict("linear", X).shapes
        assert deck.task(predicted.id).status == "SUCCEEDED"
        assert {t.id for t in deck.tasks()} >= {task.id, predicted.id}
        with pytest.raises(InvalidParameter):
            deck.chat("tiny", [{"role": "robot", "content": "x"}], wait=False)  # refused at submit
        deck.create_workspace("team-b")
        key = deployment.subaccount("carol", {"team-b": "developer"})
    with md.connect(url=deployment.url, api_key=key, workspace="team-b") as carol:
        with pytest.raises(ModelAccessDenied):
            carol.chat("tiny", "hi", wait=False)  # authorized at submit: no task is created
        assert carol.tasks().list() == []


def test_cli_tasks(deployment: Deployment, llm):
    import json
    import os
    import subprocess
    import sys

    import modeldeck as md

    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        task = deck.chat("tiny", "hello", max_tokens=3, wait=False)
        task.wait(timeout=120)
    env = {**os.environ, "MODELDECK_URL": deployment.url, "MODELDECK_API_KEY": deployment.admin_key}
    run = [sys.executable, "-m", "modeldeck", "tasks"]
    listed = json.loads(subprocess.run([*run, "--json"], env=env, capture_output=True, text=True).stdout)
    assert [t["id"] for t in listed] == [task.id] and listed[0]["status"] == "SUCCEEDED"
    again = subprocess.run([*run, task.id, "--cancel"], env=env, capture_output=True, text=True)
    assert again.returncode == 1 and "Task.AlreadyFinished" in again.stderr


def test_openai_client_without_the_package_is_a_typed_error(deployment: Deployment, monkeypatch):
    import modeldeck as md

    monkeypatch.setitem(sys.modules, "openai", None)  # as if not installed
    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        for make in (deck.openai_client, deck.openai_async_client):
            with pytest.raises(md.errors.MissingDependency) as err:
                make()
            assert err.value.code == "MissingDependency" and "modeldeck[openai]" in err.value.hint


def test_deck_state_on_an_openai_profile(deployment: Deployment, llm):
    """The panel's state publishes the provider's capabilities and asks only for what it can do: selecting
    a model loads no versions (which would be refused), and chat streams."""
    import modeldeck as md
    from modeldeck.profiles import Profile, ProfileFile
    from modeldeck.state import DeckState

    file = ProfileFile.load()
    file.profiles["vllm"] = Profile("vllm", "openai", url=f"{deployment.url}/v1", api_key=deployment.admin_key)
    file.save()
    with md.connect("vllm") as deck:
        state = DeckState(deck)
        try:
            state.run("refresh")
            assert state.connection["kind"] == "openai" and state.connection["provider"] == "openai"
            assert state.connection["capabilities"] == ["chat", "models", "switch", "workspaces"]
            assert [w["name"] for w in state.workspaces] == ["default"] and [m["name"] for m in state.models] == ["tiny"]
            state.run("select", model="tiny")
            assert state.versions == [] and state.grants == [] and state.error is None
            reply = state.run("chat", model="tiny", prompt="the cat sat", params={"max_tokens": 5, "temperature": 0})
            assert reply["text"] == deck.chat("tiny", "the cat sat", max_tokens=5, temperature=0).text
        finally:
            state.close()
