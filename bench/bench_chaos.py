"""kill -9 cycles of a replica while clients register versions and upload files, then garbage collection,
then a check of rows against blobs.

Two `modeldeck serve` replicas on one PostgreSQL, blobs and staged uploads in an S3-compatible store
(moto's server), HAProxy in front: all started here on loopback, stopped by pid. Writers go through the
balancer; every cycle one replica (alternating) is killed with SIGKILL mid-load and restarted. Afterwards
`modeldeck gc --grace 0` runs, and the check reads the database and the bucket:
- lost: acknowledged versions missing, acknowledged blobs missing from the rows or the bucket, or corrupt;
- orphaned: blobs in the bucket that no row holds, staged objects of no upload (before and after gc).
Targets: nothing lost, nothing orphaned once gc has run, no client error (they carry on through the other
replica).

    python bench/bench_chaos.py [--cycles 25] [--writers 20] [--seed 15]      # the review's figure
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the harness the tests start services with
from _common import env_line, verdict  # noqa: E402
from services import S3, Replica, haproxy, pg_bin, postgres_cluster, s3_server, team_env  # noqa: E402

API = "/api/v1"


class Writers:
    """Threads registering keyed versions (the client retries them) and uploading files (resumable)."""

    def __init__(self, url: str, key: str, folder: Path, count: int) -> None:
        self.url, self.key, self.folder = url, key, folder
        self.versions: dict[str, str] = {}
        self.blobs: dict[str, int] = {}
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._write, args=(n,), daemon=True) for n in range(count)]

    def start(self) -> Writers:
        for t in self.threads:
            t.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(120)

    def _write(self, n: int) -> None:
        import httpx

        import modeldeck as md
        from modeldeck import transfer

        rng = random.Random(n)
        with md.connect(url=self.url, api_key=self.key) as deck, httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60
        ) as api:
            i = 0
            while not self.stop.is_set():
                i += 1
                try:
                    if i % 3 == 0:
                        path = self.folder / f"w{n}-{i}.bin"
                        path.write_bytes(os.urandom(rng.randrange(10_000, 2_000_000)))
                        self.blobs[_upload(transfer, api, path)] = path.stat().st_size
                        path.unlink()
                    name = f"{n}.{i}.0"
                    self.versions[name] = deck.register("chaos", f"oss://bucket/chaos/{name}", version=name).uri
                except Exception as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:200])


def _upload(transfer, api, path: Path) -> str:  # type: ignore[no-untyped-def]
    """Upload one file as a notebook would, starting over (same resume key) when the gateway answers 502."""
    for attempt in range(5):
        try:
            return transfer.upload_file(api, path)
        except Exception:
            if attempt == 4:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def check(db_url: str, s3: S3, root: str, writers: Writers) -> dict[str, int]:
    import psycopg
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=s3.endpoint, key=s3.env["AWS_ACCESS_KEY_ID"],
                           secret=s3.env["AWS_SECRET_ACCESS_KEY"], skip_instance_cache=True)  # fmt: skip
    with psycopg.connect(db_url) as conn:
        held = {r[0] for r in conn.execute("SELECT DISTINCT digest FROM workspace_blobs")}
        uploads = {r[0] for r in conn.execute("SELECT id FROM uploads")}
        versions = {r[0]: r[1] for r in conn.execute(
            "SELECT version_name, uri FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.model_name = 'chaos'")}  # fmt: skip
    stored = {p.rsplit("/", 1)[1] for p in fs.find(f"{root}/sha256")} if fs.exists(f"{root}/sha256") else set()
    staged = {p[len(root) + len("/staging/"):].split("/")[0] for p in fs.find(f"{root}/staging")} if fs.exists(f"{root}/staging") else set()
    corrupt = sum(1 for d in writers.blobs if d in stored and hashlib.sha256(fs.cat_file(f"{root}/sha256/{d[:2]}/{d}")).hexdigest() != d)
    return {
        "lost versions": sum(1 for name, uri in writers.versions.items() if versions.get(name) != uri),
        "lost blobs": sum(1 for d in writers.blobs if d not in held or d not in stored) + corrupt,
        "orphan blobs": len(stored - held),
        "rows without blob": len(held - stored),
        "orphan staged": len(staged - uploads),
        "uploads resumable": len(uploads),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=25)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    if not 1 <= args.cycles <= 100 or not 1 <= args.writers <= 50:
        parser.error("--cycles must be 1..100 and --writers 1..50 (a bounded run)")
    bindir = pg_bin()
    if bindir is None:
        print("PostgreSQL is not installed: nothing to measure")
        return 0
    print(env_line())
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="modeldeck-chaos-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        pg = stack.enter_context(postgres_cluster(bindir))
        s3 = stack.enter_context(s3_server())
        db_url, bucket = pg.create_database(), s3.bucket()
        blobs = bucket + "/deck"
        store = ["--db", db_url, "--blobs", blobs, "--gc-interval", "0"]
        env = team_env(s3)
        replicas = [stack.enter_context(Replica(folder / f"r{n}", *store, env=env)) for n in range(2)]
        key = replicas[0].key
        lb = stack.enter_context(haproxy([r.url.removeprefix("http://") for r in replicas]))
        import modeldeck as md

        with md.connect(url=lb, api_key=key) as deck:
            deck.create_model("chaos")
        writers = Writers(lb, key, folder, args.writers).start()
        started = time.monotonic()
        for cycle in range(args.cycles):
            time.sleep(0.5 + rng.random() * 1.5)
            victim = replicas[cycle % 2]
            victim.kill()
            time.sleep(0.5 + rng.random())
            victim.start()
        time.sleep(1.0)
        writers.finish()
        elapsed = time.monotonic() - started
        before = check(db_url, s3, blobs.removeprefix("s3://"), writers)
        env = {**os.environ, **s3.env}
        swept = subprocess.run([sys.executable, "-m", "modeldeck", "gc", "--home", str(folder / "gc"), *store[:4],
                                "--grace", "0"], capture_output=True, text=True, env=env, check=True).stdout.strip()  # fmt: skip
        after = check(db_url, s3, blobs.removeprefix("s3://"), writers)
    print(f"\n{args.cycles} kill -9 cycles in {elapsed:.0f} s, {args.writers} writers through HAProxy")
    print(f"  acknowledged: {len(writers.versions)} versions, {len(writers.blobs)} uploaded blobs; client errors {len(writers.errors)}")
    for line in sorted(set(writers.errors))[:5]:
        print(f"    {line}")
    print(f"  {'':<20}{'before gc':>10}{'after gc':>10}")
    for name in before:
        print(f"  {name:<20}{before[name]:>10}{after[name]:>10}")
    print(f"  gc: {swept}")
    ok = verdict("chaos lost", str(after["lost versions"] + after["lost blobs"]), after["lost versions"] + after["lost blobs"] == 0)
    orphaned = after["orphan blobs"] + after["rows without blob"] + after["orphan staged"]
    ok &= verdict("chaos orphaned after gc", str(orphaned), orphaned == 0)
    ok &= verdict("chaos client errors", str(len(writers.errors)), not writers.errors)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
