"""Each provider's wire mapping, through the public Deck over `httpx.MockTransport`: no server, milliseconds.

A scripted server answers by (method, path); every request is recorded, so a test asserts what went on the
wire (paths, params, headers, bodies) as well as the records and typed errors that came back. The real
servers' suites (test_client, test_openai) check the same providers end to end.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from modeldeck import errors
from modeldeck._http import Credentials, RetryPolicy, Settings
from modeldeck.deck import Deck
from modeldeck.providers import KINDS, auth, for_kind
from modeldeck.providers.base import CAPABILITIES

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


class Script:
    """Answers by "METHOD /path" as sent, still quoted (an unscripted request gets a 599, so a test never
    passes by accident)."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.get(line(request))
        if answer is None:
            return httpx.Response(599, json={"message": f"unscripted {line(request)}"})
        return answer(request) if callable(answer) else answer

    @property
    def sent(self) -> list[str]:
        return [line(r) for r in self.requests]


def line(request: httpx.Request) -> str:
    return f"{request.method} {request.url.raw_path.split(b'?')[0].decode()}"


def deck(kind: str, answers: dict[str, Answer], *, workspace: str | None = "ws-1", **credentials: str) -> tuple[Deck, Script]:
    script = Script(answers)
    creds = Credentials(**credentials) if credentials else Credentials(api_key="mdk-test-key")
    url = "http://127.0.0.1:1/v1" if kind == "openai" else "http://127.0.0.1:1"
    settings = Settings(url, creds, workspace, kind=kind, retry=RetryPolicy(attempts=1))
    return Deck(settings, transport=httpx.MockTransport(script)), script


def sse(*events: Any) -> httpx.Response:
    lines = [e if isinstance(e, str) else f"data: {json.dumps(e)}" for e in events]
    return httpx.Response(200, text="\n\n".join(lines) + "\n\n", headers={"content-type": "text/event-stream"})


def delta(text: str, finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"delta": {"content": text}, "finish_reason": finish}]}


# ---- the providers as data -------------------------------------------------------------------------------


def test_every_kind_has_a_provider_whose_capabilities_are_known_words():
    for kind in KINDS:
        provider = for_kind(kind)
        assert kind in provider.kinds and provider.capabilities <= CAPABILITIES
    assert for_kind("local") is for_kind("server") and for_kind("local").capabilities == CAPABILITIES
    assert for_kind("openai").capabilities == {"workspaces", "switch", "models", "chat"}
    with pytest.raises(errors.InvalidParameter) as err:
        for_kind("azure")  # a kind this version does not know
    assert err.value.code == "Profile.Invalid"


# ---- native ----------------------------------------------------------------------------------------------

MODEL = {"id": "m-1", "model_name": "iris", "workspace_id": "ws-1", "owner_workspace": "default", "source": "owned",
         "actions": ["inference"], "latest_version": {"version_name": "1.0.0", "approval_status": "Approved"}}  # fmt: skip


def test_native_listings_send_filters_workspace_and_key_and_page_by_cursor():
    pages = {None: {"items": [MODEL], "next_cursor": "c2"}, "c2": {"items": [{**MODEL, "id": "m-2"}], "next_cursor": None}}
    d, script = deck("server", {"GET /api/v1/models": lambda r: httpx.Response(200, json=pages[r.url.params.get("cursor")])})
    models = d.models("ir", task="classification").list()
    assert [(m.id, m.name, m.latest) for m in models] == [("m-1", "iris", "1.0.0 (Approved)"), ("m-2", "iris", "1.0.0 (Approved)")]
    first, second = script.requests
    assert dict(first.url.params) == {"q": "ir", "task": "classification"}
    assert dict(second.url.params) == {"q": "ir", "task": "classification", "cursor": "c2"}
    assert first.headers["x-modeldeck-workspace"] == "ws-1" and first.headers["authorization"] == "Bearer mdk-test-key"


def test_native_register_composes_ensure_model_and_create_version():
    version = {"model_id": "m-9", "model_name": "new", "version_name": "0.1.0", "approval_status": "Pending",
               "uri": "oss://bucket/key", "format_type": "ONNX"}  # fmt: skip
    d, script = deck("server", {
        "GET /api/v1/models/new": httpx.Response(404, json={"code": "Model.NotFound", "message": "no"}),
        "POST /api/v1/models": httpx.Response(201, json={**MODEL, "id": "m-9", "model_name": "new"}),
        "POST /api/v1/models/m-9/versions": httpx.Response(201, json=version),
    })  # fmt: skip
    registered = d.register("new", "oss://bucket/key", format="ONNX", labels={"team": "a"})
    assert (registered.model_id, registered.version_name) == ("m-9", "0.1.0")
    assert script.sent == ["GET /api/v1/models/new", "POST /api/v1/models", "POST /api/v1/models/m-9/versions"]
    create = script.requests[-1]
    assert json.loads(create.content) == {"format_type": "ONNX", "labels": {"team": "a"}, "uri": "oss://bucket/key"}
    assert len(create.headers["idempotency-key"]) == 36  # a fresh key: a retry never makes a second version


def test_native_names_are_quoted_into_the_path_and_predict_picks_the_version_path():
    outputs = [{"name": "y", "data": [1], "dtype": "int64", "shape": [1]}]
    answer = httpx.Response(200, json={"model": "a/b", "version": "1.0.0", "outputs": outputs})
    d, script = deck("server", {"POST /api/v1/models/a%2Fb/versions/1.0.0/predict": answer,
                                "POST /api/v1/models/a%2Fb/predict": answer})  # fmt: skip
    assert d.predict("a/b", {"X": [[1, 2]]}, "1.0.0").outputs == {"y": [1]}
    assert d.predict("a/b", [{"x": 1}]).version == "1.0.0"
    assert script.sent == ["POST /api/v1/models/a%2Fb/versions/1.0.0/predict", "POST /api/v1/models/a%2Fb/predict"]
    assert [json.loads(r.content) for r in script.requests] == [{"inputs": {"X": [[1, 2]]}}, {"records": [{"x": 1}]}]


def test_native_error_bodies_become_typed_errors_with_the_platforms_hint():
    d, _ = deck("server", {
        "GET /api/v1/models/iris": httpx.Response(
            403, json={"code": "Model.AccessDenied", "message": "Owned by team-a.", "hint": "Ask for a grant.",
                       "request_id": "r-1"}),
        "POST /v1/chat/completions": httpx.Response(
            400, json={"error": {"message": "x", "detail": "Not a language model.", "code": "Inference.NotChat",
                                 "hint": "Chat needs SafeTensors."}}),
        "GET /api/v1/workspaces": httpx.Response(502, text="<html>bad gateway</html>"),
    })  # fmt: skip
    with pytest.raises(errors.ModelAccessDenied) as err:
        d.model("iris")
    assert (err.value.hint, err.value.request_id, err.value.status) == ("Ask for a grant.", "r-1", 403)
    with pytest.raises(errors.InvalidParameter) as err:
        d.chat("iris", "hi")
    assert err.value.code == "Inference.NotChat" and err.value.message == "Not a language model."
    with pytest.raises(errors.ServerError) as err:
        d.workspaces()
    assert "502" in err.value.message


def test_native_chat_streams_the_openai_dialect_from_its_v1():
    d, script = deck("server", {"POST /v1/chat/completions": sse(": keep-alive", delta("Hel"), delta("lo", "stop"),
                                                                  "data: [DONE]")})  # fmt: skip
    chunks = list(d.chat("tiny", "hi", stream=True, version="1.0.0", max_tokens=3))
    assert [(c.text, c.finish_reason) for c in chunks] == [("Hel", None), ("lo", "stop")]
    body = json.loads(script.requests[0].content)
    assert body == {"model": "tiny:1.0.0", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3,
                    "stream": True}  # fmt: skip


def test_access_keys_sign_requests_with_acs3():
    """An AccessKey pair maps to the platform's ACS3-HMAC-SHA256 signer (modeldeck.providers.auth)."""
    d, script = deck("server", {"GET /api/v1/whoami": httpx.Response(200, json={"account": {"name": "main"}})},
                     access_key_id="AKTEST", access_key_secret="not-shown", security_token="sts")  # fmt: skip
    assert isinstance(d._transport.client.auth, auth.ACS3Auth)
    d.whoami()
    assert script.requests[0].headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=AKTEST,")
    assert "not-shown" not in repr(d._transport.client.auth) + repr(d._transport.settings)


# ---- openai ----------------------------------------------------------------------------------------------

OPENAI_MODELS = {"object": "list", "data": [{"id": "qwen", "object": "model", "owned_by": "vllm"},
                                            {"id": "llama", "object": "model", "owned_by": "vllm"}]}  # fmt: skip


def test_openai_models_come_from_one_page_of_data_under_the_base_url():
    d, script = deck("openai", {"GET /v1/models": httpx.Response(200, json=OPENAI_MODELS),
                                "GET /v1/models/qwen": httpx.Response(200, json=OPENAI_MODELS["data"][0])})  # fmt: skip
    assert [(m.name, m.owner_workspace, m.actions) for m in d.models("ignored")] == [
        ("qwen", "vllm", ["inference"]), ("llama", "vllm", ["inference"])]
    assert d.model("qwen").id == "qwen"
    assert script.sent == ["GET /v1/models", "GET /v1/models/qwen"]
    assert all("x-modeldeck-workspace" not in r.headers for r in script.requests)  # no workspaces there
    assert dict(script.requests[0].url.params) == {}  # such a server filters nothing


def test_openai_has_one_implicit_workspace():
    d, script = deck("openai", {"GET /v1/models": httpx.Response(200, json=OPENAI_MODELS)}, workspace=None)
    me = d.whoami()  # reaches the server: a wrong URL or key fails at connect
    assert script.sent == ["GET /v1/models"] and me["workspace"]["name"] == "default"
    assert [w.name for w in d.workspaces()] == ["default"] and d.use("default").is_default
    with pytest.raises(errors.InvalidParameter) as err:
        d.use("team-b")
    assert err.value.code == "Provider.NoWorkspaces" and err.value.hint


def test_openai_chat_decodes_its_event_stream_and_errors_in_it():
    d, script = deck("openai", {"POST /v1/chat/completions": sse(
        delta("a"), ": ping", "", delta(""), delta("b", "length"),
        {"choices": [], "usage": {"completion_tokens": 2}}, "data: [DONE]")})  # fmt: skip
    chunks = list(d.chat("qwen", [{"role": "user", "content": "hi"}], stream=True, seed=1))
    assert "".join(c.text for c in chunks) == "ab" and chunks[-1].usage == {"completion_tokens": 2}
    assert json.loads(script.requests[0].content)["model"] == "qwen"  # no version suffix unless asked
    d, _ = deck("openai", {"POST /v1/chat/completions": sse(delta("a"), {"error": {"message": "overloaded",
                                                                                   "code": "Throttling"}})})  # fmt: skip
    stream = d.chat("qwen", "hi", stream=True)
    assert next(stream).text == "a"
    with pytest.raises(errors.Throttling):
        next(stream)


def test_openai_error_bodies_in_its_shapes_get_a_hint_written_for_such_servers():
    d, _ = deck("openai", {
        "GET /v1/models": httpx.Response(401, json={"error": {"message": "Incorrect API key provided.",
                                                              "type": "invalid_request_error", "code": "invalid_api_key"}}),
        "POST /v1/chat/completions": httpx.Response(404, json={"detail": "Not Found"}),
    })  # fmt: skip
    with pytest.raises(errors.InvalidApiKey) as err:
        d.models().list()
    assert err.value.message == "Incorrect API key provided." and "--api-key" in err.value.hint
    with pytest.raises(errors.NotFound) as err:
        d.chat("nope", "hi")
    assert err.value.message == "Not Found" and "deck.models()" in err.value.hint


def test_what_a_provider_cannot_do_is_refused_before_anything_is_sent():
    d, script = deck("openai", {})
    refusals = {
        "versions": lambda: d.versions("qwen"), "register": lambda: d.register("m", "oss://b/k"),
        "predict": lambda: d.predict("qwen", [[1]]), "grants": lambda: d.authorize("qwen", "team-b"),
        "approve": lambda: d.approve("qwen", "1.0.0"), "tasks": lambda: d.tasks(),
        "create_workspace": lambda: d.create_workspace("x"), "accounts": lambda: d.accounts(),
        "members": lambda: d.members("default"),
    }  # fmt: skip
    for capability, refused in refusals.items():
        with pytest.raises(errors.Unsupported) as err:
            refused()
        assert err.value.code == "Provider.Unsupported" and capability in err.value.message
        assert "local or server" in err.value.hint and not isinstance(err.value, errors.InvalidParameter)
    with pytest.raises(errors.Unsupported):
        d.chat("qwen", "hi", wait=False)  # chat it has; a task it has not
    assert script.requests == []
    assert d.capabilities == for_kind("openai").capabilities and d.provider == "openai"


def test_the_official_sdk_is_pointed_where_each_provider_chats():
    pytest.importorskip("openai")
    native, _ = deck("server", {})
    client = native.openai_client()
    assert str(client.base_url) == "http://127.0.0.1:1/v1/" and client.default_headers["X-ModelDeck-Workspace"] == "ws-1"
    other, _ = deck("openai", {}, workspace=None, api_key="sk-x")
    client = other.openai_client()
    assert str(client.base_url) == "http://127.0.0.1:1/v1/" and client.api_key == "sk-x"
    assert "X-ModelDeck-Workspace" not in client.default_headers
