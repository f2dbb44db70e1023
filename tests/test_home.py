"""The platform's home: `modeldeck serve`, provisioning, migrations in place, many processes at once."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.orm import Session

from conftest import Api, model_row_writes
from modeldeck.platform import Platform, Settings
from modeldeck.platform.accounts import provision
from modeldeck.platform.core import write_key_file
from modeldeck.platform.db import Store, alembic_config


def serve(home: Path, *args: str) -> tuple[subprocess.Popen, str, list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "modeldeck", "serve", "--home", str(home), "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines = [proc.stdout.readline() for _ in range(2)]
    assert "serving on http://127.0.0.1:" in lines[0], lines
    url = lines[0].split("serving on ")[1].strip()
    return proc, url, lines


def stop(proc: subprocess.Popen) -> str:
    """Stop the server and return the rest of its output (read through the same buffered pipe)."""
    proc.terminate()
    out = proc.stdout.read()
    proc.wait(30)
    proc.stdout.close()
    return out


def test_serve_on_an_empty_home_provisions_and_says_where_the_key_is(tmp_path: Path):
    home = tmp_path / "fresh"
    proc, url, first_lines = serve(home)
    try:
        key_file = home / "admin.key"
        key = key_file.read_text().strip()
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
        me = Api(url, key).ok("GET", "/api/v1/whoami")
        assert me["account"]["kind"] == "main" and me["workspace"]["name"] == "default"
        unauth = httpx.get(f"{url}/api/v1/models")
        assert unauth.status_code == 401 and unauth.json()["code"] == "InvalidApiKey"
    finally:
        rest = stop(proc)
    printed = "".join(first_lines) + rest
    assert str(key_file) in printed and "cat " in printed
    assert key not in printed  # the key itself is never printed or logged
    # a second start on the same home provisions nothing new and keeps the key
    proc, url, lines = serve(home)
    try:
        assert Api(url, key).ok("GET", "/api/v1/whoami")["account"]["name"] == "main"
    finally:
        printed = "".join(lines) + stop(proc)
    assert "admin key" not in printed


@contextmanager
def old_home(tmp_path: Path, revision: str) -> Iterator[tuple[Path, str, Session]]:
    """A provisioned home whose store stops at `revision`: its path, its admin key, and a transaction in
    which the caller may write rows of that schema."""
    home = tmp_path / "old"
    home.mkdir()
    store = Store(f"sqlite:///{home / 'modeldeck.db'}")
    store.upgrade(revision)
    try:
        with store.write() as db:
            key = provision(db)
            write_key_file(home / "admin.key", key)
            yield home, key, db
    finally:
        store.dispose()


def test_an_existing_home_upgrades_in_place(tmp_path: Path):
    """A home created by the first schema revision opens with the newest code, data intact."""
    with old_home(tmp_path, "0001") as (home, key, _):
        pass

    platform = Platform(Settings(home=home))
    try:
        assert platform.initial_key is None
        from modeldeck.platform import PlatformServer

        with PlatformServer(platform) as server:
            api = Api(server.url, key)
            assert api.ok("GET", "/api/v1/whoami")["account"]["name"] == "main"
            # the column added by revision 0002 works
            up = api.ok("POST", "/api/v1/uploads", json={"size": 3, "resume_key": "k" * 64})
            again = api.ok("POST", "/api/v1/uploads", json={"size": 3, "resume_key": "k" * 64})
            assert up["id"] == again["id"]
    finally:
        platform.close()


# rows written by SQL into an old home (the columns every revision since 0001 has)
_NOW = "2026-12-01 12:00:00.000000"
_MODEL = ("INSERT INTO models (id, workspace_id, model_name, accessibility, labels, description, extra_info,"
          " created_at, updated_at) VALUES (:id, :ws, :id, 'PRIVATE', '{}', '', '{}', :now, :now)")  # fmt: skip
_VERSION = ("INSERT INTO model_versions (model_id, version_name, major, minor, patch, uri, approval_status,"
            " labels, metrics, training_spec, inference_spec, extra_info, description, runnable, created_by,"
            " created_at, updated_at) VALUES (:model, :name, :major, 0, 0, 'oss://b/m.onnx', :status, '{}',"
            " '{}', '{}', '{}', '{}', '', 1, :by, :now, :now)")  # fmt: skip


def test_a_home_from_before_latest_columns_gets_them_filled(tmp_path: Path):
    """Revision 0012 puts each model's latest version on its row (and the triggers that keep it there):
    models registered before it list theirs at once."""
    with old_home(tmp_path, "0011") as (home, key, db):
        ws, creator = db.execute(text("SELECT id, account_id FROM workspaces")).one()
        for name in ("iris", "bert"):
            db.execute(text(_MODEL), {"id": name, "ws": ws, "now": _NOW})
        for major, status in ((1, "Approved"), (2, "Rejected")):
            db.execute(text(_VERSION), {"model": "iris", "name": f"{major}.0.0", "major": major, "status": status,
                                        "by": creator, "now": _NOW})  # fmt: skip

    platform = Platform(Settings(home=home))
    try:
        from modeldeck.platform import PlatformServer

        with PlatformServer(platform) as server:
            models = {m["model_name"]: m for m in Api(server.url, key).ok("GET", "/api/v1/models")["items"]}
            assert models["iris"]["latest_version"] == {"version_name": "1.0.0", "approval_status": "Approved"}
            assert models["bert"]["latest_version"] is None
    finally:
        platform.close()


def test_a_home_at_revision_0012_gets_the_triggers_that_write_only_changes(tmp_path: Path):
    """Revision 0013 replaces the latest-version triggers 0012 installed, which wrote the model's row for
    every version, with the ones that write it only when its latest version changed. (Revision 0012 run
    today installs today's triggers: a stand-in under the insert trigger's name writes as 0012's did.)"""
    with old_home(tmp_path, "0012") as (home, _, db):
        db.execute(text("DROP TRIGGER model_versions_latest_insert"))
        db.execute(text("CREATE TRIGGER model_versions_latest_insert AFTER INSERT ON model_versions BEGIN"
                        " UPDATE models SET latest_version = latest_version WHERE id = NEW.model_id; END"))
        ws, creator = db.execute(text("SELECT id, account_id FROM workspaces")).one()
        db.execute(text(_MODEL), {"id": "iris", "ws": ws, "now": _NOW})
        db.execute(text(_VERSION), {"model": "iris", "name": "1.0.0", "major": 1, "status": "Pending",
                                    "by": creator, "now": _NOW})  # fmt: skip
    Platform(Settings(home=home)).close()  # opening the home upgrades it
    store = Store(f"sqlite:///{home / 'modeldeck.db'}")
    try:
        with store.engine.connect() as conn:
            assert model_row_writes(conn, ["0.9.0", "0.8.0"]) == 0
    finally:
        store.dispose()


OPEN_HOME = """
import sys
from modeldeck.platform import Platform, Settings
p = Platform(Settings(home=sys.argv[1]))
print("provisioned" if p.initial_key else "reused")
"""


def test_many_processes_open_one_fresh_home_at_once(tmp_path: Path):
    home = tmp_path / "shared"
    procs = [
        subprocess.Popen([sys.executable, "-c", OPEN_HOME, str(home)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert [p.returncode for p in procs] == [0] * 4
    assert outputs == ["provisioned", "reused", "reused", "reused"]


def test_two_servers_write_to_one_home_concurrently(tmp_path: Path):
    home = tmp_path / "shared"
    a, url_a, _ = serve(home)
    b, url_b, _ = serve(home)
    try:
        key = (home / "admin.key").read_text().strip()
        Api(url_a, key).ok("POST", "/api/v1/models", json={"model_name": "m"})

        def register(i: int) -> int:
            with Api(url_a if i % 2 else url_b, key) as api:
                return api.post("/api/v1/models/m/versions", json={"uri": "oss://b/k", "version_name": f"1.{i}.0"}).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(register, range(40)))
        assert codes == [201] * 40
        names = set()
        cursor = None
        api = Api(url_b, key)
        while True:
            page = api.ok("GET", "/api/v1/models/m/versions", params={"limit": 15, **({"cursor": cursor} if cursor else {})})
            names |= {v["version_name"] for v in page["items"]}
            if not (cursor := page["next_cursor"]):
                break
        assert names == {f"1.{i}.0" for i in range(40)}
    finally:
        stop(a)
        stop(b)


def test_fresh_stores_and_migrated_stores_have_the_same_schema(tmp_path: Path):
    """The fast path for a fresh home (tables + stamp) and the Alembic path agree, and HEAD is current."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from modeldeck.platform.db import HEAD
    from modeldeck.platform.schema import Base

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD

    fresh = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh.migrate()
    migrated = Store(f"sqlite:///{tmp_path / 'migrated.db'}")
    migrated.upgrade("head")
    for store in (fresh, migrated):
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert context.get_current_revision() == HEAD
        store.dispose()
