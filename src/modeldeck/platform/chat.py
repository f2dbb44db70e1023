"""Chat with language-model versions: find the version the caller may call, load it once, generate.

A chat version is a Hugging Face folder (config, safetensors weights, tokenizer) registered with format
`SafeTensors`; authorization is predict's (`inference` on the model, `invoke` in the workspace).

A `model` that names a deployment of the caller's workspace is served by that deployment's replicas; a
pinned `name:1.2.0` always names a registered version. So when a deployment and a model share a name (the
default: `deck.deploy("my-llm")` names the deployment after its model), the unpinned name is the deployment
and the pinned one the version, chatted with in the platform process.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter
from . import chatwire, fastpath, inference, registry, upstream
from .upstream import Upstream
from .artifacts import materialize
from .authz import Caller, authenticate, enter
from .ids import is_api_key, key_digest

if TYPE_CHECKING:
    from .context import Services
    from .runtimes.chat import ChatDelta, ChatResult, ChatRuntime

CHAT_FORMATS = frozenset({"SafeTensors"})
_PINNED = re.compile(r"^(?P<model>.+):(?P<version>\d+\.\d+\.\d+(?:_\w+)?)$")


def split_model(name: Any) -> tuple[str, str | None]:
    """`iris` is the newest usable version, `iris:1.2.0` a pinned one (OpenAI clients send one string)."""
    if not isinstance(name, str) or not name:
        raise InvalidParameter(
            "model must name a model.", code="InvalidParameter.Chat", hint="Send the model's name, like 'my-llm'."
        )
    pinned = _PINNED.match(name)
    return (pinned["model"], pinned["version"]) if pinned else (name, None)


@dataclass(frozen=True)
class DeploymentChat:
    """A chat served by a deployment's replicas; their endpoint is read when the request is sent."""

    id: str
    name: str


Found = inference.Target | Upstream | DeploymentChat  # what answers a chat


def find(platform: Services, caller: Caller, model: str) -> Found:
    """What answers a chat with `model` here: a deployment of the caller's workspace, a local
    language-model version, or the upstream server it proxies to; the service layer's precise error otherwise."""
    from .deployments import service as deployments

    name, version = split_model(model)
    caller.require("invoke")
    with platform.store.read() as db:
        deployed = deployments.named(db, caller, name) if version is None else None
        if deployed is not None:
            return DeploymentChat(deployed.id, deployed.name)
        view, row = registry.get_version(db, caller, name, version, need="inference")
        proxied = upstream.of_version(db, row)
    if proxied is not None:
        return proxied
    target = inference.target_of(view, row)
    if target.format_type not in CHAT_FORMATS:
        raise InvalidParameter(
            f"Model {target.model_name!r} version {target.version} is not a language model.",
            code="Inference.NotChat",
            hint="Chat needs a version registered with format SafeTensors (a Hugging Face folder); "
            "call predict for other checkpoints.",
        )
    return target


def locate(platform: Services, key: str | None, ws_ref: str | None, model: Any) -> Found | None:
    """`find` for the holder of `key`, as remembered from an earlier identical request while the database
    is unchanged (see `fastpath.remember`); None when not remembered: then call `find_for`."""
    if not key or not is_api_key(key) or not isinstance(model, str):
        return None
    return fastpath.recall(platform, ("chat", key_digest(key), ws_ref or None, model))


def find_for(platform: Services, key: str | None, ws_ref: str | None, model: Any) -> Found:
    """The full road: authenticate, enter the workspace, find; the answer is remembered for `locate`."""

    def full() -> Found:
        with platform.store.read() as db:
            caller = enter(db, authenticate(db, key), ws_ref)
        return find(platform, caller, model)

    if not key or not is_api_key(key) or not isinstance(model, str):  # the full road raises the precise error;
        return full()  # a token's answer is not remembered: it expires with time, not with a commit
    return fastpath.remember(platform, ("chat", key_digest(key), ws_ref or None, model), full)


def runtime(platform: Services, target: inference.Target) -> ChatRuntime:
    """The loaded runtime of a chat version (loaded once, kept in the platform's runtime cache)."""

    def load() -> Any:
        from .runtimes.chat import load_chat_runtime

        with platform.store.read() as db:
            artifact = db.get_one(registry.Artifact, (target.owner_workspace_id, target.artifact_digest))
        return load_chat_runtime(materialize(platform.blobs, platform.settings.home / "cache" / "artifacts", artifact))

    return platform.runtimes.get(runtime_key(target), load)


def runtime_key(target: inference.Target) -> str:
    return f"chat|{target.artifact_digest}"


def params_of(body: dict[str, Any]) -> dict[str, Any]:
    """The generation parameters of an OpenAI-style request body."""
    return {k: body[k] for k in ("max_tokens", "temperature", "top_p", "seed", "stop") if body.get(k) is not None}


def _validated(messages: Any, params: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Checked messages and parameters with every default filled in (the runtime module loads lazily)."""
    from .runtimes.chat import validate_chat_params

    return validate_chat_params(messages, params)


def complete(runtime: ChatRuntime, messages: Any, params: dict[str, Any]) -> ChatResult:
    messages, params = _validated(messages, params)
    return runtime.complete(messages, **params)


def stream(runtime: ChatRuntime, messages: Any, params: dict[str, Any], cancel: Any) -> Iterator[ChatDelta]:
    messages, params = _validated(messages, params)
    return runtime.stream(messages, cancel=cancel, **params)


def continuation(runtime: ChatRuntime, prompt: Any, params: dict[str, Any], cancel: Any) -> Iterator[ChatDelta]:
    """A text completion: the prompt continued as raw text (`ChatRuntime.continuation`), streamed."""
    if not isinstance(prompt, str) or not prompt:
        raise InvalidParameter("prompt must be the text to continue.", code="InvalidParameter.Chat",
                               hint='Send {"prompt": "Once upon a time", "max_tokens": 64}.')  # fmt: skip
    return runtime.continuation(prompt, cancel=cancel, **params)


def complete_text(runtime: ChatRuntime, prompt: Any, params: dict[str, Any]) -> ChatResult:
    from .runtimes.chat import collect

    return collect(continuation(runtime, prompt, params, None))


def completion_body(model: str, result: ChatResult, *, text: bool = False) -> dict[str, Any]:
    """An OpenAI chat.completion object for a finished generation; with `text`, a text_completion (the
    legacy `/v1/completions` answer: `choices[].text`)."""
    choice: dict[str, Any] = (
        {"text": result.text} if text else {"message": {"role": "assistant", "content": result.text}}
    )
    return {
        "id": ("cmpl-" if text else "chatcmpl-") + secrets.token_hex(12),
        "object": "text_completion" if text else "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, **choice, "finish_reason": result.finish_reason}],
        "usage": chatwire.usage(result.prompt_tokens, result.completion_tokens),
    }  # fmt: skip


def check_task_input(body: Any) -> Any:
    """Refuse a malformed chat task at submit, before it is queued."""
    if not isinstance(body, dict):
        raise InvalidParameter("A chat task's input is an object with messages.", code="InvalidParameter.Chat",
                               hint='Send {"messages": [{"role": "user", "content": "..."}], "max_tokens": 64}.')  # fmt: skip
    _validated(body.get("messages"), params_of(body))
    return body


def run_task(platform: Services, caller: Caller, request: dict[str, Any], progress: Any, cancelled: Any) -> dict[str, Any]:
    """The `chat` task kind: generate the whole reply, reporting progress, stopping when cancelled."""
    model = request["model"] + (f":{request['version']}" if request.get("version") else "")
    body = request["input"]
    found = find(platform, caller, model)
    if isinstance(found, Upstream):
        return upstream.complete(found, {**params_of(body), "messages": body.get("messages")}, platform.settings)
    messages, params = _validated(body.get("messages"), params_of(body))
    text, last = [], None
    for delta in runtime(platform, found).stream(messages, cancel=cancelled, **params):
        text.append(delta.text)
        last = delta
        progress(min(0.99, len(text) / params["max_tokens"]))
    from .runtimes.chat import ChatResult

    assert last is not None, "a stream always ends with a delta that says why"
    result = ChatResult("".join(text), last.finish_reason or "stop", last.prompt_tokens, last.completion_tokens)
    return completion_body(model, result)
