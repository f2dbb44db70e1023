"""A page of 100 versions costs the same at 10,000 versions as at 100 (keyset pagination), and at most
2 ms over loopback, beside the floor: the raw SQL query for that page, timed in the same run.

Two models get their versions as rows inserted straight into the platform's database (10k HTTP
registrations would take far longer than the measurement), then GET /api/v1/models/{m}/versions?limit=100
is timed over HTTP, alternating request by request between the big and the small model, and the same
page's SQL on a plain sqlite3 connection. GET /api/v1/models?limit=100 (with each model's latest version)
is timed too, over 100 models.

    python bench/bench_list_versions.py [--versions 10000] [--small 100] [--requests 300]
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

TARGET = 1.5  # the big model's page against the small one's
BUDGET_MS = 2.0  # p50 of a page of 100
PAGE = 100
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


def sql_floor(home: Path, model_name: str, runs: int) -> float:
    """The p50 of the page's raw SQL (the newest 100 versions of the model) on a plain sqlite3 connection."""
    import sqlite3

    db = sqlite3.connect(home / "modeldeck.db")
    try:
        (model_id,) = db.execute("SELECT id FROM models WHERE model_name = ?", (model_name,)).fetchone()
        query = f"SELECT * FROM model_versions WHERE model_id = ? ORDER BY seq DESC LIMIT {PAGE + 1}"
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            db.execute(query, (model_id,)).fetchall()
            times.append((time.perf_counter() - start) * 1e3)
        return median(times)
    finally:
        db.close()


def timed_get(client: httpx.Client, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1e3
    transfer.check(response)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=10_000, help="versions of the big model (10000)")
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
            for i in range(PAGE - len(counts)):  # a page of 100 models for GET /models
                transfer.check(client.post("/api/v1/models", json={"model_name": f"model-{i:03}"}))
            urls = {name: f"/api/v1/models/{name}/versions?limit={PAGE}" for name in counts}
            for name, url in urls.items():  # the page is the newest 100, with a cursor to the next
                page = transfer.check(client.get(url)).json()
                assert len(page["items"]) == PAGE and (page["next_cursor"] or counts[name] == PAGE)
                assert page["items"][0]["version_name"] == f"0.{counts[name]}.0"
            times: dict[str, list[float]] = {name: [] for name in counts}
            models_ms: list[float] = []
            for i in range(max(200, args.requests)):
                for name in ("big", "small") if i % 2 == 0 else ("small", "big"):
                    times[name].append(timed_get(client, urls[name]))
                models_ms.append(timed_get(client, f"/api/v1/models?limit={PAGE}"))
            floors = {name: sql_floor(server.home, name, max(200, args.requests)) for name in counts}
        p50 = {name: median(t) for name, t in times.items()}
        for name in ("small", "big"):
            print(f"GET versions?limit={PAGE}, {counts[name]:>6} versions: p50 {p50[name]:.2f} ms  "
                  f"(raw SQL for the page: {floors[name]:.3f} ms)")  # fmt: skip
        print(f"GET /api/v1/models?limit={PAGE}, {PAGE} models: p50 {median(models_ms):.2f} ms")
        ratio = p50["big"] / p50["small"]
        text = f"{ratio:.2f}x of the {args.small}-version page (target <= {TARGET}x)"
        ok = verdict(f"list_versions_{args.versions}", text, ratio <= TARGET)
        worst = max(p50["big"], p50["small"], median(models_ms))
        ok = verdict("list_page_budget", f"{worst:.2f} ms p50 (target <= {BUDGET_MS} ms)", worst <= BUDGET_MS) and ok
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
