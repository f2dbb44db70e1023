"""Deployments on the local engine: where requests really go, and what an upgrade costs.

(a) Throughput at concurrency 16 (wrk, one thread, keep-alive: one is plenty for 16 connections, and a
    second would take CPU from the replicas on 2 cores): POST {endpoint}/predict of a deployment with 2
    replicas against the platform's own in-process predict (`/api/v1/models/linear/predict`, one process),
    same model and body. Target: >= 1.6x (the replicas share the port through SO_REUSEPORT, no relay).
    A 1-replica deployment is shown too, for the cost of the replica process itself.
(b) Time to finish a rolling upgrade of 2 replicas (POST /upgrade until GET ?wait= says Running).
(c) p99 latency under the same load during a rolling upgrade against at rest. Target: <= 3x. The upgrade
    is covered by back-to-back 1 s wrk runs; its p99 is the worst of them (probation included: the old
    replicas serve until the new ones passed their first requests), against the worst of as many 1 s runs
    at rest right after. wrk does not retry; a connection reset
    by a draining replica shows as a socket error (deck clients retry those).

Rounds alternate the sides of each comparison, so machine noise hits both alike.

    python bench/bench_deploy.py [--rounds 3] [--duration 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import Server, env_line, median, verdict

from modeldeck import examples, transfer

CONCURRENCY = 16
THROUGHPUT_TARGET = 1.6
P99_TARGET = 3.0
BODY = json.dumps({"inputs": {"X": [[5.1, 3.5, 1.4, 0.2]]}})
WRK_SCRIPT = """wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
"""


def wrk(url: str, key: str, duration: int) -> dict[str, float]:
    """Requests per second, p99 in ms and socket errors of `duration` seconds of load on `url`."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_SCRIPT.format(body=BODY, key=key))
    try:
        command = ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{duration}s", "--latency", "-s", fh.name, url]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(fh.name)
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw failed requests:\n{out}")
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]  # type: ignore[union-attr]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p99": float(p99.group(1)) * scale,  # type: ignore[union-attr]
        "errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def setup(server: Server, tmp: Path) -> dict[str, str]:
    """Model `linear` in two versions, deployed with 2 replicas (`two`) and 1 replica (`one`)."""
    with server.client() as client:
        transfer.check(client.post("/api/v1/models", json={"model_name": "linear"}))
        for seed, version in ((0, "1.0.0"), (1, "2.0.0")):
            artifact = transfer.upload_artifact(client, examples.onnx_linear(tmp / f"m{seed}.onnx", seed=seed))
            body = {"uri": artifact["uri"], "format_type": "ONNX", "version_name": version}
            transfer.check(client.post("/api/v1/models/linear/versions", json=body))
        endpoints = {}
        for name, replicas in (("two", 2), ("one", 1)):
            body = {"name": name, "model": "linear", "version": "1.0.0", "replicas": replicas, "upgrade": "rolling"}
            transfer.check(client.post("/api/v1/deployments", json=body))
            record = settle(client, name)
            assert record["status"] == "Running", record
            endpoints[name] = record["endpoint"] + "/predict"
    return endpoints


def settle(client: object, name: str) -> dict:
    while True:
        record = client.get(f"/api/v1/deployments/{name}", params={"wait": 30}).json()  # type: ignore[attr-defined]
        if record["status"] not in ("Creating", "Upgrading", "RollingBack", "Deleting"):
            return record


def upgrade(server: Server, version: str) -> float:
    """Seconds for a rolling upgrade of `two` to `version`, from the request until it is Running again."""
    with server.client() as client:
        start = time.perf_counter()
        transfer.check(client.post("/api/v1/deployments/two/upgrade", json={"version": version, "mode": "rolling"}))
        record = settle(client, "two")
        took = time.perf_counter() - start
    assert record["status"] == "Running" and record["versions"] == [version], record
    return took


def wrk_options(doc: str | None) -> argparse.Namespace | None:
    """`--rounds` and `--duration` of a bench that wrk drives; None (said why) when wrk is missing."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk): it drives this bench")
        return None
    return args


def main() -> int:
    args = wrk_options(__doc__)
    if args is None:
        return 1
    print(env_line())
    print(f"load generator: wrk -t1 -c{CONCURRENCY} -d{args.duration}s, keep-alive")
    tmp = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    server = Server(tmp / "home")
    try:
        endpoints = setup(server, tmp)
        inproc_url = f"{server.url}/api/v1/models/linear/predict"
        rates: dict[str, list[float]] = {"in-process": [], "1 replica": [], "2 replicas": []}
        rest_p99, upgrade_p99, upgrade_s, upgrade_errors = [], [], [], 0
        version = "1.0.0"
        for _ in range(args.rounds):
            for side, url in (("in-process", inproc_url), ("2 replicas", endpoints["two"]), ("1 replica", endpoints["one"])):
                result = wrk(url, server.key, args.duration)
                rates[side].append(result["rps"])
            version = "2.0.0" if version == "1.0.0" else "1.0.0"
            took: list[float] = []
            upgrader = threading.Thread(target=lambda v=version: took.append(upgrade(server, v)))
            upgrader.start()
            bursts = []
            while upgrader.is_alive() or not bursts:  # 1 s bursts cover the whole upgrade, however long
                bursts.append(wrk(endpoints["two"], server.key, 1))
            upgrader.join()
            upgrade_s.append(took[0])
            upgrade_p99.append(max(b["p99"] for b in bursts))  # the worst second of the upgrade
            # like with like: the worst second of as many seconds at rest, right after
            rest_p99.append(max(wrk(endpoints["two"], server.key, 1)["p99"] for _ in bursts))
            upgrade_errors += sum(int(b["errors"]) for b in bursts)
        for side, values in rates.items():
            print(f"{side:>11}: median {median(values):8.0f} req/s  (rounds: {', '.join(f'{v:.0f}' for v in values)})")
        ratio = median(rates["2 replicas"]) / median(rates["in-process"])
        print(f"rolling upgrade of 2 replicas: median {median(upgrade_s):.2f} s  (rounds: {', '.join(f'{v:.2f}' for v in upgrade_s)})")
        p99_ratio = median(upgrade_p99) / median(rest_p99)
        print(f"worst second's p99 at rest {median(rest_p99):.2f} ms, of a rolling upgrade {median(upgrade_p99):.2f} ms; "
              f"socket errors during upgrades (retried by deck clients): {upgrade_errors}")  # fmt: skip
        ok = verdict("deploy-throughput", f"2 replicas / in-process = {ratio:.2f}x (target >= {THROUGHPUT_TARGET}x)",
                     ratio >= THROUGHPUT_TARGET)  # fmt: skip
        ok &= verdict("deploy-p99-during-upgrade", f"{p99_ratio:.2f}x at rest (target <= {P99_TARGET}x)",
                      p99_ratio <= P99_TARGET)  # fmt: skip
        return 0 if ok else 1
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
