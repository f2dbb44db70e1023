"""The Pangu facade over the platform's deployments: a tiny real language model deployed, then called on
Pangu's v1 path, the v2 pools path and the OpenAI-format path (JSON and server-sent events), as tasks, and
refused in Huawei Cloud's error shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import Deployment, deploy

import modeldeck as md
from modeldeck import examples
from modeldeck.platform import Settings

MESSAGES = [{"role": "user", "content": "the cat sat on the mat"}]
TINY = {"max_tokens": 8, "temperature": 0}


@pytest.fixture(scope="module")
def pangu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One platform for the module: `tiny` 1.0.0 and 1.0.1 registered, deployed as `tiny` (one replica)."""
    root = tmp_path_factory.mktemp("pangu")
    server = deploy(Settings(home=root / "home"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELDECK_CONFIG", str(root / "profiles.toml"))
        mp.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        with md.connect(url=server.url, api_key=server.admin_key) as deck:
            for seed, version in ((3, "1.0.0"), (4, "1.0.1")):
                folder = examples.tiny_causal_lm(root / f"lm-{seed}", seed=seed)
                deck.register("tiny", folder, version=version, format="SafeTensors", framework="Transformers", progress=False)
            dep = deck.deploy("tiny", "1.0.0", replicas=1)
    try:
        yield {"server": server, "deployment": dep.id, "name": dep.name}
    finally:
        server.close()


def native_text(server: Deployment, version: str) -> str:
    body = {"model": f"tiny:{version}", "messages": MESSAGES, **TINY}
    return server.admin.ok("POST", "/v1/chat/completions", json=body)["choices"][0]["message"]["content"]


def test_chat_on_the_three_paths(pangu: dict):
    server, dep = pangu["server"], pangu["deployment"]
    expected = native_text(server, "1.0.0")
    api = server.admin
    for path in (f"/pangu/v1/{'0' * 32}/deployments/{dep}/chat/completions",
                 f"/pangu/v2/{'0' * 32}/pools/pool-1/deployments/{dep}/chat/completions"):
        answer = api.ok("POST", path, json={"messages": MESSAGES, **TINY})
        assert answer["choices"][0]["message"]["content"] == expected and answer["usage"]["total_tokens"] > 0
    answer = api.ok("POST", "/pangu/api/v2/chat/completions", json={"model": pangu["name"], "messages": MESSAGES, **TINY})
    assert answer["choices"][0]["message"]["content"] == expected


def test_streaming_is_sse_ending_in_done(pangu: dict):
    server, dep = pangu["server"], pangu["deployment"]
    path = f"/pangu/v1/{'0' * 32}/deployments/{dep}/chat/completions"
    with server.admin.stream("POST", path, json={"messages": MESSAGES, "stream": True, **TINY}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    text = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content", "") for line in lines[:-1]
                   if json.loads(line[6:])["choices"])  # fmt: skip
    assert text == native_text(server, "1.0.0")


def test_errors_in_huaweis_shape(pangu: dict):
    server, dep = pangu["server"], pangu["deployment"]
    api = server.admin
    bad = api.post(f"/pangu/v1/{'0' * 32}/deployments/{dep}/chat/completions", json={"messages": MESSAGES, "temperature": 3})
    assert bad.status_code == 400 and bad.json()["error_code"] == "PanguLargeModels.InvalidParameter"
    assert "temperature" in bad.json()["error_msg"] and bad.headers.get("x-request-id")
    missing = api.post(f"/pangu/v1/{'0' * 32}/deployments/dep-000000000000/chat/completions", json={"messages": MESSAGES})
    assert missing.status_code == 404 and missing.json()["error_code"] == "Deployment.NotFound"


def test_a_task_submitted_and_polled(pangu: dict):
    server, dep = pangu["server"], pangu["deployment"]
    base = f"/pangu/v1/{'0' * 32}/deployments/{dep}/tasks"
    task = server.admin.ok("POST", base, json={"name": "job-1", "input": {"messages": MESSAGES, **TINY}})
    assert task["status"] in ("Pending", "Running", "Completed") and task["name"] == "job-1"
    import time

    for _ in range(600):
        polled = server.admin.ok("GET", f"{base}/{task['task_id']}")
        if polled["status"] in ("Completed", "Failed"):
            break
        time.sleep(0.1)
    assert polled["status"] == "Completed", polled
    assert polled["output"]["choices"][0]["message"]["content"] == native_text(server, "1.0.0")
