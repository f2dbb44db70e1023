"""A page of 100 models or versions costs at most 2 ms over loopback, the same at 10,000 items as at 100
(keyset pagination), on SQLite and on PostgreSQL, beside the floor: the raw SQL for that page on a plain
driver connection, timed in the same run.

Per backend one `modeldeck serve` runs in its own process. Rows go straight into its database (10,000
HTTP registrations would take far longer than the measurement): a model with 10,000 versions and one with
100; the default workspace with 10,000 models, a second workspace with 100. Then, over one kept-alive
connection, GET /api/v1/models/{m}/versions?limit=100 and GET /api/v1/models?limit=100 (each model with
its newest version) are timed, alternating request by request between the big and the small listing,
and GET /health beside them: the HTTP round trip with no work, so what a page costs above it shows.

Three kinds of page: asked again while nothing changed (the page the server kept); walked, pages 2 to 11
of the big listings by their cursors after a commit (each read from the database anew, as a client paging
through a listing reads them); and the first page right after a commit (untimed, a PATCH of another model),
beside /health right after a commit: a request that follows a write finds the server's caches cold.

The timing client runs in a process of its own (this script started again with `--client`, beside the
server's process and this one, which set up the data) and speaks HTTP/1.1 over one kept-alive connection
(`_common.Connection`): httpx's own per-request work (over a millisecond, more than the server's for
/health) was most of what an httpx client measured. The floor reads JSON and timestamps as text on both
backends, as the listings do (psycopg would parse each JSON value in Python).

    python bench/bench_list_versions.py [--big 10000] [--small 100] [--requests 300] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the harness that starts PostgreSQL
from _common import Connection, Server, env_line, median, verdict  # noqa: E402
from services import pg_bin, postgres_cluster  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from modeldeck import transfer  # noqa: E402
from modeldeck.platform.db import Store  # noqa: E402
from modeldeck.platform.schema import Account, Model, ModelVersion, Workspace  # noqa: E402

TARGET = 1.5  # the big listing's page against the small one's
BUDGET_MS = 2.0  # p50 of a page of 100
PAGE = 100
BATCH = 5_000
SMALL_WS = "bench-small"
AFTER_WRITE = " after a write"
WALKED = " walked"
WALK = 10  # pages timed per walk
WRITE = ("PATCH", "/api/v1/models/small")  # a commit (its description) that leaves every timed page as it was


def populate(url: str, big: int, small: int) -> None:
    """Versions 0.1.0, 0.2.0, ... of models 'big' and 'small'; `big` models in the default workspace (with
    those two) and `small` in workspace SMALL_WS: batched multi-row inserts through the platform's Store."""
    store = Store(url)
    try:
        with store.write() as db:
            ids = dict(db.execute(select(Model.model_name, Model.id).where(Model.model_name.in_(["big", "small"]))).all())
            creator = db.scalar(select(Account.id).where(Account.kind == "main"))
            default = db.scalar(select(Workspace.id).where(Workspace.is_default.is_(True)))
            other = db.scalar(select(Workspace.id).where(Workspace.name == SMALL_WS))
            now = datetime.now(timezone.utc)
            common = {
                "major": 0, "patch": 0, "approval_status": "Pending", "labels": {"team": "bench"},
                "metrics": {"accuracy": 0.93}, "training_spec": {}, "inference_spec": {}, "extra_info": {},
                "description": "", "created_by": creator, "created_at": now, "updated_at": now,
            }  # fmt: skip
            for name, count in (("big", big), ("small", small)):
                versions = ({**common, "model_id": ids[name], "version_name": f"0.{i}.0", "minor": i,
                             "uri": f"s3://bench/{name}/{i}"} for i in range(1, count + 1))  # fmt: skip
                _insert(db, ModelVersion, versions)
            model = {"accessibility": "PRIVATE", "labels": {}, "description": "", "extra_info": {},
                     "created_at": now, "updated_at": now}  # fmt: skip
            for ws, prefix, count in ((default, "m", big - 2), (other, "s", small)):
                _insert(db, Model, ({**model, "id": f"mdl-{prefix}{i:06}", "workspace_id": ws,
                                     "model_name": f"{prefix}-{i:06}"} for i in range(count)))  # fmt: skip
        if not store.is_sqlite:  # the statistics autovacuum would gather soon after such a bulk load
            with store.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
    finally:
        store.dispose()


def _insert(db, table, rows) -> None:  # type: ignore[no-untyped-def]
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            db.execute(insert(table), batch)
            batch = []
    if batch:
        db.execute(insert(table), batch)


def floors(url: str, runs: int) -> dict[str, float]:
    """The p50 of each page's raw SQL on a plain driver connection: the newest 100 versions of a model, the
    first 100 models of a workspace by name."""
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        mark = "?"
    else:
        import psycopg

        from psycopg.types.string import TextLoader

        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        for name in ("json", "jsonb", "timestamptz"):
            conn.adapters.register_loader(name, TextLoader)
        mark = "%s"
    try:
        cur = conn.cursor()

        def one(sql: str, *args: object) -> object:
            cur.execute(sql, args)
            return cur.fetchone()[0]  # type: ignore[index]

        model_id = {name: one(f"SELECT id FROM models WHERE model_name = {mark}", name) for name in ("big", "small")}
        ws_id = {
            "big": one("SELECT id FROM workspaces WHERE is_default"),
            "small": one(f"SELECT id FROM workspaces WHERE name = {mark}", SMALL_WS),
        }
        # the versions page's own shape (registry.versions_statement): under `model_id = $1` PostgreSQL's
        # generic plan may walk the primary key and filter, which is no floor
        versions = (f"SELECT * FROM model_versions WHERE model_id BETWEEN {mark} AND {mark} "
                    f"ORDER BY model_id DESC, seq DESC LIMIT {PAGE + 1}")  # fmt: skip
        models = f"SELECT * FROM models WHERE workspace_id = {mark} ORDER BY model_name, id LIMIT {PAGE + 1}"
        out = {}
        for size in ("big", "small"):
            out[f"versions {size}"] = _p50(lambda: cur.execute(versions, (model_id[size],) * 2).fetchall(), runs)
            out[f"models {size}"] = _p50(lambda: cur.execute(models, (ws_id[size],)).fetchall(), runs)
        return out
    finally:
        conn.close()


def _p50(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return median(times)


def client_main() -> int:
    """`--client`: reads {url, key, requests: {name: [path, headers]}, order, rounds} on stdin, answers
    {name: [ms, ...]} on stdout; each round runs `order`, then /health, then `order` reversed (alternately).
    A name ending in AFTER_WRITE is asked right after a commit; one ending in WALKED is a walk: a commit,
    the first page (untimed), then the next WALK pages by their cursors, each read anew and timed."""
    spec = json.load(sys.stdin)
    return asyncio.run(_client(spec))


async def _client(spec: dict) -> int:
    api = Connection(spec["url"], spec["key"])
    order, requests = spec["order"], spec["requests"]
    headers = {name: "".join(f"{k}: {v}\r\n" for k, v in extra.items()) for name, (_, extra) in requests.items()}
    times: dict[str, list[float]] = {name: [] for name in requests}
    method, path = spec["write"]
    for i in range(spec["rounds"]):
        for name in [*order, "health"] if i % 2 == 0 else ["health", *reversed(order)]:
            if name.endswith((AFTER_WRITE, WALKED)):  # a commit first, untimed: pages must be read anew
                status, answer = await api.request(method, path, json.dumps({"description": f"round {i}"}).encode())
                if status != 200:
                    raise SystemExit(f"the write: HTTP {status}: {answer[:300]!r}")
            url = requests[name][0]
            for page in range(WALK + 1 if name.endswith(WALKED) else 1):
                start = time.perf_counter()
                status, body = await api.request("GET", url, headers=headers[name])
                if page or not name.endswith(WALKED):
                    times[name].append((time.perf_counter() - start) * 1e3)
                if status != 200:
                    raise SystemExit(f"{name}: HTTP {status}: {body[:300]!r}")
                if name.endswith(WALKED):
                    url = f"{requests[name][0]}&cursor={json.loads(body)['next_cursor']}"
    api.close()
    json.dump(times, sys.stdout)
    return 0


def timed(server: Server, requests: dict[str, tuple[str, dict[str, str]]], order: list[str],
          rounds: int) -> dict[str, list[float]]:  # fmt: skip
    """Each request's times (ms), measured by a client in another process."""
    spec = {"url": server.url, "key": server.key, "requests": requests, "order": order, "rounds": rounds,
            "write": WRITE}
    done = subprocess.run([sys.executable, __file__, "--client"], input=json.dumps(spec), capture_output=True,
                          text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the timing client failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def measure(backend: str, home: Path, db_url: str | None, args: argparse.Namespace) -> bool:
    options = ("--db", db_url) if db_url else ()
    sizes = {"big": args.big, "small": args.small}
    with Server(home, *options) as server, server.client() as client:
        url = db_url or f"sqlite:///{server.home / 'modeldeck.db'}"
        transfer.check(client.post("/api/v1/workspaces", json={"name": SMALL_WS}))
        for name in sizes:
            transfer.check(client.post("/api/v1/models", json={"model_name": name}))
        start = time.perf_counter()
        populate(url, args.big, args.small)
        print(f"\n{backend}: inserted {args.big + args.small} versions and models in {time.perf_counter() - start:.1f} s")
        listings = {  # name -> (url, headers)
            f"versions {size}": (f"/api/v1/models/{size}/versions?limit={PAGE}", {}) for size in sizes
        }
        listings["models big"] = (f"/api/v1/models?limit={PAGE}", {})
        listings["models small"] = (f"/api/v1/models?limit={PAGE}", {"X-ModelDeck-Workspace": SMALL_WS})
        for name, (path, headers) in listings.items():  # a full page, the newest (or first) first
            page = transfer.check(client.get(path, headers=headers)).json()
            assert len(page["items"]) == PAGE and (page["next_cursor"] or sizes[name.split()[1]] == PAGE), name
        again = list(listings)  # asked again and again: the page the server kept while nothing changed
        walked = [name + WALKED for name in again if name.endswith("big")]  # pages 2 to 11, each read anew
        anew = [name + AFTER_WRITE for name in again]  # each right after a commit: read from the database anew
        listings.update({name + after: request for name, request in listings.items() for after in (WALKED, AFTER_WRITE)})
        listings["health"] = ("/health", {})  # the HTTP round trip alone, on the same connection
        listings["health" + AFTER_WRITE] = ("/health", {})  # and right after a commit
        rounds = max(200, args.requests)
        times: dict[str, list[float]] = {}
        for order in (again, walked, [*anew, "health" + AFTER_WRITE]):  # apart: a commit between two asks
            for name, taken in timed(server, listings, order, max(rounds // WALK, 30) if order is walked else rounds).items():
                times.setdefault(name, []).extend(taken)
        floor = floors(url, rounds)
    p50 = {name: median(t) for name, t in times.items() if t}
    health, health_after = p50.pop("health"), p50.pop("health" + AFTER_WRITE)
    print(f"  GET /health (the HTTP round trip alone): p50 {health:.2f} ms, right after a commit {health_after:.2f} ms")
    for name in again + walked + anew:
        kind, size = name.split()[:2]
        after = name.endswith(AFTER_WRITE)
        over = f"{p50[name] - (health_after if after else health):+.2f} ms over /health{AFTER_WRITE if after else ''}"
        shown = f"{kind}?limit={PAGE}, {sizes[size]:>6} {kind}{name.removeprefix(f'{kind} {size}'):<14}"
        print(f"  GET {shown}: p50 {p50[name]:.2f} ms  ({over}; raw SQL for the page: {floor[f'{kind} {size}']:.3f} ms)")
    ok = True
    for kind, after in itertools.product(("versions", "models"), ("", AFTER_WRITE)):
        ratio = p50[f"{kind} big{after}"] / p50[f"{kind} small{after}"]
        text = f"{ratio:.2f}x of the {args.small}-item page (target <= {TARGET}x)"
        ok = verdict(f"{backend} list_{kind}_{args.big}{after.replace(' ', '_')}", text, ratio <= TARGET) and ok
    for names, what in ((again, "asked again"), (walked, "read anew walking the listing"), (anew, "read anew right after a commit")):
        worst = max(p50[name] for name in names)
        text = f"{worst:.2f} ms p50, the worst page {what} (target <= {BUDGET_MS} ms)"
        ok = verdict(f"{backend} list_page_budget_{what.split()[-1]}", text, worst <= BUDGET_MS) and ok
    return ok


def main() -> int:
    if sys.argv[1:] == ["--client"]:
        return client_main()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big", type=int, default=10_000, help="versions and models of the big listings (10000)")
    parser.add_argument("--small", type=int, default=100, help="versions and models of the small ones (100)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per listing (300, min 200)")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    if args.small < PAGE or args.big < args.small:
        parser.error(f"--small must be at least {PAGE} and --big at least --small")
    print(env_line())
    backends = args.backends.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="modeldeck-bench-listings-"))
    ok = True
    try:
        with ExitStack() as stack:
            if "sqlite" in backends:
                ok = measure("sqlite", tmp / "sqlite", None, args) and ok
            if "postgres" in backends:
                bindir = pg_bin()
                if bindir is None:
                    print("PostgreSQL is not installed: skipping the postgres backend")
                else:
                    pg = stack.enter_context(postgres_cluster(bindir))
                    ok = measure("postgres", tmp / "pg", pg.create_database(), args) and ok
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
