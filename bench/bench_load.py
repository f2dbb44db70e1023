"""Simulated notebook clients listing models, registering versions and predicting, for T seconds, against
(a) one server on SQLite, (b) one server on PostgreSQL, (c) two replicas on PostgreSQL with blobs in an
S3-compatible store (moto's server) behind HAProxy. Every process is started here on loopback and
stopped by its pid.

Each client is a keep-alive connection doing, in a loop: list the models (50%), register a version with an
Idempotency-Key (20%), predict on a small ONNX model (30%). Printed per target and operation: count, p50,
p99 and p99/p50, beside the same operation's p50 with a single client measured first in the same run
(the baseline). Afterwards every acknowledged registration is read back.
Targets (at 50 clients on 2 cores): zero errors, list p99 within 5x its p50, nothing lost.

    python bench/bench_load.py [--clients 20] [--seconds 15] [--targets sqlite,postgres,replicas]
    python bench/bench_load.py --clients 50 --seconds 60      # the full figure
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the harness the tests start services with
from _common import Connection, env_line, median, percentile, verdict  # noqa: E402
from services import Replica, haproxy, pg_bin, postgres_cluster, s3_server, team_env  # noqa: E402

API = "/api/v1"
MIX = (("list", 0.5), ("register", 0.2), ("predict", 0.3))


def prepare(url: str, key: str, folder: Path) -> dict:
    """The model predicted on and the model registered into; returns the predict body."""
    import modeldeck as md
    from modeldeck import examples
    from modeldeck.deck import predict_body

    with md.connect(url=url, api_key=key) as deck:
        deck.register("linear", examples.onnx_linear(folder / "linear.onnx"), format="ONNX", progress=False)
        deck.create_model("load")
        X, _ = examples.tabular_data(n=1, seed=3)
        deck.predict("linear", X)  # loaded once before timing
    return predict_body(X)


async def client(n: int, url: str, key: str, body: dict, until: float, out: dict, acked: set[str]) -> None:
    """Client `n` (unique across runs: its version names start with it)."""
    rng = random.Random(n)
    api = Connection(url, key)
    predict = json.dumps(body).encode()
    i = 0
    try:
        while time.monotonic() < until:
            op = rng.choices([m for m, _ in MIX], [w for _, w in MIX])[0]
            start = time.perf_counter()
            try:
                if op == "list":
                    status, _ = await api.request("GET", f"{API}/models?limit=50")
                elif op == "register":
                    name = f"{n}.{i}.0"
                    i += 1
                    status = await _keyed(api, {"uri": f"oss://bucket/load/{name}", "version_name": name})
                    if status < 300:
                        acked.add(name)
                else:
                    status, _ = await api.request("POST", f"{API}/models/linear/predict", predict)
                failure = None if status < 300 else f"{op} {status}"
            except ConnectionError as exc:
                failure = f"{op} {exc}"
            out.setdefault(op, []).append(time.perf_counter() - start)
            if failure:
                out.setdefault("errors", []).append(failure)
    finally:
        api.close()


async def _keyed(api: Connection, body: dict) -> int:
    """A notebook client's registration: retried with the same Idempotency-Key when the outcome is unknown."""
    headers = f"Idempotency-Key: {uuid.uuid4()}\r\n"
    raw = json.dumps(body).encode()
    for attempt in range(4):
        try:
            status, _ = await api.request("POST", f"{API}/models/load/versions", raw, headers)
            if status not in (502, 503, 504) or attempt == 3:
                return status
        except ConnectionError:
            if attempt == 3:
                raise
        await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def run(url: str, key: str, body: dict, clients: int, seconds: float, first: int = 0) -> tuple[dict, set[str]]:
    out: dict = {}
    acked: set[str] = set()

    async def main() -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(*(client(first + n, url, key, body, until, out, acked) for n in range(clients)))

    asyncio.run(main())
    return out, acked


def lost(url: str, key: str, acked: set[str]) -> int:
    listed: set[str] = set()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as api:
        cursor = None
        while True:
            page = api.get(f"{API}/models/load/versions", params={"limit": 100, **({"cursor": cursor} if cursor else {})}).json()
            listed |= {v["version_name"] for v in page["items"]}
            cursor = page.get("next_cursor")
            if not cursor:
                return len(acked - listed)


def measure(name: str, url: str, key: str, folder: Path, clients: int, seconds: float) -> bool:
    body = prepare(url, key, folder)
    alone, acked_alone = run(url, key, body, 1, min(3.0, seconds))
    loaded, acked = run(url, key, body, clients, seconds, first=1)
    missing = lost(url, key, acked | acked_alone)
    failures = loaded.get("errors", []) + alone.get("errors", [])
    errors = len(failures)
    print(f"\n{name}: {clients} clients for {seconds:g} s")
    print(f"  {'operation':<10}{'n':>7}{'p50 ms':>10}{'p99 ms':>10}{'p99/p50':>9}{'1-client p50':>14}")
    for op, _ in MIX:
        times = loaded.get(op, [])
        if not times:
            continue
        p50, p99 = median(times) * 1000, percentile(times, 99) * 1000
        base = median(alone[op]) * 1000 if alone.get(op) else float("nan")
        print(f"  {op:<10}{len(times):>7}{p50:>10.1f}{p99:>10.1f}{p99 / p50:>9.2f}{base:>14.1f}")
    kinds = ", ".join(f"{k} x{failures.count(k)}" for k in sorted(set(failures)))
    print(f"  errors {errors}{f' ({kinds})' if kinds else ''}, acknowledged registrations {len(acked)}, lost {missing}")
    lists = loaded.get("list", [0.001])
    ratio = percentile(lists, 99) / median(lists)
    ok = verdict(f"{name} errors", str(errors), errors == 0)
    ok &= verdict(f"{name} list p99/p50", f"{ratio:.2f} (target <= 5)", ratio <= 5)
    ok &= verdict(f"{name} lost", str(missing), missing == 0)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--targets", default="sqlite,postgres,replicas")
    args = parser.parse_args()
    if not 1 <= args.clients <= 200 or not 1 <= args.seconds <= 600:
        parser.error("--clients must be 1..200 and --seconds 1..600 (a bounded run)")
    targets = args.targets.split(",")
    print(env_line())
    ok = True
    with tempfile.TemporaryDirectory(prefix="modeldeck-load-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        if "sqlite" in targets:
            server = stack.enter_context(Replica(folder / "sqlite"))
            ok &= measure("sqlite", server.url, server.key, folder, args.clients, args.seconds)
        if {"postgres", "replicas"} & set(targets):
            bindir = pg_bin()
            if bindir is None:
                print("PostgreSQL is not installed: skipping the postgres and replicas targets")
                return 0 if ok else 1
            pg = stack.enter_context(postgres_cluster(bindir))
        if "postgres" in targets:
            server = stack.enter_context(Replica(folder / "pg", "--db", pg.create_database()))
            ok &= measure("postgres", server.url, server.key, folder, args.clients, args.seconds)
        if "replicas" in targets:
            s3 = stack.enter_context(s3_server())
            store = ["--db", pg.create_database(), "--blobs", s3.bucket() + "/deck"]
            env = team_env(s3)  # one sealing key for both replicas
            replicas = [stack.enter_context(Replica(folder / f"r{n}", *store, env=env)) for n in range(2)]
            lb = stack.enter_context(haproxy([r.url.removeprefix("http://") for r in replicas]))
            ok &= measure("2 replicas + HAProxy", lb, replicas[0].key, folder, args.clients, args.seconds)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
