"""One replica of a local deployment: a worker process serving one version, predict or chat (forked from
the warm template of `forks`, which then runs `main`).

Every replica of a deployment listens on the deployment's port with SO_REUSEPORT, so the kernel spreads
new connections over the replicas: no process of ours relays the bytes, and a replica that dies simply
leaves the group. A replica also listens on a private port of its own, so the controller can name it.

A replica of a predict version answers `POST /predict` and the Open Inference Protocol (`oip`); a replica of
a language-model version answers OpenAI's `POST /v1/chat/completions` (streamed or whole). Both answer
`GET /health`.

On probation (just after an upgrade switched traffic to it), a replica hands a request its model failed
(a server error, or inputs the model refused) to a replica of the version it replaces, through that one's
private port: the caller gets the old version's answer, and the failure is counted against the new version,
which the controller then rolls back (see `local.LocalEngine`).

The controller speaks to it in JSON lines:

- stdin: the config first, then `serve` (start listening; `serve {"fallback": [urls]}` on probation),
  `settle` (probation passed: stop handing requests over) and `drain` (stop listening, finish what is in
  flight, exit). End of input means the platform is gone: the replica exits too.
- stdout: `{"state": "ready"}` once the version is loaded and answered a warm-up on zeros (a one-token
  generation for a language model), or `{"state": "failed", "reason": ...}`; then
  `{"state": "serving", "private": port}`; then request counts (with the last failure) now and then.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ...errors import DeckError, InvalidParameter
from .. import chat, chatwire, fastpath, inference
from ..inference import Target
from ..wirejson import parse_json
from . import oip
from .guard import Guard

CHAT_PATH = "/v1/chat/completions"
TEXT_PATH = "/v1/completions"  # OpenAI's legacy completions: the prompt continued as raw text
RELAYED_HEADERS = (b"authorization", b"content-type", b"inference-header-content-length")
REPORT_INTERVAL = 0.05  # seconds between count reports: the controller's probation reads them
REQUESTS_PER_CONNECTION = 64
BACKGROUND_SECONDS = 2.0  # at most this long at idle priority while loading (see `Background`)


def warm_up(runtime: Any) -> None:
    """The health check: one predict on zeros shaped like the model's inputs (free dimensions of 1), or
    one generated token of a language model."""
    if runtime.format_type in chat.CHAT_FORMATS:
        runtime.complete([{"role": "user", "content": "hello"}], max_tokens=1)
        return
    import numpy as np

    inputs = {}
    for spec in runtime.inputs:
        shape = [d or 1 for d in spec.shape]
        inputs[spec.name] = np.full(shape, "", dtype=object) if spec.dtype == "string" else np.zeros(shape, spec.dtype)
    runtime.predict(inputs)


# What each format's runtime imports: the replica template imports it once, so its forks start with it.
RUNTIME_MODULES = {"ONNX": ("onnx", "onnxruntime"), "SkopsModel": ("skops.io",), "XGBoost": ("xgboost",),
                   "SafeTensors": ("torch", "transformers")}  # fmt: skip


def prepare(format_type: str) -> None:
    """Import the runtime of `format_type` (what a replica of it would import first); a missing one is
    left for the replica to report."""
    import importlib

    from .. import runtimes  # noqa: F401

    for name in RUNTIME_MODULES.get(format_type, ()):
        try:
            module = importlib.import_module(name)
        except ImportError:
            return
        if name == "transformers":  # its classes load on first use
            module.AutoTokenizer, module.AutoModelForCausalLM  # noqa: B018


class Background:
    """While a new replica loads and warms up, it runs at idle priority, so the replicas that serve keep
    the CPU; its threads are put back to normal priority once it is healthy, or after `BACKGROUND_SECONDS`
    (replicas kept busy would otherwise starve it, and an upgrade would never finish). Only where this
    process may raise its priority again (root, or a nice limit that allows it); elsewhere it loads as it is."""

    def __enter__(self) -> Background:
        self.timer = threading.Timer(BACKGROUND_SECONDS, self.restore)  # started first: it keeps normal priority
        self.timer.daemon = True
        self.idle = _may_restore()
        if self.idle:
            self.timer.start()
            self.idle = _set_policy(0, os.SCHED_IDLE)
        return self

    def restore(self) -> None:
        for tid in os.listdir("/proc/self/task"):  # threads started meanwhile inherited idle priority
            _set_policy(int(tid), os.SCHED_OTHER)

    def __exit__(self, *exc: Any) -> None:
        self.timer.cancel()
        if self.idle:
            self.restore()


def _may_restore() -> bool:
    if not hasattr(os, "SCHED_IDLE") or not os.path.isdir("/proc/self/task"):
        return False
    import resource

    nice = os.getpriority(os.PRIO_PROCESS, 0)
    return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_NICE)[0] >= 20 - nice


def _set_policy(tid: int, policy: int) -> bool:
    try:
        os.sched_setscheduler(tid, policy, os.sched_param(0))
    except OSError:
        return False
    return True


def load(folder: str, target: dict[str, Any]) -> Any:
    """The version's runtime: a chat runtime for a language model, the format's predict runtime otherwise."""
    if target["format_type"] in chat.CHAT_FORMATS:
        from ..runtimes.chat import load_chat_runtime

        return load_chat_runtime(Path(folder))
    from .. import runtimes

    return runtimes.load_runtime(folder, target["format_type"], entry=target["entry"])


def failure(exc: BaseException) -> str:
    """Why a version failed, for the deployment's events: the platform's message, or the exception's type."""
    if isinstance(exc, DeckError):
        return f"{exc.message} [{exc.code}]"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _wrong_kind(chatting: bool) -> InvalidParameter:
    if chatting:
        return InvalidParameter("This deployment serves a language model: chat with it.", code="Inference.NotPredict",
                                hint="deck.chat(None, messages, deployment=name), or POST /v1/chat/completions.")  # fmt: skip
    return InvalidParameter("This deployment does not serve a language model.", code="Inference.NotChat",
                            hint="deck.predict(None, inputs, deployment=name), or POST /predict.")  # fmt: skip


Answer = tuple[int, Any, bytes]  # status, body (bytes, or a StreamingResponse), content type


class ReplicaApp:
    """The replica's ASGI app, answered in the platform's JSON shapes (OpenAI's under /v1).

    A connection is closed after `REQUESTS_PER_CONNECTION` answers: the client's next connection lands on
    any replica, so load spreads again after a replica was replaced (kept-alive connections would stay
    piled on the replicas that survived). That costs one reconnect per 64 requests.
    """

    def __init__(self, config: dict[str, Any], runtime: Any, guard: Guard, spread: bool = True) -> None:
        self.target = Target(**config["target"])
        self.runtime = runtime
        self.chatting = self.target.format_type in chat.CHAT_FORMATS
        self.guard = guard
        self.extra = {"deployment": config["deployment"], "replica": config["replica"]}
        self.headers = [(b"x-modeldeck-replica", config["replica"].encode())]
        self.served = self.failed = 0
        self.last_failure = ""
        self.fallback: list[str] = []  # the private addresses of the replaced version's replicas, on probation
        self._relay: Any = None
        self._uses: dict[Any, int] = {}
        self.spread = spread  # False behind a proxy (Ray Serve's), which spreads the requests itself

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = await _body(receive) if scope["method"] == "POST" else b""
        try:
            status, body, kind = await self.route(scope, raw)
        except Exception as exc:
            status, body, kind = await self.failed_on(scope, raw, exc)
        headers = [*self.headers]
        if self.spread and self._used(scope.get("client")) >= REQUESTS_PER_CONNECTION:
            headers.append((b"connection", b"close"))
        if isinstance(body, StreamingResponse):
            body.raw_headers += headers
            return await body(scope, receive, send)
        headers += [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def route(self, scope: Scope, raw: bytes) -> Answer:
        path, post = _path(scope), scope["method"] == "POST"
        if path == "/health":
            return 200, json.dumps({"status": "ok", **self.extra, "version": self.target.version}).encode(), JSON
        if path == "/predict" and post:
            return 200, await self.predict(scope, raw), JSON
        if path in (CHAT_PATH, TEXT_PATH) and post:
            return await self.chat(scope, raw, text=path == TEXT_PATH)
        if path in oip.HEALTH:
            return 200, b"{}", JSON
        if not self.chatting and (action := oip.resolve(path, self.extra["deployment"], self.target)) is not None:
            return 200, await self.v2(scope, raw, action), JSON
        raise DeckError("No such endpoint.", code="NotFound", status=404,
                        hint="POST /predict, POST /v1/chat/completions, or the Open Inference Protocol under /v2.")  # fmt: skip

    async def failed_on(self, scope: Scope, raw: bytes, exc: Exception) -> Answer:
        """The answer to a request that raised: on probation, the old version's answer when it has one."""
        server_side = not isinstance(exc, DeckError) or (exc.status or 500) >= 500
        refused = isinstance(exc, DeckError) and exc.code == "Inference.InvalidInput"  # the model refused it
        if self.fallback and (server_side or refused):
            relayed = await self.relayed(scope, raw)
            if relayed is not None and relayed[0] < 400:  # the old version answers what this one failed
                self._count_failure(exc)
                return relayed
        if server_side:
            self._count_failure(exc)
        if not isinstance(exc, DeckError):  # the model's own failure: counted, never shown with its details
            exc = DeckError("The deployment's model failed.", hint="See the deployment's events.")
        shape = {"error": chatwire.openai_error(exc)} if _path(scope).startswith("/v1/") else exc.to_dict()
        return exc.status or 500, json.dumps(shape).encode(), JSON

    def _count_failure(self, exc: BaseException) -> None:
        self.failed += 1
        self.last_failure = failure(exc)

    async def relayed(self, scope: Scope, raw: bytes) -> Answer | None:
        """The request as a replica of the replaced version answers it (None when none could)."""
        import httpx

        if self._relay is None:
            self._relay = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=2.0))
        headers = {k.decode(): v.decode("latin-1") for k, v in scope["headers"] if k in RELAYED_HEADERS}
        for address in list(self.fallback):
            try:
                answer = await self._relay.post(address + scope["path"], content=raw, headers=headers)
            except httpx.HTTPError:
                continue
            return answer.status_code, answer.content, answer.headers.get("content-type", "application/json").encode()
        return None

    async def v2(self, scope: Scope, raw: bytes, action: str) -> bytes:
        """The Open Inference Protocol's model routes: metadata, readiness, infer."""
        self.guard.check(fastpath.header(scope, b"authorization"))
        name = self.extra["deployment"]
        if action == "/infer" and scope["method"] == "POST":
            length = fastpath.header(scope, b"inference-header-content-length")
            answer = await run_in_threadpool(oip.infer, name, self.target, self.runtime, raw, length)
            self.served += 1
            return answer
        if action == "/ready":
            return b"{}"
        return json.dumps(oip.metadata(name, self.target, self.runtime)).encode()

    def _used(self, client: Any) -> int:
        """How many answers this connection (the client's address and port) had, this one included."""
        if len(self._uses) > 10_000:  # connections that left early are forgotten now and then
            self._uses.clear()
        uses = self._uses[client] = self._uses.get(client, 0) + 1
        if uses >= REQUESTS_PER_CONNECTION:
            del self._uses[client]
        return uses

    async def predict(self, scope: Scope, raw: bytes) -> bytes:
        self.guard.check(fastpath.header(scope, b"authorization"))
        if self.chatting:
            raise _wrong_kind(True)
        body = fastpath.parse(raw)
        if self.runtime.nbytes <= fastpath.INLINE_BYTES:
            result = inference.answer(self.target, self.runtime, body)
        else:
            result = await run_in_threadpool(inference.answer, self.target, self.runtime, body)
        self.served += 1
        return fastpath.json_bytes({**result, **self.extra})

    async def chat(self, scope: Scope, raw: bytes, text: bool = False) -> Answer:
        """OpenAI's chat completions, or with `text` its text completions (`prompt` continued as raw text, no
        chat template). A stream's first step runs before any byte is sent, so a model that fails at once still
        gets a whole error answer (or, on probation, the old version's)."""
        self.guard.check(fastpath.header(scope, b"authorization"))
        if not self.chatting:
            raise _wrong_kind(False)
        body = parse_json(raw)
        if not isinstance(body, dict):
            raise InvalidParameter("The request body must be a JSON object.", code="InvalidParameter.Body",
                                   hint="Send a chat completion request.")  # fmt: skip
        model, params = body.get("model") or self.extra["deployment"], chat.params_of(body)
        if not body.get("stream"):
            if text:
                result = await run_in_threadpool(chat.complete_text, self.runtime, body.get("prompt"), params)
            else:
                result = await run_in_threadpool(chat.complete, self.runtime, body.get("messages"), params)
            self.served += 1
            return 200, json.dumps(chat.completion_body(model, result, text=text)).encode(), JSON
        cancel = threading.Event()
        if text:
            generation = chat.continuation(self.runtime, body.get("prompt"), params, cancel)
        else:
            generation = chat.stream(self.runtime, body.get("messages"), params, cancel)
        pieces = chatwire.generated(generation, cancel)
        try:
            first = await pieces.__anext__()
        except BaseException:
            cancel.set()
            raise
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        ident, created = ("cmpl-" if text else "chatcmpl-") + secrets.token_hex(12), int(time.time())

        async def rest() -> AsyncIterator[Any]:
            yield first
            async for piece in pieces:
                yield piece

        async def stream() -> AsyncIterator[bytes]:
            try:
                async for part in chatwire.events(ident, created, model, rest(), include_usage, text=text):
                    yield part
                self.served += 1
            finally:
                cancel.set()  # the client went away, or we are done: stop generating

        response = StreamingResponse(stream(), media_type="text/event-stream", headers=chatwire.SSE_HEADERS)
        return 200, response, b"text/event-stream"


JSON = b"application/json"


def _path(scope: Scope) -> str:
    """The path below the app's mount point (Ray Serve mounts it at the deployment's route prefix)."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def listen(host: str, port: int) -> socket.socket:
    """Join the deployment's port: every replica's socket is in one SO_REUSEPORT group."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def say(**message: Any) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    config = json.loads(sys.stdin.readline())
    with Background():
        try:
            runtime = load(config["folder"], config["target"])
            warm_up(runtime)
        except Exception as exc:
            say(state="failed", reason=failure(exc))
            return 1
        app = ReplicaApp(config, runtime, Guard(config["database_url"], config["workspace_id"]))
    say(state="ready")
    command = sys.stdin.readline().strip()
    if not command.startswith("serve"):
        return 0  # told to go before it served, or the platform is gone
    app.fallback = list(json.loads(command[5:] or "{}").get("fallback", []))
    import uvicorn

    shared, private = listen(config["host"], config["port"]), listen(config["host"], 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                           timeout_graceful_shutdown=10))  # fmt: skip
    server.config.install_signal_handlers = False  # type: ignore[attr-defined]

    def commands() -> None:
        while not server.started:
            time.sleep(0.005)
        say(state="serving", private=private.getsockname()[1])
        while sys.stdin.readline().strip() == "settle":
            app.fallback = []
        server.should_exit = True  # `drain`, or end of input: either way, stop taking requests

    def report() -> None:
        last = None
        while not server.should_exit:
            now = (app.served, app.failed)
            if now != last:
                say(state="counts", served=now[0], failed=now[1], failure=app.last_failure)
                last = now
            time.sleep(REPORT_INTERVAL)

    threading.Thread(target=commands, daemon=True).start()
    threading.Thread(target=report, daemon=True).start()
    server.run(sockets=[shared, private])
    return 0
