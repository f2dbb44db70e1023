"""Predict on a small ONNX model through the platform vs onnxruntime itself and vs a minimal web app.

(a) Latency: one keep-alive httpx.Client POSTing /api/v1/models/linear/predict, against
    InferenceSession.run on the same file and input in this process (same session options as the
    platform: one thread). Target: platform p50 at most 1 ms above onnxruntime's p50.
(b) Throughput at concurrency 10: the platform against a minimal Starlette + onnxruntime app (no auth,
    no registry), each a single-worker uvicorn subprocess with the platform server's settings, driven by
    the same load generator (wrk when installed, else an asyncio + httpx process). Target: >= 0.7x.

Rounds alternate between the two sides of each comparison, so machine noise hits both alike.

    python bench/bench_predict.py [--rounds 5] [--requests 200] [--duration 5] [--generator auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

from _common import Server, env_line, median, percentile, verdict

from modeldeck import examples, transfer

LATENCY_BUDGET_MS = 1.0
THROUGHPUT_TARGET = 0.7
CONCURRENCY = 10
ROW = [5.1, 3.5, 1.4, 0.2]
BODY = json.dumps({"inputs": {"X": [ROW]}})

# The baseline: what anyone would write to serve this model, run the way PlatformServer runs the platform.
MINIMAL_APP = textwrap.dedent(
    """
    import socket, sys
    import numpy as np, onnxruntime as ort, uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(sys.argv[1], sess_options=options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]

    async def predict(request):
        body = await request.json()
        outputs = session.run(names, {"X": np.asarray(body["inputs"]["X"], dtype=np.float32)})
        return JSONResponse({"outputs": [{"name": n, "data": o.tolist()} for n, o in zip(names, outputs)]})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)  # connections wait in the backlog until uvicorn runs, as with PlatformServer
    print(f"serving on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])
    """
)

WRK_SCRIPT = """wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
{auth}
"""


class MinimalApp:
    def __init__(self, model: Path, tmp: Path) -> None:
        script = tmp / "minimal_app.py"
        script.write_text(MINIMAL_APP)
        command = [sys.executable, str(script), str(model)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self.url = re.search(r"serving on (\S+)", self.proc.stdout.readline()).group(1)  # type: ignore

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def load(generator: str, url: str, key: str | None, duration: int) -> float:
    """Requests per second from a separate load-generating process; any failed request aborts the bench."""
    if generator == "httpx":
        command = [sys.executable, __file__, "--loadgen", url, key or "", str(duration)]
        return float(subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()[-1])
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
        fh.write(WRK_SCRIPT.format(body=BODY, auth=auth))
    try:
        command = ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{duration}s", "-s", fh.name, url]
        run = subprocess.run(command, capture_output=True, text=True)
    finally:
        os.unlink(fh.name)
    out = run.stdout + run.stderr
    if run.returncode or "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk failed or saw failed requests:\n{out}")
    return float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))  # type: ignore[union-attr]


async def loadgen(url: str, key: str, duration: int) -> None:
    """The fallback generator (`--loadgen URL KEY SECONDS`): CONCURRENCY keep-alive workers, one client."""
    import httpx

    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        start, done = time.perf_counter(), 0

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < start + duration:
                (await client.post(url, content=BODY)).raise_for_status()
                done += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        print(done / (time.perf_counter() - start))


def setup_platform(server: Server, model: Path) -> None:
    with server.client() as client:
        artifact = transfer.upload_artifact(client, model)
        transfer.check(client.post("/api/v1/models", json={"model_name": "linear"}))
        version = {"uri": artifact["uri"], "format_type": "ONNX"}
        transfer.check(client.post("/api/v1/models/linear/versions", json=version))


def latency(server: Server, model: Path, rounds: int, requests: int) -> tuple[list[float], list[float]]:
    """Round trips in ms: platform predict and in-process InferenceSession.run, in alternating blocks."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    x = np.asarray([ROW], dtype=np.float32)
    url, headers = "/api/v1/models/linear/predict", {"Content-Type": "application/json"}
    platform_ms: list[float] = []
    ort_ms: list[float] = []
    with server.client() as client:
        got = transfer.check(client.post(url, content=BODY, headers=headers)).json()
        expected = session.run(None, {"X": x})[1]
        assert np.allclose(got["outputs"][1]["data"], expected, rtol=1e-5), "the platform predicts otherwise"
        for _ in range(rounds):
            for _ in range(requests):
                start = time.perf_counter()
                response = client.post(url, content=BODY, headers=headers)
                platform_ms.append((time.perf_counter() - start) * 1e3)
                response.raise_for_status()
            for _ in range(requests):
                start = time.perf_counter()
                session.run(None, {"X": x})
                ort_ms.append((time.perf_counter() - start) * 1e3)
    return platform_ms, ort_ms


def round_trips(url: str, count: int) -> list[float]:
    """Keep-alive round trips in ms to an endpoint that needs no key: the minimal app's HTTP floor."""
    times = []
    with httpx.Client() as client:
        for _ in range(count):
            start = time.perf_counter()
            client.post(url, content=BODY, headers={"Content-Type": "application/json"}).raise_for_status()
            times.append((time.perf_counter() - start) * 1e3)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds of each measurement (5)")
    parser.add_argument("--requests", type=int, default=200, help="latency requests per round and side (200)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per throughput round (5)")
    parser.add_argument("--generator", choices=["auto", "wrk", "httpx"], default="auto",
                        help="wrk when installed (auto), else an asyncio + httpx process")  # fmt: skip
    args = parser.parse_args()
    generator = args.generator if args.generator != "auto" else "wrk" if shutil.which("wrk") else "httpx"
    print(env_line())
    print("load generator:", "wrk -t1 -c10" if generator == "wrk" else "asyncio + httpx.AsyncClient x10")
    tmp = Path(tempfile.mkdtemp(prefix="modeldeck-bench-predict-"))
    app = None
    try:
        model = examples.onnx_linear(tmp / "linear.onnx")
        with Server(tmp / "home") as server:
            setup_platform(server, model)
            platform_ms, ort_ms = latency(server, model, args.rounds, args.requests)
            p50, o50 = median(platform_ms), median(ort_ms)
            print(f"latency platform predict: p50 {p50:.3f} ms  p99 {percentile(platform_ms, 99):.3f} ms")
            print(f"latency onnxruntime run:  p50 {o50:.3f} ms  p99 {percentile(ort_ms, 99):.3f} ms")

            app = MinimalApp(model, tmp)
            floor_ms = round_trips(f"{app.url}/predict", args.rounds * args.requests)
            print(f"latency minimal app:      p50 {median(floor_ms):.3f} ms  (any HTTP predict's floor here)")
            sides = {"platform": (f"{server.url}/api/v1/models/linear/predict", server.key),
                     "minimal": (f"{app.url}/predict", None)}  # fmt: skip
            for url, key in sides.values():
                load(generator, url, key, 1)  # warm-up: connections, first-call paths
            rps: dict[str, list[float]] = {name: [] for name in sides}
            for i in range(args.rounds):
                for name in ("platform", "minimal") if i % 2 == 0 else ("minimal", "platform"):
                    rps[name].append(load(generator, *sides[name], args.duration))
                    print(f"  round {i + 1} {name:8s} {rps[name][-1]:8.0f} req/s")
        platform_rps, minimal_rps = median(rps["platform"]), median(rps["minimal"])
        print(f"throughput at concurrency {CONCURRENCY}: platform {platform_rps:.0f} req/s, "
              f"minimal app {minimal_rps:.0f} req/s")
        over, ratio = p50 - o50, platform_rps / minimal_rps
        text = f"p50 +{over:.3f} ms over onnxruntime (target <= +{LATENCY_BUDGET_MS} ms)"
        ok_latency = verdict("predict_latency", text, over <= LATENCY_BUDGET_MS)
        text = f"{ratio:.2f}x of the minimal app (target >= {THROUGHPUT_TARGET}x)"
        ok_rps = verdict("predict_rps_c10", text, ratio >= THROUGHPUT_TARGET)
    finally:
        if app is not None:
            app.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok_latency and ok_rps else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--loadgen"]:
        asyncio.run(loadgen(sys.argv[2], sys.argv[3], int(sys.argv[4])))
        sys.exit(0)
    sys.exit(main())
