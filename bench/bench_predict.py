"""Predict on a small ONNX model through the platform vs onnxruntime itself and vs a minimal web app.

(a) Latency: one keep-alive httpx.Client POSTing /api/v1/models/linear/predict, against
    InferenceSession.run on the same file and input in this process (same session options as the
    platform: one intra-op thread). Target: platform p50 at most 1 ms above onnxruntime's p50.
(b) Throughput at concurrency 10: the platform against a minimal Starlette + onnxruntime app (no auth,
    no registry), each a single-worker uvicorn subprocess with the platform server's settings, driven by
    the same load generator (wrk when installed, else an asyncio + httpx process). Target: >= 0.7x.

Rounds alternate between the two sides of each comparison, so machine noise hits both alike.

    python bench/bench_predict.py [--rounds 5] [--requests 200] [--duration 5]
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

from _common import Server, env_line, median, percentile, verdict

from modeldeck import examples, transfer

LATENCY_BUDGET_MS = 1.0
THROUGHPUT_TARGET = 0.7
CONCURRENCY = 10
ROW = [5.1, 3.5, 1.4, 0.2]

# The baseline app: what anyone would write to serve this model, run exactly like PlatformServer runs.
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
    config = uvicorn.Config(Starlette(routes=[Route("/predict", predict, methods=["POST"])]),
                            log_level="warning", access_log=False, timeout_graceful_shutdown=2)
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
        self.proc = subprocess.Popen([sys.executable, str(script), str(model)], stdout=subprocess.PIPE, text=True)
        self.url = re.search(r"serving on (\S+)", self.proc.stdout.readline()).group(1)  # type: ignore[union-attr]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def load(url: str, body: str, key: str | None, duration: int) -> float:
    """Requests per second from a separate load-generating process; any failed response aborts the bench."""
    if shutil.which("wrk"):
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
            auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
            fh.write(WRK_SCRIPT.format(body=body, auth=auth))
        try:
            run = subprocess.run(
                ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{duration}s", "-s", fh.name, url], capture_output=True, text=True
            )
        finally:
            os.unlink(fh.name)
        out = run.stdout + run.stderr
        if run.returncode or "Non-2xx" in out or "Socket errors" in out:
            raise RuntimeError(f"wrk failed or saw failed requests:\n{out}")
        return float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))  # type: ignore[union-attr]
    args = [sys.executable, __file__, "--loadgen", url, body, key or "", str(duration)]
    return float(subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()[-1])


async def _loadgen(url: str, body: str, key: str, duration: int) -> None:
    """The fallback generator: CONCURRENCY keep-alive workers on one AsyncClient for `duration` seconds."""
    import httpx

    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        deadline, done = time.perf_counter() + duration, 0

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                (await client.post(url, content=body)).raise_for_status()
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        print(done / (time.perf_counter() - start))


def setup_platform(server: Server, model: Path) -> None:
    with server.client() as client:
        artifact = transfer.upload_artifact(client, model)
        transfer.check(client.post("/api/v1/models", json={"model_name": "linear"}))
        version = {"uri": artifact["uri"], "format_type": "ONNX"}
        transfer.check(client.post("/api/v1/models/linear/versions", json=version))


def latency(server: Server, model: Path, rounds: int, requests: int) -> tuple[list[float], list[float]]:
    """Round-trip times in ms: platform predict and in-process InferenceSession.run, in alternating blocks."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    x = np.asarray([ROW], dtype=np.float32)
    body = {"inputs": {"X": [ROW]}}
    platform_ms: list[float] = []
    ort_ms: list[float] = []
    with server.client() as client:
        expected = session.run(None, {"X": x})[1].tolist()
        got = transfer.check(client.post("/api/v1/models/linear/predict", json=body)).json()
        assert np.allclose(got["outputs"][1]["data"], expected, rtol=1e-5), "the platform predicts otherwise"
        for _ in range(rounds):
            for _ in range(requests):
                start = time.perf_counter()
                response = client.post("/api/v1/models/linear/predict", json=body)
                platform_ms.append((time.perf_counter() - start) * 1e3)
                response.raise_for_status()
            for _ in range(requests):
                start = time.perf_counter()
                session.run(None, {"X": x})
                ort_ms.append((time.perf_counter() - start) * 1e3)
    return platform_ms, ort_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds of each measurement (default 5)")
    parser.add_argument("--requests", type=int, default=200, help="latency requests per round and side (default 200)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per throughput round (default 5)")
    args = parser.parse_args()
    print(env_line())
    print(f"load generator: {'wrk -t1 -c10' if shutil.which('wrk') else 'asyncio + httpx.AsyncClient, 10 workers'}")
    tmp = Path(tempfile.mkdtemp(prefix="modeldeck-bench-predict-"))
    app = None
    try:
        model = examples.onnx_linear(tmp / "linear.onnx")
        with Server(tmp / "home") as server:
            setup_platform(server, model)
            platform_ms, ort_ms = latency(server, model, args.rounds, args.requests)
            p50, o50 = median(platform_ms), median(ort_ms)
            print(f"latency platform predict:   p50 {p50:.3f} ms  p99 {percentile(platform_ms, 99):.3f} ms")
            print(f"latency onnxruntime run:    p50 {o50:.3f} ms  p99 {percentile(ort_ms, 99):.3f} ms")

            app = MinimalApp(model, tmp)
            body = json.dumps({"inputs": {"X": [ROW]}})
            sides = [("platform", f"{server.url}/api/v1/models/linear/predict", server.key),
                     ("minimal", f"{app.url}/predict", None)]  # fmt: skip
            for _, url, key in sides:
                load(url, body, key, 1)  # warm-up: connections, first-call paths
            rps: dict[str, list[float]] = {"platform": [], "minimal": []}
            for i in range(args.rounds):
                for name, url, key in sides if i % 2 == 0 else sides[::-1]:
                    rps[name].append(load(url, body, key, args.duration))
                    print(f"  round {i + 1} {name:8s} {rps[name][-1]:8.0f} req/s")
        platform_rps, minimal_rps = median(rps["platform"]), median(rps["minimal"])
        print(f"throughput at concurrency {CONCURRENCY}: platform {platform_rps:.0f} req/s, minimal app {minimal_rps:.0f} req/s")
        over = p50 - o50
        ok_latency = verdict(
            "predict_latency", f"p50 +{over:.3f} ms over onnxruntime (target <= +{LATENCY_BUDGET_MS} ms)",
            over <= LATENCY_BUDGET_MS,
        )  # fmt: skip
        ratio = platform_rps / minimal_rps
        ok_rps = verdict(
            "predict_throughput_c10", f"{ratio:.2f}x of minimal app (target >= {THROUGHPUT_TARGET}x)",
            ratio >= THROUGHPUT_TARGET,
        )  # fmt: skip
    finally:
        if app is not None:
            app.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok_latency and ok_rps else 1


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--loadgen":
        asyncio.run(_loadgen(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
        sys.exit(0)
    sys.exit(main())
