"""Ray Serve against our local engine, same model, same run (informational: no target).

Throughput at concurrency 16 (wrk, keep-alive, the same body and key as bench_deploy.py): POST
{endpoint}/predict of a 2-replica deployment on the `local` engine (replica processes sharing one port)
and of the same version deployed with 2 replicas on the `ray` engine (Ray Serve's proxy in front of its
replica actors), on a local Ray head started here on 127.0.0.1 with 2 CPUs and stopped by its pid after.
Rounds alternate the two sides, so machine noise hits both alike; medians and their ratio are printed.

    python bench/bench_ray_serve.py [--rounds 3] [--duration 5]
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the Ray head the tests start

from _common import env_line, median, verdict
from bench_deploy import CONCURRENCY, wrk, wrk_options
from services import free_port, ray_head

import modeldeck as md
from modeldeck import examples


def main() -> int:
    args = wrk_options(__doc__)
    if args is None:
        return 1
    if importlib.util.find_spec("ray") is None:  # not imported here: Ray reads its loopback setting on import
        print("ray is not installed (pip install 'modeldeck[serve]'): this bench needs Ray Serve")
        return 1
    print(env_line() + f", ray {importlib.metadata.version('ray')}")
    print(f"load generator: wrk -t1 -c{CONCURRENCY} -d{args.duration}s, keep-alive")
    tmp = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    try:
        with ray_head(tmp) as head:
            os.environ.update(head.env)  # this process is the Ray driver: the platform joins the head
            return run(tmp, head.address, args.rounds, args.duration)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path, address: str, rounds: int, duration: int) -> int:
    from modeldeck.platform import Platform, PlatformServer, Settings

    platform = Platform(Settings(home=tmp / "home", ray_address=address, ray_serve_port=free_port()))
    try:
        with PlatformServer(platform) as server, md.connect(url=server.url, api_key=platform.admin_key()) as deck:
            key = platform.admin_key()
            assert key
            deck.register("linear", examples.onnx_linear(tmp / "m.onnx", seed=0), format="ONNX", progress=False)
            endpoints = {}
            for engine in ("local", "ray"):
                dep = deck.deploy("linear", name=f"two-{engine}", replicas=2, engine=engine)
                assert dep.status == "Running", dep.status_reason
                endpoints[engine] = f"{dep.endpoint}/predict"
            rates: dict[str, list[float]] = {"local": [], "ray": []}
            for _ in range(rounds):
                for engine, url in endpoints.items():
                    rates[engine].append(wrk(url, key, duration)["rps"])
            for engine, values in rates.items():
                print(f"{engine + ' engine':>12}, 2 replicas: median {median(values):8.0f} req/s  "
                      f"(rounds: {', '.join(f'{v:.0f}' for v in values)})")  # fmt: skip
            ratio = median(rates["ray"]) / median(rates["local"])
            for engine in endpoints:
                deck.delete_deployment(f"two-{engine}")
        verdict("ray-serve-throughput", f"Ray Serve / local engine = {ratio:.2f}x (informational)", True)
        return 0
    finally:
        platform.close()
        import ray

        ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
