"""Streamed chat through the platform's OpenAI surface vs the chat runtime itself, in this process.

(a) Time to first token: one keep-alive httpx.Client streaming POST /v1/chat/completions ("stream": true),
    from send to the first SSE data line whose delta.content is non-empty, against ChatRuntime.stream on
    the same folder, messages and parameters, from the call to the first delta with text. Target: the
    platform's p50 at most 5 ms above the runtime's p50.
(b) Tokens per second on a longer reply: content chunks / total time (send to `data: [DONE]`, or call to
    the generator's end), per request; the platform's median against the runtime's (informational).

The model is examples.tiny_causal_lm, greedy (temperature 0); the first seed whose reply to the prompt has
at least 8 pieces of text in 16 tokens is used, so neither side stops at once on an end-of-sequence token.
Every request checks that both sides generate the same tokens (usage.completion_tokens, and the text).
Requests alternate between the two sides, each taking turns to go first, so machine noise hits both
alike; the verdict compares medians, and the median of the paired differences is shown too.

    python bench/bench_chat.py [--rounds 10] [--requests 10] [--long-requests 3] [--long-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from _common import Server, env_line, median, percentile, verdict

import modeldeck as md
from modeldeck import examples

TTFT_BUDGET_MS = 5.0
MODEL = "tiny-chat"
MESSAGES = [{"role": "user", "content": "hello , tell me a long story about the sea and the moon ."}]
SHORT_TOKENS = 16
MIN_PIECES = 8
MAX_SEEDS = 20

# One request: ms to the first text, ms in all, pieces of text, completion tokens, text, ms to 1st event.
Run = tuple[float, float, int, int, str, float]


def pick_model(tmp: Path) -> tuple[Path, object, int]:
    """The first seed whose greedy reply has MIN_PIECES pieces of text in SHORT_TOKENS tokens."""
    from modeldeck.platform.runtimes.chat import load_chat_runtime

    for seed in range(MAX_SEEDS):
        folder = examples.tiny_causal_lm(tmp / f"tiny-chat-{seed}", seed=seed)
        runtime = load_chat_runtime(folder)
        pieces = sum(1 for d in runtime.stream(MESSAGES, max_tokens=SHORT_TOKENS, temperature=0) if d.text)
        if pieces >= MIN_PIECES:
            return folder, runtime, seed
        shutil.rmtree(folder)
    raise RuntimeError(f"no seed below {MAX_SEEDS} gives {MIN_PIECES} pieces in {SHORT_TOKENS} tokens")


def platform_run(client: httpx.Client, max_tokens: int) -> Run:
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}  # fmt: skip
    content = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    event_at, first, pieces, usage, parts = None, None, 0, None, []
    start = time.perf_counter()
    with client.stream("POST", "/v1/chat/completions", content=content, headers=headers) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            event_at = event_at or time.perf_counter()
            data = line[6:]
            if data == "[DONE]":
                break
            event = json.loads(data)
            if "error" in event:
                raise RuntimeError(f"the platform's stream failed: {event['error']}")
            if event.get("usage"):
                usage = event["usage"]
            for choice in event["choices"]:
                text = choice["delta"].get("content")
                if text:
                    if first is None:
                        first = time.perf_counter()
                    pieces += 1
                    parts.append(text)
        end = time.perf_counter()
    if first is None or usage is None:
        raise RuntimeError("the platform's stream had no text or no usage")
    ms = (first - start) * 1e3, (end - start) * 1e3, (event_at - start) * 1e3  # type: ignore[operator]
    return ms[0], ms[1], pieces, usage["completion_tokens"], "".join(parts), ms[2]


def runtime_run(runtime: object, max_tokens: int) -> Run:
    first, pieces, parts = None, 0, []
    start = time.perf_counter()
    for delta in runtime.stream(MESSAGES, max_tokens=max_tokens, temperature=0):  # type: ignore[attr-defined]
        if delta.text:
            if first is None:
                first = time.perf_counter()
            pieces += 1
            parts.append(delta.text)
    end = time.perf_counter()
    if first is None:
        raise RuntimeError("the runtime generated no text")
    ttft = (first - start) * 1e3
    return ttft, (end - start) * 1e3, pieces, delta.completion_tokens, "".join(parts), ttft


def alternate(
    sides: dict[str, Callable[[], Run]], rounds: int, requests: int, label: str, show: Callable[..., str]
) -> dict[str, list[Run]]:
    """`requests` pairs per round, the sides taking turns to go first (noise on this 2-core machine comes and
    goes within seconds, so pairs share it better than blocks would); every reply must equal the first."""
    runs: dict[str, list[Run]] = {name: [] for name in sides}
    names = list(sides)
    expected: tuple[int, str] | None = None
    for i in range(rounds):
        block: dict[str, list[Run]] = {name: [] for name in sides}
        for j in range(requests):
            for name in names if (i + j) % 2 == 0 else names[::-1]:
                run = sides[name]()
                expected = expected or (run[3], run[4])
                if (run[3], run[4]) != expected:
                    raise RuntimeError(f"{label}: {name} differs ({run[3]} vs {expected[0]} tokens)")
                block[name].append(run)
        for name in names:
            runs[name] += block[name]
        print(f"  {label} round {i + 1:2d}  " + "  ".join(f"{n} {show(block[n])}" for n in names), flush=True)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="alternated rounds of each measurement (10)")
    parser.add_argument("--requests", type=int, default=10, help="ttft requests per round and side (10)")
    parser.add_argument("--long-requests", type=int, default=3, help="long replies per round and side (3)")
    parser.add_argument("--long-tokens", type=int, default=64, help="max_tokens of the long reply (64)")
    args = parser.parse_args()
    import torch
    import transformers

    print(env_line())
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    tmp = Path(tempfile.mkdtemp(prefix="modeldeck-bench-chat-"))
    try:
        folder, runtime, seed = pick_model(tmp)
        with Server(tmp / "home") as server:
            with md.connect(url=server.url, api_key=server.key) as deck:
                deck.register(MODEL, folder, format="SafeTensors", progress=False)
            with server.client() as client:
                short = {"platform": lambda: platform_run(client, SHORT_TOKENS),
                         "in-process": lambda: runtime_run(runtime, SHORT_TOKENS)}  # fmt: skip
                long = {"platform": lambda: platform_run(client, args.long_tokens),
                        "in-process": lambda: runtime_run(runtime, args.long_tokens)}  # fmt: skip
                # Warm-up: the platform loads the model on first use; both sides' first torch calls.
                replies = {}
                for label, sides in (("ttft", short), ("long", long)):
                    p, r = ([side() for _ in range(3)][-1] for side in sides.values())
                    if (p[3], p[4]) != (r[3], r[4]):
                        raise RuntimeError(f"{label}: the platform made {p[3]} tokens, the runtime {r[3]}")
                    replies[label] = r
                (short_pieces, short_tokens), (pieces, tokens) = replies["ttft"][2:4], replies["long"][2:4]
                print(f"model: tiny_causal_lm seed {seed}, greedy; ttft reply {short_pieces} pieces of text "
                      f"in {short_tokens} tokens; long reply {pieces} pieces in {tokens} tokens (both sides)")

                def ttft(block: list[Run]) -> str:
                    return f"ttft p50 {median([b[0] for b in block]):7.2f} ms"

                def rate(block: list[Run]) -> str:
                    return f"{median([b[2] / b[1] * 1e3 for b in block]):5.0f} tokens/s"

                first = alternate(short, args.rounds, args.requests, "ttft", ttft)
                tps = alternate(long, args.rounds, args.long_requests, "long", rate)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    p_ttft, r_ttft = ([run[0] for run in first[name]] for name in ("platform", "in-process"))
    p50, r50 = median(p_ttft), median(r_ttft)
    print(f"time to first token, platform:   p50 {p50:7.2f} ms  p90 {percentile(p_ttft, 90):7.2f} ms  "
          f"(n={len(p_ttft)})")
    first_event = [run[5] for run in first["platform"]]
    print(f"  of which to the platform's first SSE event (the empty role chunk, before any generation): "
          f"p50 {median(first_event):7.2f} ms")
    print(f"time to first token, in-process: p50 {r50:7.2f} ms  p90 {percentile(r_ttft, 90):7.2f} ms  "
          f"(n={len(r_ttft)})")
    print(f"  median of the paired differences (platform - in-process): "
          f"{median([p - r for p, r in zip(p_ttft, r_ttft)]):+7.2f} ms")
    p_rate, r_rate = ([run[2] / run[1] * 1e3 for run in tps[name]] for name in ("platform", "in-process"))
    p_tps, r_tps = median(p_rate), median(r_rate)
    print(f"tokens per second ({pieces} content chunks per reply), platform:   median {p_tps:7.0f}  "
          f"(reply {median([run[1] for run in tps['platform']]):7.1f} ms)")
    print(f"tokens per second ({pieces} content chunks per reply), in-process: median {r_tps:7.0f}  "
          f"(reply {median([run[1] for run in tps['in-process']]):7.1f} ms)")
    over = p50 - r50
    text = f"{over:+.2f} ms at p50 (target <= {TTFT_BUDGET_MS:g} ms)"
    ok = verdict("chat_ttft_overhead", text, over <= TTFT_BUDGET_MS)
    print(f"RESULT chat_tokens_per_s: {p_tps / r_tps:.2f}x of in-process "
          f"({p_tps:.0f} vs {r_tps:.0f} tokens/s, informational)", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
