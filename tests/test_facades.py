"""The facade routing rule: each foreign protocol under its own prefix, so paths that collide with the native
`/api/v1` (DashScope's `/api/v1/tasks/{id}`, `/api/v1/services/...`) reach the right app, in its own shape.

A stand-in DashScope facade (its own routes, error body and authentication) is mounted beside the real ones
on a real server; the official routes of every app answer as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from modeldeck.errors import DeckError, NotFound
from modeldeck.platform import Platform, PlatformServer, Settings
from modeldeck.platform.api import errors
from modeldeck.platform.api.deps import CallerDep
from modeldeck.platform.api.facades import FACADES, Facade, check_prefixes, endpoints
from modeldeck.platform.authn import Authentication, BearerKeys


def dashscope_error(error: DeckError) -> dict[str, Any]:
    return {"code": error.code, "message": error.message, "request_id": error.request_id}  # DashScope's body


def build_dashscope(platform: Any) -> FastAPI:
    app = FastAPI()
    app.state.platform = platform
    app.state.authentication = Authentication(BearerKeys())
    errors.install(app, dashscope_error)

    @app.get("/api/v1/tasks/{task_id}")
    def task(caller: CallerDep, task_id: str) -> dict[str, Any]:
        if task_id != "known":
            raise NotFound("No such task.", code="InvalidParameter.TaskNotFound")
        return {"output": {"task_id": task_id, "task_status": "SUCCEEDED"}, "workspace": caller.workspace_name}

    return app


DASHSCOPE = Facade("dashscope", "/dashscope", "/dashscope/api/v1", build_dashscope)
OTHERS = tuple(f for f in FACADES if f.name != "dashscope")  # the stand-in takes the real facade's place


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    platform = Platform(Settings(home=tmp_path / "home"))
    server = PlatformServer(platform, facades=(*OTHERS, DASHSCOPE)).start()
    try:
        yield server.url, platform.admin_key() or ""
    finally:
        server.stop()
        platform.close()


def test_colliding_paths_reach_their_own_protocol(served: tuple[str, str]):
    url, key = served
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        ours = client.get("/dashscope/api/v1/tasks/known")
        assert ours.status_code == 200 and ours.json()["output"]["task_status"] == "SUCCEEDED"
        assert ours.json()["workspace"] == "default"  # the same services: authz entered the default workspace
        theirs = client.get("/dashscope/api/v1/tasks/other")
        assert theirs.status_code == 404 and set(theirs.json()) == {"code", "message", "request_id"}
        native = client.get("/api/v1/tasks/other")  # the native task API, untouched
        assert native.status_code == 404 and native.json()["code"] == "Task.NotFound" and native.json()["hint"]
        assert client.get("/v1/models").json()["object"] == "list"
        assert client.get("/api/v1/endpoints").json()["dashscope"] == f"{url}/dashscope/api/v1"
    assert httpx.get(f"{url}/dashscope/api/v1/tasks/known").json()["code"] == "InvalidApiKey"


@pytest.mark.parametrize("prefix", ["/api", "/api/v2", "/v1", "/v1/dashscope", "/", "/docs", "dashscope", "/x/"])
def test_a_prefix_that_could_take_another_apps_paths_is_refused(prefix: str):
    with pytest.raises(ValueError):
        check_prefixes((*FACADES, Facade("other", prefix, prefix, build_dashscope)))


def test_endpoints_are_the_sdk_base_urls():
    assert endpoints("http://127.0.0.1:8765/") == {
        "native": "http://127.0.0.1:8765", "openai": "http://127.0.0.1:8765/v1",
        "dashscope": "http://127.0.0.1:8765/dashscope/api/v1", "modelstudio": "http://127.0.0.1:8765",
        "aiworkspace": "http://127.0.0.1:8765/aiworkspace",
        "eas": "http://127.0.0.1:8765/eas",
        "iam": "http://127.0.0.1:8765", "modelarts": "http://127.0.0.1:8765", "pangu": "http://127.0.0.1:8765",
        "sts": "http://127.0.0.1:8765/sts",
        "oss": "http://127.0.0.1:8765", "obs": "http://127.0.0.1:8765",  # their SDKs keep no path
    }  # fmt: skip
