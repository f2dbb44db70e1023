"""Change events over real HTTP: what each caller may see, resuming, resync, and other writers' changes
(another process on the same SQLite home, another replica on the same PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Api, Deployment, Postgres, deploy, wait_for
from test_isolation import ACTORS, GRANTED, MEMBERSHIPS, OWN_B, PUBLIC, SECRET_1, world  # noqa: F401 (world: a fixture)

from modeldeck.events import frames
from modeldeck.platform import Settings

API = "/api/v1"


class Listener:
    """One subscription read on a thread: every frame it got, as (event, data, id)."""

    def __init__(self, url: str, key: str, last_id: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {key}", **({"Last-Event-ID": last_id} if last_id else {})}
        self.client = httpx.Client(base_url=url, headers=headers, timeout=60)
        self.got: list[tuple[str, Any, str | None]] = []
        self.open = threading.Event()
        self.status: int | None = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.open.wait(30)

    def _read(self) -> None:
        try:
            with self.client.stream("GET", f"{API}/events") as response:
                self.status = response.status_code
                lines = response.iter_lines()
                self.open.set()
                for event, data, seq in frames(lines):
                    self.got.append((event, json.loads(data), seq))
        except (httpx.HTTPError, RuntimeError):
            self.open.set()

    def changes(self) -> list[dict[str, Any]]:
        return [data for event, data, _ in self.got if event == "change"]

    def kinds(self) -> list[tuple[str, str]]:
        return [(c["kind"], c["op"]) for c in self.changes()]

    def close(self) -> None:
        self.client.close()  # the reading thread ends with the server's next frame or its shutdown


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    made: list[Listener] = []
    yield made
    for listener in made:
        listener.close()


def listen(made: list[Listener], url: str, key: str, last_id: str | None = None) -> Listener:
    listener = Listener(url, key, last_id)
    made.append(listener)
    # the server has subscribed once it sent its first comment; a write now is after the subscription
    return listener


def make_world(dep: Deployment) -> dict[str, Any]:
    admin = dep.admin
    ws_a = admin.ok("POST", f"{API}/workspaces", json={"name": "ws-a"})["id"]
    ws_b = admin.ok("POST", f"{API}/workspaces", json={"name": "ws-b"})["id"]
    keys = {
        "dev-a": dep.subaccount("dev-a", {"ws-a": "developer"}),
        "dev-b": dep.subaccount("dev-b", {"ws-b": "developer"}),
        "outsider": dep.subaccount("outsider"),
    }
    return {"ws-a": ws_a, "ws-b": ws_b, "keys": keys}


def test_each_caller_sees_only_the_events_of_what_it_may_see(deployment: Deployment, listeners: list[Listener]):
    world = make_world(deployment)
    main = listen(listeners, deployment.url, deployment.admin_key)
    dev_a = listen(listeners, deployment.url, world["keys"]["dev-a"])
    dev_b = listen(listeners, deployment.url, world["keys"]["dev-b"])
    outsider = listen(listeners, deployment.url, world["keys"]["outsider"])

    in_a = deployment.client(workspace="ws-a")
    secret = in_a.ok("POST", f"{API}/models", json={"model_name": "secret-a"})["id"]
    in_a.ok("POST", f"{API}/models/secret-a/versions", json={"uri": "oss://bucket/a/model.onnx"})
    shared = in_a.ok("POST", f"{API}/models", json={"model_name": "shared-a"})["id"]
    in_a.ok("PUT", f"{API}/models/shared-a/grants/ws-b", json={"actions": ["inference"]})
    in_a.ok("POST", f"{API}/models/shared-a/versions", json={"uri": "oss://bucket/s/model.onnx"})
    in_a.ok("DELETE", f"{API}/models/shared-a/grants/ws-b")
    deployment.client(workspace="ws-b").ok("POST", f"{API}/models", json={"model_name": "own-b"})
    deployment.admin.ok("POST", f"{API}/workspaces", json={"name": "ws-c"})
    # a change dev-b sees, after ws-c's creation: once it arrives, dev-b's stream has judged that creation
    # (rows are judged in order, each by who may see what when it is delivered), so dev-b joins ws-c after
    deployment.client(workspace="ws-b").ok("POST", f"{API}/models", json={"model_name": "later-b"})
    wait_for(lambda: dev_b.kinds().count(("model", "created")) == 2)
    deployment.admin.ok("PUT", f"{API}/workspaces/ws-c/members/dev-b", json={"role": "viewer"})
    deployment.client(workspace="ws-c").ok("POST", f"{API}/models", json={"model_name": "own-c"})

    wait_for(lambda: main.kinds().count(("model", "created")) == 5)
    wait_for(lambda: dev_b.kinds().count(("model", "created")) == 3)
    assert main.kinds() == [
        ("model", "created"), ("version", "created"), ("model", "created"), ("grant", "updated"),
        ("version", "created"), ("grant", "deleted"), ("model", "created"), ("workspace", "created"),
        ("model", "created"), ("member", "created"), ("model", "created"),
    ]  # fmt: skip
    seqs = [c["seq"] for c in main.changes()]
    assert seqs == sorted(seqs) and [s for _, _, s in main.got if s] == [str(s) for s in seqs]
    # dev-a is in ws-a only
    assert {c["workspace"] for c in dev_a.changes()} == {world["ws-a"]}
    assert dev_a.kinds().count(("model", "created")) == 2
    # dev-b: its own workspace, the grant and its revocation, and ws-c once added (what a grant lets it see
    # in between is judged when delivered: a batch read after the revocation does not show it)
    b_ids = [c["id"] for c in dev_b.changes()]
    assert secret not in b_ids and not any(i.startswith(secret) for i in b_ids)
    assert [c["op"] for c in dev_b.changes() if c["kind"] == "grant" and c["model"] == shared] == ["updated", "deleted"]
    assert ("workspace", "created") not in dev_b.kinds()  # made before dev-b was a member
    assert ("member", "created") in dev_b.kinds() and dev_b.changes()[-1]["workspace"] != world["ws-b"]
    # the sub-account in no workspace gets none of it
    assert outsider.changes() == [] and outsider.status == 200
    assert "secret-a" not in json.dumps(main.got)  # events carry ids, never names or fields


def test_resume_after_a_disconnect_and_resync_after_a_gap(deployment: Deployment, listeners: list[Listener]):
    admin = deployment.admin
    first = listen(listeners, deployment.url, deployment.admin_key)
    admin.ok("POST", f"{API}/workspaces", json={"name": "one"})
    wait_for(lambda: len(first.changes()) == 1)
    last = first.got[-1][2]
    first.close()
    admin.ok("POST", f"{API}/workspaces", json={"name": "two"})
    admin.ok("POST", f"{API}/workspaces", json={"name": "three"})

    resumed = listen(listeners, deployment.url, deployment.admin_key, last_id=last)
    wait_for(lambda: len(resumed.changes()) == 2)
    assert [e for e, _, _ in resumed.got] == ["change", "change"]

    head = resumed.got[-1][2]
    resumed.close()
    deployment.platform.events.prune(keep_rows=1)  # what pruning by age or count does over time
    stale = listen(listeners, deployment.url, deployment.admin_key, last_id=last)
    wait_for(lambda: stale.got)
    assert stale.got[0][0] == "resync" and stale.got[0][2] == head  # reload, then go on from the head
    admin.ok("POST", f"{API}/workspaces", json={"name": "four"})
    wait_for(lambda: stale.changes())
    assert [c["seq"] for c in stale.changes()] == [int(head) + 1]

    future = listen(listeners, deployment.url, deployment.admin_key, last_id="999999")
    wait_for(lambda: future.got)
    assert future.got[0][0] == "resync"


def test_a_bad_last_event_id_is_a_typed_400(deployment: Deployment):
    response = deployment.admin.get(f"{API}/events", headers={"Last-Event-ID": "../etc"})
    assert response.status_code == 400 and response.json()["code"] == "InvalidParameter.LastEventId"
    assert Api(deployment.url, None).get(f"{API}/events").status_code == 401


WRITER = """
import sys
from modeldeck.platform import Platform, Settings, workspaces
from modeldeck.platform.authz import authenticate
settings = Settings(home=sys.argv[1], db_url=sys.argv[2] or None)
platform = Platform(settings)
with platform.store.write() as db:
    workspaces.create(db, authenticate(db, sys.argv[3]), sys.argv[4])
platform.close()
"""


def write_elsewhere(home: Path, db_url: str | None, key: str, name: str) -> None:
    """A workspace created by another process (a kernel's CLI, another replica), not by this server."""
    out = subprocess.run([sys.executable, "-c", WRITER, str(home), db_url or "", key, name],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr


def test_another_process_on_the_same_sqlite_home(deployment: Deployment, listeners: list[Listener]):
    listener = listen(listeners, deployment.url, deployment.admin_key)
    write_elsewhere(deployment.platform.settings.home, None, deployment.admin_key, "from-elsewhere")
    wait_for(lambda: listener.kinds() == [("workspace", "created")], timeout=5)


def test_replicas_on_one_postgresql(postgres: Postgres, tmp_path: Path, listeners: list[Listener]):
    url = postgres.create_database()
    one = deploy(Settings(home=tmp_path / "one", db_url=url))
    for home in ("two", "three"):  # more replicas of the same platform: its admin key and its sealing key
        (tmp_path / home).mkdir()
        (tmp_path / home / "admin.key").write_text(one.admin_key)
        (tmp_path / home / "seal.key").write_text((tmp_path / "one" / "seal.key").read_text())
    two = deploy(Settings(home=tmp_path / "two", db_url=url))
    try:
        on_one = listen(listeners, one.url, one.admin_key)
        on_two = listen(listeners, two.url, one.admin_key)
        two.client(one.admin_key).ok("POST", f"{API}/workspaces", json={"name": "via-two"})
        write_elsewhere(tmp_path / "three", url, one.admin_key, "via-three")
        for listener in (on_one, on_two):
            wait_for(lambda: len(listener.changes()) == 2, timeout=5)
            assert listener.kinds() == [("workspace", "created")] * 2
    finally:
        one.close()
        two.close()


def test_concurrent_writers_on_two_replicas_lose_no_event(postgres: Postgres, tmp_path: Path,
                                                          listeners: list[Listener]):  # fmt: skip
    """Events reach subscribers in sequence order only if they commit in it: a stream that sent seq 11
    would never send a seq 10 committed after it. Eight writers on two replicas of one PostgreSQL create
    models at once; both streams get every creation, once each, in increasing sequence."""
    url = postgres.create_database()
    one = deploy(Settings(home=tmp_path / "one", db_url=url))
    (tmp_path / "two").mkdir()
    for name in ("admin.key", "seal.key"):
        (tmp_path / "two" / name).write_text((tmp_path / "one" / name).read_text())
    two = deploy(Settings(home=tmp_path / "two", db_url=url))
    try:
        heard = [listen(listeners, dep.url, one.admin_key) for dep in (one, two)]
        names = [f"m-{writer}-{i}" for writer in range(8) for i in range(25)]

        def write(writer: int) -> None:
            api = (one, two)[writer % 2].client(one.admin_key)
            for name in names[writer * 25:(writer + 1) * 25]:
                api.ok("POST", f"{API}/models", json={"model_name": name})

        threads = [threading.Thread(target=write, args=(writer,)) for writer in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for listener in heard:
            created = lambda: [c for c in listener.changes() if (c["kind"], c["op"]) == ("model", "created")]  # noqa: E731
            wait_for(lambda: len(created()) >= len(names), timeout=30)
            seqs = [int(seq) for event, _, seq in listener.got if event == "change"]
            assert seqs == sorted(set(seqs))
            assert len(created()) == len(names)
    finally:
        one.close()
        two.close()


def test_the_isolation_worlds_actors_see_only_their_workspaces_events(world: Any, listeners: list[Listener]):
    """The standing of every identity of the isolation suite: members see their workspace's events and
    those of models granted to it or PUBLIC; the sub-account in no workspace sees none."""
    url = world.dep.url
    heard = {actor: listen(listeners, url, world.keys[actor]) for actor in ACTORS}
    made = {model: world.temp_version(model) for model in (SECRET_1, GRANTED, PUBLIC, OWN_B)}
    wait_for(lambda: len(heard["main"].changes()) == len(made))
    for model, version in made.items():
        world.drop_version(model, version)
    wait_for(lambda: len(heard["main"].changes()) == 2 * len(made))
    ids = {model: world.ids[model] for model in made}

    def models_heard(actor: str) -> set[str]:
        return {name for name, mid in ids.items() for c in heard[actor].changes() if c.get("model") == mid}

    wait_for(lambda: models_heard("dev-b") == {GRANTED, PUBLIC, OWN_B})
    for actor in ("admin-a", "dev-a", "viewer-a"):
        wait_for(lambda: models_heard(actor) == {SECRET_1, GRANTED, PUBLIC})
    assert models_heard("main") == set(made)
    assert heard["outsider"].changes() == [] and heard["outsider"].status == 200
    for actor in ACTORS:  # nothing beyond what it may see, whatever arrives later
        assert models_heard(actor) <= {model for model in made if model in world.visible(_home(actor)) or actor == "main"}


def _home(actor: str) -> str | None:
    return next(iter(MEMBERSHIPS.get(actor, {})), None)
