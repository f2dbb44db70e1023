"""Any OpenAI-compatible server: vLLM, Ollama, llama.cpp, a gateway, or the modeldeck platform's own `/v1`.

The profile's URL is the base URL an OpenAI SDK takes (it ends in `/v1`). Such a server lists models
(`GET /models`, one page under `data`) and chats (`POST /chat/completions`, server-sent events ending in
`data: [DONE]`); it has one implicit workspace, which is always current, and no registry.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import httpx

from .._http import Call
from ..errors import DeckError, InvalidParameter, error_fields, error_from_payload, response_payload
from ..resources import Chunk, Completion, Model, Workspace
from .base import Page, Provider, Stream, bearer

IMPLICIT_WORKSPACE = Workspace.from_json({
    "id": "default", "name": "default", "is_default": True, "role": None,
    "description": "An OpenAI-compatible server has no workspaces: this implicit one stands for the whole server.",
})  # fmt: skip

# Said when the server's own body says nothing more helpful; the platform's /v1 sends its own hints.
HINTS = {
    401: "Check the profile's API key (`modeldeck profile add NAME --kind openai --api-key -`, or OPENAI_API_KEY).",
    403: "The key may not use this model or endpoint; ask the server's operator.",
    404: "List what the server serves with deck.models(): the model id must match one exactly.",
    429: "The server is limiting requests: wait a moment and retry.",
}


def error(response: httpx.Response) -> DeckError:
    """An OpenAI-style error body (`{"error": {"message", "type", "code"}}`, or a bare `detail`) as a typed error."""
    payload = response_payload(response)
    fields = error_fields(payload)
    if not fields.get("message") and isinstance(payload.get("detail"), str):
        fields = {**fields, "message": payload["detail"]}
    if not fields.get("hint"):
        fields = {**fields, "hint": HINTS.get(response.status_code)}
    return error_from_payload(response.status_code, fields, response.headers.get("x-request-id"))


def chunk(line: str) -> Chunk | None:
    """One line of OpenAI's event stream: a `data:` chunk; None for keep-alives, comments and `[DONE]`."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    payload: dict[str, Any] = json.loads(data)
    if "error" in payload:  # an error after the stream began: the response was already 200
        raise error_from_payload(500, error_fields(payload))
    return Chunk.from_json(payload)


def as_model(item: dict[str, Any]) -> Model:
    """An OpenAI `model` object as a record: callable for inference, owned as the server says."""
    return Model.from_json({
        "id": item.get("id", ""), "model_name": item.get("id", ""), "owner_workspace": item.get("owned_by") or "",
        "source": "server", "actions": ["inference"], "created_at": None,
    })  # fmt: skip


def chat_at(path: str, headers: dict[str, str] | None = None) -> Any:
    """The chat plan of an OpenAI-style chat-completions endpoint at `path`, sending `headers` too."""
    extra = headers or {}

    def chat(body: dict[str, Any], stream: bool):  # type: ignore[no-untyped-def]
        if stream:
            return (yield Stream(Call("POST", path, json={**body, "stream": True}, headers=extra), lambda: chunk))
        return Completion.from_json((yield Call("POST", path, json=body, headers=extra)).json())

    return chat


# ---- leaf plans ------------------------------------------------------------------------------------


def whoami():  # type: ignore[no-untyped-def]
    """No accounts here: reaching the model list checks the URL and the key, at connect time."""
    yield Call("GET", "/models")
    return {"account": {"name": "", "kind": ""}, "workspace": IMPLICIT_WORKSPACE.raw}


def workspaces():  # type: ignore[no-untyped-def]
    yield from ()
    return [IMPLICIT_WORKSPACE]


def workspace(ref: str):  # type: ignore[no-untyped-def]
    yield from ()
    if ref not in (IMPLICIT_WORKSPACE.id, IMPLICIT_WORKSPACE.name):
        raise InvalidParameter(
            "This OpenAI-compatible server has no workspaces.",
            code="Provider.NoWorkspaces",
            hint="It has one implicit workspace, which is always current; workspaces exist on modeldeck profiles "
            "(local or server).",
        )
    return IMPLICIT_WORKSPACE


def models(params: dict[str, Any]) -> Page[Model]:
    """One page of `data`; the server filters nothing, so `params` are not sent."""
    return Page(Model, "/models", {}, "models", convert=as_model, items="data")


def model(ref: str):  # type: ignore[no-untyped-def]
    return as_model((yield Call("GET", "/models/" + quote(ref, safe=""))).json())


PROVIDER = Provider(
    name="openai",
    title="An OpenAI-compatible server",
    kinds=("openai",),
    capabilities=frozenset({"workspaces", "switch", "models", "chat"}),
    service="openai",
    plans=SimpleNamespace(
        whoami=whoami, workspaces=workspaces, workspace=workspace, models=models, model=model,
        chat=chat_at("/chat/completions"),
    ),  # fmt: skip
    auth=bearer,
    error=error,
    chunks=lambda: chunk,
    environment={"api_key": ("OPENAI_API_KEY",)},
    needs_credentials=False,  # a local server often wants no key
    openai_base=lambda url: url,
)
