"""Fixtures: real platforms served over real HTTP, on SQLite and on a PostgreSQL started here."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, text

from modeldeck.platform import Platform, PlatformServer, Settings
from services import Postgres, pg_bin, postgres_cluster

# jp_fetch / jp_ws_fetch for the Jupyter server extension's tests (a plugin applies to the whole run), and
# the installed wheel's session fixtures (tests/installed.py).
pytest_plugins = ["pytest_jupyter.jupyter_server", "installed"]

WS_HEADER = "X-ModelDeck-Workspace"


class Api(httpx.Client):
    """An HTTP client for one API key (and optionally one workspace) of a running platform."""

    def __init__(self, url: str, key: str | None, workspace: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        if workspace:
            headers[WS_HEADER] = workspace
        super().__init__(base_url=url, headers=headers, timeout=60)
        self.key = key

    def ok(self, method: str, url: str, **kw: Any) -> Any:
        """Send a request that must succeed; return its JSON (None for an empty body)."""
        response = self.request(method, url, **kw)
        assert response.is_success, f"{method} {url}: {response.status_code} {response.text}"
        return response.json() if response.content else None


def pytest_configure(config: pytest.Config) -> None:
    """A run stopped by SIGTERM still tears down what its fixtures started (PostgreSQL, Ray, servers):
    as an interrupt, pytest finishes the session and its finalizers run."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


@pytest.fixture(autouse=True)
def isolated_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Tests never see the real user's profiles, home or keyring; embedded servers they start are stopped."""
    for name in ("MODELDECK_PROFILE", "MODELDECK_API_KEY", "MODELDECK_URL", "MODELDECK_WORKSPACE", "OPENAI_API_KEY",
                 "MODELDECK_ACCESS_KEY_ID", "MODELDECK_ACCESS_KEY_SECRET", "MODELDECK_SECURITY_TOKEN", "MODELDECK_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    user = tmp_path / "user"
    monkeypatch.setenv("MODELDECK_CONFIG", str(user / "config" / "profiles.toml"))
    monkeypatch.setenv("MODELDECK_HOME", str(user / "home"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    yield user
    from modeldeck import embedded

    embedded.stop(user / "home")


@dataclass
class Deployment:
    """One platform behind one HTTP server."""

    url: str
    admin_key: str
    platform: Platform
    server: PlatformServer
    clients: list[Api] = field(default_factory=list)

    def client(self, key: str | None = None, workspace: str | None = None) -> Api:
        api = Api(self.url, self.admin_key if key is None else key, workspace)
        self.clients.append(api)
        return api

    @property
    def admin(self) -> Api:
        return self.client()

    def subaccount(self, name: str, memberships: dict[str, str] | None = None) -> str:
        """Create a sub-account with roles in workspaces; return its API key."""
        key = self.admin.ok("POST", "/api/v1/accounts", json={"name": name})["api_key"]
        for ws, role in (memberships or {}).items():
            self.admin.ok("PUT", f"/api/v1/workspaces/{ws}/members/{name}", json={"role": role})
        return key

    def close(self) -> None:
        for api in self.clients:
            api.close()
        self.server.stop()
        self.platform.close()


def deploy(settings: Settings) -> Deployment:
    platform = Platform(settings)
    server = PlatformServer(platform).start()
    key = platform.admin_key()
    assert key
    return Deployment(server.url, key, platform, server)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    """A fresh embedded platform (SQLite, local blobs) served over HTTP on loopback."""
    dep = deploy(Settings(home=tmp_path / "home", allow_unsafe_formats=frozenset({"PickleModel"})))
    yield dep
    dep.close()


# ---- PostgreSQL, from Debian's packages, started for this test session --------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A private PostgreSQL cluster on a free loopback port, removed at the end of the session."""
    bindir = pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (make test-deps installs Debian's postgresql package)")
    pytest.importorskip("psycopg", reason="the [postgres] extra (psycopg) is not installed")
    with postgres_cluster(bindir) as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgres"])
def store_deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    """The same platform on each store backend: the store suite runs against both."""
    db_url = None
    if request.param == "postgres":
        db_url = request.getfixturevalue("postgres").migrated_database()
    dep = deploy(Settings(home=tmp_path / "home", db_url=db_url))
    yield dep
    dep.close()


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


@pytest.fixture
def llm(deployment: Deployment, tmp_path: Path) -> str:
    """A tiny random causal LM (nothing can be downloaded), registered as 'tiny' in the default workspace."""
    import modeldeck as md
    from modeldeck import examples

    folder = examples.tiny_causal_lm(tmp_path / "tiny-lm", seed=3)
    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        deck.register("tiny", folder, format="SafeTensors", framework="Transformers", progress=False)
    return "tiny"


_COPY = text(
    "INSERT INTO model_versions (model_id, version_name, major, minor, patch, uri, approval_status, labels, metrics,"
    " training_spec, inference_spec, extra_info, description, runnable, created_by, created_at, updated_at)"
    " SELECT model_id, :name, :major, 0, 0, uri, 'Pending', labels, metrics, training_spec, inference_spec,"
    " extra_info, description, runnable, created_by, created_at, updated_at FROM model_versions WHERE version_name = :source"
)


def copy_version(conn: Connection, source: str, name: str) -> None:
    """A version written by SQL past the platform: `source`'s row under the name `name` (major.0.0)."""
    conn.execute(_COPY, {"source": source, "name": name, "major": int(name.split(".")[0])})


def model_row_writes(conn: Connection, names: list[str]) -> int:
    """How many rows of `models` copying version 1.0.0 under each of `names` wrote, its triggers run (in
    the transaction open on `conn`, which the caller ends)."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        before = raw.total_changes  # every row written, by a statement or by its triggers
        for name in names:
            copy_version(conn, "1.0.0", name)
        return raw.total_changes - before - len(names)
    updates = text("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'models'")
    before = conn.scalar(updates)  # (it may count earlier transactions' writes not yet reported)
    for name in names:
        copy_version(conn, "1.0.0", name)
    conn.exec_driver_sql("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred triggers run now, in this transaction
    return conn.scalar(updates) - before
