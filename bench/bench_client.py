"""The client's own costs: `import modeldeck`, a predict through Deck, and the first `connect()`.

1. `python -c "import modeldeck"` vs `python -c "import httpx"`, alternated (target: at most 1.5x).
2. A predict round trip through `Deck.predict` vs a raw `httpx.Client.post` to the same endpoint with the
   same body, alternated in one process (target: at most 0.5 ms more at p50).
3. The first `modeldeck.connect()` on a fresh home, which starts the shared embedded server, then the
   first call (`deck.models()`), and a second connect that finds the server (aim: connect and first call
   under a second).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import Server, env_line, median, percentile, verdict  # noqa: E402


def time_command(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def bench_import(rounds: int) -> bool:
    ours, base = [], []
    for _ in range(rounds):
        ours.append(time_command("import modeldeck"))
        base.append(time_command("import httpx"))
    ratio = median(ours) / median(base)
    print(f"import modeldeck: p50 {median(ours) * 1000:.1f} ms; import httpx: p50 {median(base) * 1000:.1f} ms")
    return verdict("import", f"{ratio:.2f}x of import httpx (target <= 1.5x)", ratio <= 1.5)


def bench_predict(requests: int, work: Path) -> bool:
    import modeldeck as md
    from modeldeck import examples

    with Server(work / "home") as server:
        deck = md.connect(url=server.url, api_key=server.key)
        deck.register("linear", examples.onnx_linear(work / "linear.onnx"), format="ONNX", progress=False)
        X, _ = examples.tabular_data(n=1)
        raw = server.client()
        body = {"inputs": X.tolist()}
        url = f"/api/v1/models/{deck.model('linear').id}/predict"
        ours, base = [], []
        for i in range(requests + 50):
            t0 = time.perf_counter()
            deck.predict("linear", X)
            t1 = time.perf_counter()
            raw.post(url, json=body).raise_for_status()
            t2 = time.perf_counter()
            if i >= 50:  # warm-up
                ours.append((t1 - t0) * 1000)
                base.append((t2 - t1) * 1000)
        deck.close()
        raw.close()
    extra = median(ours) - median(base)
    print(f"predict via Deck: p50 {median(ours):.3f} ms p99 {percentile(ours, 99):.3f} ms; "
          f"raw httpx: p50 {median(base):.3f} ms p99 {percentile(base, 99):.3f} ms")  # fmt: skip
    return verdict("deck_predict_overhead", f"+{extra:.3f} ms at p50 (target <= 0.5 ms)", extra <= 0.5)


CONNECT = """
import json, time
t = time.perf_counter()
import modeldeck as md
deck = md.connect()
connected = time.perf_counter() - t
list(deck.models())
print(json.dumps({"seconds": connected, "first_call": time.perf_counter() - t}))
"""


def bench_first_connect(rounds: int, work: Path) -> bool:
    from modeldeck import embedded

    cold, first_call, warm = [], [], []
    for i in range(rounds):
        env = {**os.environ, "MODELDECK_HOME": str(work / f"home-{i}"), "MODELDECK_CONFIG": str(work / "none.toml")}
        for series in (cold, warm):
            out = subprocess.run([sys.executable, "-c", CONNECT], env=env, capture_output=True, text=True, check=True)
            result = json.loads(out.stdout)
            series.append(result["seconds"])
            if series is cold:
                first_call.append(result["first_call"])
        embedded.stop(work / f"home-{i}")
    print(f"first connect on a fresh home (starts the embedded server): p50 {median(cold):.3f} s "
          f"(rounds: {', '.join(f'{c:.2f}' for c in cold)})")
    print(f"  ... and its first call (deck.models()) done:               p50 {median(first_call):.3f} s")
    print(f"connect when it runs (a new kernel):                        p50 {median(warm):.3f} s")
    ok = verdict("first_connect", f"{median(cold):.3f} s (target < 1 s)", median(cold) < 1.0)
    text = f"{median(first_call):.3f} s from start (target < 1 s)"
    return verdict("first_call", text, median(first_call) < 1.0) and ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    print(env_line())
    with tempfile.TemporaryDirectory() as tmp:
        ok = bench_import(args.rounds)
        ok &= bench_predict(args.requests, Path(tmp))
        ok &= bench_first_connect(5, Path(tmp))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
