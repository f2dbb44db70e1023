"""Streamed chat through the platform's upstream proxy vs the same upstream called directly.

The upstream is a small but real OpenAI-compatible server in its own process (Starlette on uvicorn, the
stack vLLM's server uses): POST /v1/chat/completions with "stream": true answers server-sent events, a
role chunk, then one content chunk per word of a fixed reply, usage, `data: [DONE]`, and checks the bearer
key it was given. The platform (`modeldeck serve --allow-network 127.0.0.0/8`, its own process) has a
version whose inference_spec names that upstream, so it forwards the request with the upstream's model
name and key and relays the stream.

Time to first token: one keep-alive httpx.Client per side, from send to the first SSE data line whose
delta.content is non-empty. Requests alternate between the two sides, each taking turns to go first; the
verdict compares medians (target: the proxy's p50 at most 2 ms above the direct p50). Every request checks
that both sides stream the same text.

    python bench/bench_proxy.py [--rounds 10] [--requests 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from _common import Server, env_line, median, percentile, verdict

import modeldeck as md

BUDGET_MS = 2.0
MODEL, UPSTREAM_MODEL, UPSTREAM_KEY = "proxied-chat", "fake-llm", "upstream-bench-key"
MESSAGES = [{"role": "user", "content": "hello , tell me a story about the sea ."}]

UPSTREAM = r'''
import json, socket, sys, time
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

KEY, MODEL = sys.argv[1], sys.argv[2]
WORDS = "once upon a time the sea was calm and the moon was bright".split()

async def completions(request):
    if request.headers.get("authorization") != f"Bearer {KEY}":
        return JSONResponse({"error": {"message": "bad key", "type": "authentication_error"}}, status_code=401)
    body = await request.json()
    if body.get("model") != MODEL or not body.get("stream"):
        return JSONResponse({"error": {"message": "stream the fake model", "type": "invalid_request_error"}}, 400)
    created = int(time.time())

    def chunk(delta, finish=None, usage=None):
        event = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": created, "model": MODEL,
                 "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if usage:
            event["usage"] = usage
        return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"

    async def events():
        yield chunk({"role": "assistant", "content": ""})
        for i, word in enumerate(WORDS):
            yield chunk({"content": (" " if i else "") + word})
        yield chunk({}, "stop")
        yield chunk({}, usage={"prompt_tokens": 9, "completion_tokens": len(WORDS), "total_tokens": 9 + len(WORDS)})
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
print(f"upstream on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])
'''


def first_token(client: httpx.Client, url: str, model: str) -> tuple[float, str]:
    """Milliseconds from send to the first text, and the whole streamed text."""
    content = json.dumps({"model": model, "messages": MESSAGES, "stream": True, "max_tokens": 32}).encode()
    first, parts = None, []
    start = time.perf_counter()
    with client.stream("POST", url, content=content, headers={"Content-Type": "application/json"}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if "error" in event:
                raise RuntimeError(f"the stream failed: {event['error']}")
            for choice in event["choices"]:
                text = choice["delta"].get("content")
                if text:
                    first = first or time.perf_counter()
                    parts.append(text)
    if first is None:
        raise RuntimeError("the stream had no text")
    return (first - start) * 1e3, "".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="alternated rounds (10)")
    parser.add_argument("--requests", type=int, default=20, help="requests per round and side (20)")
    args = parser.parse_args()
    print(env_line())
    tmp = Path(tempfile.mkdtemp(prefix="modeldeck-bench-proxy-"))
    upstream = subprocess.Popen([sys.executable, "-c", UPSTREAM, UPSTREAM_KEY, UPSTREAM_MODEL],
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        upstream_url = upstream.stdout.readline().split()[-1]  # type: ignore[union-attr]
        with Server(tmp / "home", "--allow-network", "127.0.0.0/8") as server:
            spec = {"upstream": {"base_url": f"{upstream_url}/v1", "model": UPSTREAM_MODEL, "api_key": UPSTREAM_KEY}}
            with md.connect(url=server.url, api_key=server.key) as deck:
                deck.register(MODEL, f"{upstream_url}/v1", inference_spec=spec, progress=False)
            direct_client = httpx.Client(base_url=upstream_url, timeout=60,
                                         headers={"Authorization": f"Bearer {UPSTREAM_KEY}"})  # fmt: skip
            with server.client() as platform_client, direct_client:
                sides: dict[str, Callable[[], tuple[float, str]]] = {
                    "proxied": lambda: first_token(platform_client, "/v1/chat/completions", MODEL),
                    "direct": lambda: first_token(direct_client, "/v1/chat/completions", UPSTREAM_MODEL),
                }
                for side in sides.values():  # warm-up: connections, the platform's first authorization
                    for _ in range(20):
                        side()
                runs: dict[str, list[float]] = {name: [] for name in sides}
                names, expected = list(sides), sides["direct"]()[1]
                for i in range(args.rounds):
                    block: dict[str, list[float]] = {name: [] for name in sides}
                    for j in range(args.requests):
                        for name in names if (i + j) % 2 == 0 else names[::-1]:
                            ms, text = sides[name]()
                            if text != expected:
                                raise RuntimeError(f"{name} streamed {text!r}, expected {expected!r}")
                            block[name].append(ms)
                    for name in names:
                        runs[name] += block[name]
                    print(f"  round {i + 1:2d}  " + "  ".join(f"{n} ttft p50 {median(block[n]):6.3f} ms" for n in names),
                          flush=True)  # fmt: skip
    finally:
        upstream.terminate()
        upstream.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    proxied, direct = runs["proxied"], runs["direct"]
    for name, values in runs.items():
        print(f"time to first token, {name:8s}: p50 {median(values):6.3f} ms  p90 {percentile(values, 90):6.3f} ms  "
              f"(n={len(values)})")  # fmt: skip
    print(f"  median of the paired differences (proxied - direct): "
          f"{median([p - d for p, d in zip(proxied, direct)]):+6.3f} ms")
    over = median(proxied) - median(direct)
    ok = verdict("proxy_ttft_overhead", f"{over:+.3f} ms at p50 (target <= {BUDGET_MS:g} ms)", over <= BUDGET_MS)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
