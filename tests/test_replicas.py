"""Two `modeldeck serve` replicas on one PostgreSQL, blobs and staged uploads in an S3-compatible store,
behind HAProxy: all real processes on loopback, started here and stopped by pid."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import modeldeck as md
from conftest import Api, wait_for
from modeldeck import transfer
from services import S3, Postgres, Replica, haproxy, s3_server, team_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
pytest.importorskip("s3fs", reason="the [s3] extra (s3fs) is not installed")
pytest.importorskip("moto", reason="the test extra's moto is not installed")

API = "/api/v1"


@dataclass
class Cluster:
    replicas: list[Replica]
    lb: str
    key: str

    def api(self, url: str | None = None) -> Api:
        return Api(url or self.lb, self.key)


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    with s3_server() as server:
        yield server


@pytest.fixture(scope="module")
def cluster(postgres: Postgres, s3: S3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One team server for the module: its tests use models and uploads of their own, and the one that kills
    a replica starts it again and waits until it answers."""
    tmp_path = tmp_path_factory.mktemp("cluster")
    store = ["--db", postgres.create_database(), "--blobs", s3.bucket() + "/deck", "--gc-interval", "0"]
    replicas: list[Replica] = []
    env = team_env(s3)
    try:
        for n in range(2):  # the first provisions the database; the second finds it ready
            replicas.append(Replica(tmp_path / f"replica-{n}", *store, env=env))
        key = replicas[0].key
        assert key and replicas[1].key is None
        with haproxy([r.url.removeprefix("http://") for r in replicas]) as lb:
            yield Cluster(replicas, lb, key)
    finally:
        for r in replicas:
            r.stop()


def test_an_upload_moves_between_replicas(cluster: Cluster):
    """Started on one replica, continued on the other, asked after and completed through the balancer."""
    one, two = (cluster.api(r.url) for r in cluster.replicas)
    data = os.urandom(700_000)
    sha = hashlib.sha256(data).hexdigest()
    up = one.ok("POST", f"{API}/uploads", json={"size": len(data), "resume_key": "moving"})
    url = f"{API}/uploads/{up['id']}"
    two.ok("PATCH", url, content=data[:250_000], headers={"Upload-Offset": "0"})
    assert one.head(url).headers["upload-offset"] == "250000"
    stale = one.patch(url, content=data[:10], headers={"Upload-Offset": "0"})
    assert stale.status_code == 409 and stale.headers["upload-offset"] == "250000"
    again = two.ok("POST", f"{API}/uploads", json={"size": len(data), "resume_key": "moving"})
    assert (again["id"], again["offset"]) == (up["id"], 250_000)
    one.ok("PATCH", url, content=data[250_000:], headers={"Upload-Offset": "250000"})
    lb = cluster.api()
    assert lb.ok("POST", f"{url}/complete", json={"sha256": sha})["sha256"] == sha
    artifact = lb.ok("POST", f"{API}/artifacts", json={"files": [{"path": "w.bin", "sha256": sha}]})
    for api in (one, two):
        assert api.get(f"{API}/artifacts/{artifact['digest']}/files/w.bin").content == data
    one.ok("POST", f"{API}/models", json={"model_name": "shared"})
    two.ok("POST", f"{API}/models/shared/versions", json={"uri": artifact["uri"], "version_name": "1.0.0"})
    assert [v["version_name"] for v in one.ok("GET", f"{API}/models/shared/versions")["items"]] == ["1.0.0"]


def test_killing_a_replica_under_load_loses_no_acknowledged_write(cluster: Cluster, tmp_path: Path):
    """Eight notebook clients register versions and upload files through the balancer while one replica is
    killed with SIGKILL and later restarted: no client sees an error, and every acknowledged write is
    there afterwards, its bytes intact."""
    admin = cluster.api()
    admin.ok("POST", f"{API}/models", json={"model_name": "busy"})
    versions: dict[str, str] = {}
    blobs: dict[str, bytes] = {}
    errors: list[BaseException] = []
    done = threading.Semaphore(0)

    def client(n: int) -> None:
        try:
            with md.connect(url=cluster.lb, api_key=cluster.key) as deck, cluster.api() as api:
                for i in range(24):
                    name = f"{n}.{i}.0"
                    if i % 4 == 0:
                        data = os.urandom(50_000 + 1000 * i)
                        path = tmp_path / f"c{n}-{i}.bin"
                        path.write_bytes(data)
                        blobs[transfer.upload_file(api, path)] = data
                    versions[name] = deck.register("busy", f"oss://bucket/busy/{name}", version=name).uri
                    done.release()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    victim = cluster.replicas[1]
    for _ in range(40):
        done.acquire(timeout=60)
    victim.kill()
    for _ in range(60):
        done.acquire(timeout=60)
    victim.start()
    for t in threads:
        t.join(300)
    assert errors == []
    assert len(versions) == 8 * 24
    listed = {v["version_name"]: v["uri"] for v in _all_versions(admin, "busy")}
    assert listed == versions
    survivor = cluster.api(cluster.replicas[0].url)
    for digest, data in blobs.items():
        artifact = survivor.ok("POST", f"{API}/artifacts", json={"files": [{"path": "f.bin", "sha256": digest}]})
        assert survivor.get(f"{API}/artifacts/{artifact['digest']}/files/f.bin").content == data
    wait_for(lambda: cluster.api(victim.url).get("/health").is_success)


def _all_versions(api: Api, model: str) -> list[dict]:
    items, cursor = [], None
    while True:
        page = api.ok("GET", f"{API}/models/{model}/versions", params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items
