"""Listing one page of versions must cost the same at 100,000 versions as at 100 (keyset pagination).

Two models get their versions as rows inserted straight into the platform's database (100k HTTP
registrations would take far longer than the measurement), then GET /api/v1/models/{m}/versions?limit=50
is timed over HTTP, alternating request by request between the big and the small model. The first page of
GET /api/v1/models (which shows each model's latest version) is timed too, for information.

    python bench/bench_list_versions.py [--versions 100000] [--small 100] [--requests 300]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
from _common import Server, env_line, median, verdict
from sqlalchemy import insert, select

from modeldeck import transfer
from modeldeck.platform.db import Store
from modeldeck.platform.schema import Account, Model, ModelVersion
from modeldeck.platform.settings import Settings

TARGET = 1.5
BATCH = 10_000


def populate(home: Path, model_name: str, count: int) -> None:
    """Versions 0.1.0, 0.2.0, ... of one model, in batched multi-row inserts through the platform's Store."""
    store = Store(Settings(home=home).database_url)
    try:
        with store.write() as db:
            model_id = db.scalar(select(Model.id).where(Model.model_name == model_name))
            creator = db.scalar(select(Account.id).where(Account.kind == "main"))
            now = datetime.now(timezone.utc)
            common = {
                "model_id": model_id, "major": 0, "patch": 0, "approval_status": "Pending", "labels": {},
                "metrics": {}, "training_spec": {}, "inference_spec": {}, "extra_info": {}, "description": "",
                "created_by": creator, "created_at": now, "updated_at": now,
            }  # fmt: skip
            for start in range(1, count + 1, BATCH):
                rows = [
                    {**common, "version_name": f"0.{i}.0", "minor": i, "uri": f"s3://bench/{model_name}/{i}"}
                    for i in range(start, min(start + BATCH, count + 1))
                ]
                db.execute(insert(ModelVersion), rows)
    finally:
        store.dispose()


def timed_get(client: httpx.Client, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1e3
    transfer.check(response)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=100_000, help="versions of the big model (100000)")
    parser.add_argument("--small", type=int, default=100, help="versions of the small model (100)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per listing (300, min 200)")
    args = parser.parse_args()
    print(env_line())
    counts = {"big": args.versions, "small": args.small}
    tmp = Path(tempfile.mkdtemp(prefix="modeldeck-bench-versions-"))
    try:
        with Server(tmp / "home") as server, server.client() as client:
            for name, count in counts.items():
                transfer.check(client.post("/api/v1/models", json={"model_name": name}))
                start = time.perf_counter()
                populate(server.home, name, count)
                print(f"inserted {count} versions of '{name}' in {time.perf_counter() - start:.1f} s")
            urls = {name: f"/api/v1/models/{name}/versions?limit=50" for name in counts}
            for name, url in urls.items():  # the page is the newest 50, with a cursor to the next
                page = transfer.check(client.get(url)).json()
                assert len(page["items"]) == 50 and page["next_cursor"]
                assert page["items"][0]["version_name"] == f"0.{counts[name]}.0"
            times: dict[str, list[float]] = {name: [] for name in counts}
            models_ms: list[float] = []
            for i in range(max(200, args.requests)):
                for name in ("big", "small") if i % 2 == 0 else ("small", "big"):
                    times[name].append(timed_get(client, urls[name]))
                models_ms.append(timed_get(client, "/api/v1/models"))
        big, small = median(times["big"]), median(times["small"])
        print(f"GET versions?limit=50, {args.versions:>7} versions: p50 {big:.2f} ms")
        print(f"GET versions?limit=50, {args.small:>7} versions: p50 {small:.2f} ms")
        print(f"GET /api/v1/models, first page ({len(counts)} models): p50 {median(models_ms):.2f} ms")
        ratio = big / small
        text = f"{ratio:.2f}x of the {args.small}-version page (target <= {TARGET}x)"
        ok = verdict(f"list_versions_{args.versions}", text, ratio <= TARGET)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
