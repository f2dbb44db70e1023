"""A large checkpoint uploaded to the local OSS and OBS facades through modeldeck's uploaders vs the
hash-while-copy floor, measured in the same run.

- oss: `providers.alibaba.oss.upload` (oss2's resumable multipart, CRC-64 checked by oss2 per part and
  for the whole object) against `modeldeck serve`;
- obs: `providers.huawei.obs.upload` (esdk-obs-python's `uploadFile`, always multipart) against the same
  server.
The floor is bench_register's: read the file once, sha256 it and write a copy (two threads, no fsync; the
platform fsyncs). Each round changes the file's first bytes and uploads to a new key, so every upload
stores new bytes; rounds rotate the order; the verdicts use medians. The platform's own resumable upload
(`transfer.upload_artifact`) to the same server is printed beside them, without a target.

    python bench/bench_object_upload.py [--size-mib 1024] [--rounds 5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from _common import Server, env_line, median, verdict
from bench_register import floor_copy, stamp, timed, warm, write_checkpoint

from modeldeck import transfer
from modeldeck._http import Credentials
from modeldeck.providers.alibaba import oss
from modeldeck.providers.huawei import obs

TARGET = 0.7


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="checkpoint size in MiB (default 1024)")
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds of each (default 5, min 3)")
    args = parser.parse_args()
    size = args.size_mib << 20
    print(env_line())
    tmp = Path(tempfile.mkdtemp(prefix="modeldeck-bench-objects-"))
    try:
        src, dst = tmp / "checkpoint.bin", tmp / "floor-copy.bin"
        write_checkpoint(src, size)
        with Server(tmp / "team") as server, server.client() as api:
            pair = api.post("/api/v1/access-keys", json={"description": "bench"}).json()
            credentials = Credentials(access_key_id=pair["id"], access_key_secret=pair["secret"])
            listed = api.get("/api/v1/workspaces").json()
            bucket = next(w["id"] for w in listed["items"] if w["name"] == "default")

            def through(uploader, name: str, i: int) -> str:  # type: ignore[no-untyped-def]
                key = f"bench/{name}-{i}.bin"
                return uploader(src, endpoint=server.url, bucket=bucket, key=key, credentials=credentials)

            stamp(src, 0)
            through(oss.upload, "warm-oss", 0)  # warm-up: imports, connections, the blob directories
            through(obs.upload, "warm-obs", 0)
            seconds: dict[str, list[float]] = {"floor": [], "oss": [], "obs": [], "native": []}
            for i in range(max(3, args.rounds)):
                stamp(src, i + 1)
                warm(src)
                runs = {"floor": lambda: floor_copy(src, dst), "oss": lambda i=i: through(oss.upload, "oss", i),
                        "obs": lambda i=i: through(obs.upload, "obs", i),
                        "native": lambda: transfer.upload_artifact(api, src)["uri"]}  # fmt: skip
                order = list(runs)
                for name in order[i % 4 :] + order[: i % 4]:
                    took, _ = timed(runs[name])
                    seconds[name].append(took)
                    print(f"  round {i + 1} {name:6s} {took:6.2f} s {size / took / 1e9:5.2f} GB/s")
                dst.unlink()
            import oss2  # every object stored whole (oss2 also checked each part's and the object's CRC-64)

            store = oss2.Bucket(oss2.Auth(pair["id"], pair["secret"]), server.url, bucket)
            for i in range(max(3, args.rounds)):
                for name in ("oss", "obs"):
                    assert store.head_object(f"bench/{name}-{i}.bin").content_length == size
        floor = median(seconds["floor"])
        print(f"floor (hash-while-copy, 2 threads): median {floor:.2f} s = {size / floor / 1e9:.2f} GB/s")
        native = median(seconds["native"])
        print(f"native upload (modeldeck's own protocol, same server): median {native:.2f} s = "
              f"{size / native / 1e9:.2f} GB/s ({floor / native:.2f}x of floor, no target)")
        label = f"{args.size_mib // 1024}GiB" if args.size_mib % 1024 == 0 else f"{args.size_mib}MiB"
        ok = True
        for name in ("oss", "obs"):
            took = median(seconds[name])
            print(f"{name} upload to the local facade:       median {took:.2f} s = {size / took / 1e9:.2f} GB/s")
            ratio = floor / took
            ok &= verdict(f"{name}_upload_{label}", f"{ratio:.2f}x of floor (target >= {TARGET}x)", ratio >= TARGET)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
