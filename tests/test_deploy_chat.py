"""Chat through a deployment: a language-model version served by replica processes that speak OpenAI's chat
completions, reached by deck.chat(..., deployment=), by the official SDK through the OpenAI facade (its
`model` naming the deployment), and straight over HTTP. Real platform, real replicas, a real tiny model."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import modeldeck as md
from modeldeck import examples
from modeldeck.errors import AccessDenied, ConnectionFailed, InvalidParameter
from modeldeck.platform import Settings

from conftest import Deployment, deploy, wait_for

MESSAGES = [{"role": "user", "content": "the cat sat on the mat"}]
GREEDY = {"max_tokens": 8, "temperature": 0}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One platform for the module, with language model `tiny` (version 0.1.0) and ONNX model `iris`: its
    replica template imports the language-model runtime once, not once per test. Each test starts with no
    deployment (`deck` deletes them, with their events) and only reads what it creates."""
    folder = tmp_path_factory.mktemp("deploy-chat")
    dep = deploy(Settings(home=folder / "home"))
    try:
        with md.connect(url=dep.url, api_key=dep.admin_key) as deck:
            deck.register("tiny", examples.tiny_causal_lm(folder / "lm", seed=3), format="SafeTensors",
                          framework="Transformers", progress=False)  # fmt: skip
            deck.register("iris", examples.onnx_linear(folder / "iris.onnx"), format="ONNX", progress=False)
        yield dep
    finally:
        dep.close()


@pytest.fixture
def deck(platform: Deployment) -> Iterator[Any]:
    """The admin's deck on the module's platform; the deployments a test made are deleted after it."""
    with md.connect(url=platform.url, api_key=platform.admin_key) as deck:
        assert [d.name for d in deck.deployments()] == []
        yield deck
        for dep in deck.deployments():
            deck.delete_deployment(dep.name)


def served(deck: Any, name: str) -> dict[str, int]:
    return {r["replica"]: r["served"] for r in deck.deployment(name).replica_status}


def answered(deck: Any, name: str, n: int) -> None:
    """Wait until the replicas report `n` answers in all (they report their counts every 50 ms)."""
    wait_for(lambda: sum(served(deck, name).values()) == n, timeout=10)


def sdk(platform: Deployment) -> Any:
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=f"{platform.url}/v1", api_key=platform.admin_key, max_retries=0)


def test_a_language_model_deployment_chats_through_the_deck_the_sdk_and_plain_http(deck: Any, platform: Deployment):
    dep = deck.deploy("tiny", name="tiny", replicas=2)
    assert dep.status == "Running", dep.status_reason
    assert len({r["pid"] for r in dep.replica_status} - {os.getpid()}) == 2
    registered = deck.chat("tiny:0.1.0", MESSAGES, **GREEDY).text  # pinned: the version, in the platform process

    whole = deck.chat(None, MESSAGES, deployment="tiny", **GREEDY)
    assert whole.text == registered and whole.finish_reason in ("stop", "length")
    streamed = list(deck.chat(None, MESSAGES, stream=True, deployment="tiny", **GREEDY))
    assert "".join(c.text or "" for c in streamed) == registered
    answered(deck, "tiny", 2)

    client = sdk(platform)  # `model` names the deployment (here it shares its model's name: the deployment wins)
    reply = client.chat.completions.create(model="tiny", messages=MESSAGES, **GREEDY)
    assert reply.choices[0].message.content == registered and reply.model == "tiny"
    chunks = client.chat.completions.create(model="tiny", messages=MESSAGES, stream=True,
                                            stream_options={"include_usage": True}, **GREEDY)  # fmt: skip
    pieces = list(chunks)
    assert "".join(c.choices[0].delta.content or "" for c in pieces if c.choices) == registered
    assert pieces[-1].usage.completion_tokens > 0
    answered(deck, "tiny", 4)

    deck.deploy("tiny", name="tiny-prod", replicas=1)  # a deployment named apart from its model
    assert client.chat.completions.create(model="tiny-prod", messages=MESSAGES, **GREEDY).choices[0].message.content == registered
    answered(deck, "tiny-prod", 1)
    listed = [m.id for m in client.models.list()]  # deployments by name, then models (`tiny` once: it chats with the deployment)
    assert listed == ["tiny", "tiny-prod", "iris"]
    assert client.models.retrieve("tiny-prod").id == "tiny-prod" and client.models.retrieve("iris").id == "iris"

    endpoint, auth = dep.endpoint, {"Authorization": f"Bearer {platform.admin_key}"}
    for _ in range(16):  # a fresh connection each: the kernel spreads them over both replicas
        answer = httpx.post(f"{endpoint}/v1/chat/completions", json={"messages": MESSAGES, **GREEDY}, headers=auth)
        assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == registered
    answered(deck, "tiny", 20)
    assert all(n > 0 for n in served(deck, "tiny").values()), served(deck, "tiny")

    refused = httpx.post(f"{endpoint}/v1/chat/completions", json={"messages": MESSAGES})
    assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"
    bad = httpx.post(f"{endpoint}/v1/chat/completions", json={"messages": "hi", "max_tokens": 0}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidParameter.Chat"
    with pytest.raises(InvalidParameter) as err:
        deck.predict(None, [[1.0]], deployment="tiny")
    assert err.value.code == "Inference.NotPredict" and err.value.hint


def test_chat_and_predict_refuse_the_other_kind_and_a_stopped_deployment(deck: Any, platform: Deployment):
    deck.deploy("iris", name="iris", replicas=1)
    with pytest.raises(InvalidParameter) as err:
        deck.chat(None, MESSAGES, deployment="iris")
    assert err.value.code == "Inference.NotChat"
    openai = pytest.importorskip("openai")
    with pytest.raises(openai.BadRequestError) as sdk_err:
        sdk(platform).chat.completions.create(model="iris", messages=MESSAGES)
    assert sdk_err.value.body["code"] == "Inference.NotChat"
    deck.stop("iris")
    with pytest.raises(openai.APIStatusError) as stopped:
        sdk(platform).chat.completions.create(model="iris", messages=MESSAGES)
    assert stopped.value.status_code == 409 and stopped.value.body["code"] == "Deployment.NotServing"
    assert "pin a version" in stopped.value.body["hint"]


def test_a_stream_cut_mid_way_by_a_killed_replica_raises_a_typed_error(deck: Any, platform: Deployment):
    """Straight to the replica (the deck) and through the OpenAI facade (the SDK): the stream ends in an
    error the caller catches, never a hang; its text so far cannot be taken back, so it is not retried."""
    openai = pytest.importorskip("openai")
    long = {"max_tokens": 400, "temperature": 0}

    def serving() -> int:
        wait_for(lambda: [r["state"] for r in deck.deployment("tiny").replica_status] == ["serving"], timeout=180)
        return deck.deployment("tiny").replica_status[0]["pid"]

    deck.deploy("tiny", name="tiny", replicas=1)
    stream = deck.chat(None, MESSAGES, stream=True, deployment="tiny", **long)
    next(iter(stream))
    victim = serving()
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(ConnectionFailed) as err:
        list(stream)
    assert err.value.code == "Stream.Interrupted" and err.value.hint

    wait_for(lambda: serving() != victim, timeout=180)
    chunks = sdk(platform).chat.completions.create(model="tiny", messages=MESSAGES, stream=True, **long)
    next(iter(chunks))
    os.kill(serving(), signal.SIGKILL)
    with pytest.raises(openai.APIError) as sdk_err:
        list(chunks)
    assert sdk_err.value.body["code"] == "Stream.Interrupted" and sdk_err.value.body["hint"]


def test_a_viewer_may_not_chat_with_a_deployment(deck: Any, platform: Deployment):
    deck.deploy("tiny", name="tiny", replicas=1)
    viewer_key = platform.subaccount("vera", {"default": "viewer"})
    with md.connect(url=platform.url, api_key=viewer_key, workspace="default") as as_viewer:
        with pytest.raises(AccessDenied):  # the replicas check the key themselves
            as_viewer.chat(None, MESSAGES, deployment="tiny")


def test_a_killed_chat_replica_is_restarted_while_the_other_answers(deck: Any, platform: Deployment):
    """Whole completions are retried on the other replica (a stream cut mid-way by the kill would raise:
    its text so far cannot be taken back)."""
    dep = deck.deploy("tiny", name="tiny", replicas=2)
    victim = dep.replica_status[0]
    failures: list[BaseException] = []
    answers: list[str] = []
    stopping = threading.Event()

    def chatter() -> None:
        with md.connect(url=platform.url, api_key=platform.admin_key) as mine:
            while not stopping.is_set():
                try:
                    answers.append(mine.chat(None, MESSAGES, deployment="tiny", **GREEDY).text)
                except Exception as exc:
                    failures.append(exc)

    threads = [threading.Thread(target=chatter) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(answers) >= 3, timeout=120)
        os.kill(victim["pid"], signal.SIGKILL)

        def replaced() -> bool:
            pids = {r["pid"] for r in deck.deployment("tiny").replica_status if r["state"] == "serving"}
            return len(pids) == 2 and victim["pid"] not in pids

        wait_for(replaced, timeout=180)
        count = len(answers)
        wait_for(lambda: len(answers) >= count + 3, timeout=120)
    finally:
        stopping.set()
        for thread in threads:
            thread.join(timeout=60)
    assert failures == []
    assert len(set(answers)) == 1  # greedy: every answer, from either replica, is the same
    restarted = next(e for e in deck.deployment_events("tiny") if e.kind == "replica_restarted")
    assert str(victim["pid"]) in restarted.message
