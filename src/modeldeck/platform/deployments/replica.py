"""One replica of a local deployment: a worker process serving one version's predict.

Every replica of a deployment listens on the deployment's port with SO_REUSEPORT, so the kernel spreads
new connections over the replicas: no process of ours relays the bytes, and a replica that dies simply
leaves the group. The controller speaks to it in JSON lines:

- stdin: the config first, then the commands `serve` (start listening) and `drain` (stop listening,
  finish what is in flight, exit). End of input means the platform is gone: the replica exits too.
- stdout: `{"state": "ready"}` once the version is loaded and answered a warm-up predict, or
  `{"state": "failed", "reason": ...}`; then `{"state": "serving"}`; then request counts now and then.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from ...errors import DeckError
from .. import fastpath, inference
from ..inference import Target
from . import oip
from .guard import Guard


def warm_up(runtime: Any) -> None:
    """The health check: one predict on zeros shaped like the model's inputs (free dimensions of 1)."""
    import numpy as np

    inputs = {}
    for spec in runtime.inputs:
        shape = [d or 1 for d in spec.shape]
        inputs[spec.name] = np.full(shape, "", dtype=object) if spec.dtype == "string" else np.zeros(shape, spec.dtype)
    runtime.predict(inputs)


def failure(exc: BaseException) -> str:
    """Why a version failed, for the deployment's events: the platform's message, or the exception's type."""
    if isinstance(exc, DeckError):
        return f"{exc.message} [{exc.code}]"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


REQUESTS_PER_CONNECTION = 64


class ReplicaApp:
    """POST /predict and GET /health, answered in the platform's JSON shapes.

    A connection is closed after `REQUESTS_PER_CONNECTION` answers: the client's next connection lands on
    any replica, so load spreads again after a replica was replaced (kept-alive connections would stay
    piled on the replicas that survived). That costs one reconnect per 64 requests.
    """

    def __init__(self, config: dict[str, Any], runtime: Any, guard: Guard) -> None:
        self.target = Target(**config["target"])
        self.runtime = runtime
        self.guard = guard
        self.extra = {"deployment": config["deployment"], "replica": config["replica"]}
        self.headers = [(b"content-type", b"application/json"), (b"x-modeldeck-replica", config["replica"].encode())]
        self.served = self.failed = 0
        self._uses: dict[Any, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        status, body = 200, b""
        try:
            path = scope["path"]
            if path == "/health":
                body = json.dumps({"status": "ok", **self.extra, "version": self.target.version}).encode()
            elif path == "/predict" and scope["method"] == "POST":
                body = await self.predict(scope, receive)
            elif path in oip.HEALTH:
                body = b"{}"
            elif (action := oip.resolve(path, self.extra["deployment"], self.target)) is not None:
                body = await self.v2(scope, receive, action)
            else:
                raise DeckError("No such endpoint.", code="NotFound", status=404,
                                hint="POST /predict, or the Open Inference Protocol under /v2.")  # fmt: skip
        except DeckError as exc:
            status, body = exc.status or 500, json.dumps(exc.to_dict()).encode()
        except Exception:  # the model's own failure: counted, and never shown with its details
            status = 500
            body = json.dumps(DeckError("The deployment's model failed.", hint="See the deployment's events.").to_dict()).encode()
        if status >= 500:
            self.failed += 1
        headers = [*self.headers, (b"content-length", str(len(body)).encode())]
        if self._used(scope.get("client")) >= REQUESTS_PER_CONNECTION:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def v2(self, scope: Scope, receive: Receive, action: str) -> bytes:
        """The Open Inference Protocol's model routes: metadata, readiness, infer."""
        self.guard.check(fastpath.header(scope, b"authorization"))
        name = self.extra["deployment"]
        if action == "/infer" and scope["method"] == "POST":
            raw = await _body(receive)
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

    async def predict(self, scope: Scope, receive: Receive) -> bytes:
        self.guard.check(fastpath.header(scope, b"authorization"))
        raw = await _body(receive)
        body = fastpath.parse(raw)
        if self.runtime.nbytes <= fastpath.INLINE_BYTES:
            result = inference.answer(self.target, self.runtime, body)
        else:
            result = await run_in_threadpool(inference.answer, self.target, self.runtime, body)
        self.served += 1
        return fastpath.json_bytes({**result, **self.extra})


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
    from .. import runtimes

    try:
        runtime = runtimes.load_runtime(config["folder"], config["target"]["format_type"], entry=config["target"]["entry"])
        warm_up(runtime)
    except Exception as exc:
        say(state="failed", reason=failure(exc))
        return 1
    app = ReplicaApp(config, runtime, Guard(config["database_url"], config["workspace_id"]))
    say(state="ready")
    if sys.stdin.readline().strip() != "serve":
        return 0  # told to go before it served, or the platform is gone
    import uvicorn

    sock = listen(config["host"], config["port"])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                           timeout_graceful_shutdown=10))  # fmt: skip
    server.config.install_signal_handlers = False  # type: ignore[attr-defined]

    def commands() -> None:
        while not server.started:
            time.sleep(0.005)
        say(state="serving")
        sys.stdin.readline()  # `drain`, or end of input: either way, stop taking requests
        server.should_exit = True

    def report() -> None:
        last = None
        while not server.should_exit:
            now = (app.served, app.failed)
            if now != last:
                say(state="counts", served=now[0], failed=now[1])
                last = now
            time.sleep(0.2)

    threading.Thread(target=commands, daemon=True).start()
    threading.Thread(target=report, daemon=True).start()
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
