"""Real services for the tests and the bench scripts, each a process on a loopback port stopped by its pid:
PostgreSQL (Debian's package), an S3-compatible server (moto's server mode), `modeldeck serve` replicas
and HAProxy in front of them."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- PostgreSQL ----------------------------------------------------------------------------------------


def pg_bin() -> Path | None:
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / "initdb").exists():
            return root
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class Postgres:
    port: int
    bindir: Path
    run_as: tuple[str, ...] = ()
    schema: str | None = field(default=None, repr=False)  # the database `migrated_database` copies

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        import psycopg

        name = "t_" + secrets.token_hex(6)
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return self.url(name)

    def migrated_database(self) -> str:
        """A new database already at the platform's newest schema, as a fresh platform leaves it: a copy of
        one migrated once per cluster (PostgreSQL copies a template in milliseconds, where creating the
        tables takes most of a second, paid by every test of the store suite)."""
        if self.schema is None:
            from modeldeck.platform.db import Store

            url = self.create_database()
            store = Store(url)
            store.migrate()
            store.dispose()
            self.schema = url.rsplit("/", 1)[1]
        return self.create_database(template=self.schema)


@contextlib.contextmanager
def postgres_cluster(bindir: Path) -> Iterator[Postgres]:
    """A private PostgreSQL cluster on a free loopback port, removed afterwards."""
    data = Path(tempfile.mkdtemp(prefix="modeldeck-pg-"))  # outside pytest's 0700 root, for the postgres user
    port = free_port()
    run_as: tuple[str, ...] = ()
    if os.geteuid() == 0:  # initdb refuses to run as root: use the postgres user the package creates
        run_as = ("runuser", "-u", "postgres", "--")
        shutil.chown(data, "postgres")
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True, capture_output=True,
    )  # fmt: skip
    log = data / "server.log"
    subprocess.run(
        [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start",
         "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield Postgres(port, bindir, run_as)
    finally:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(data, ignore_errors=True)


# ---- an S3-compatible object store ---------------------------------------------------------------------


@dataclass
class S3:
    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to reach it through fsspec (s3fs reads FSSPEC_S3_* as its options)."""
        return {
            "FSSPEC_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "modeldeck-test",
            "AWS_SECRET_ACCESS_KEY": "modeldeck-test-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",  # never ask a metadata address for credentials
        }

    def bucket(self) -> str:
        """A new, empty bucket; returns its s3:// URL."""
        import s3fs

        name = "b-" + secrets.token_hex(6)
        fs = s3fs.S3FileSystem(endpoint_url=self.endpoint, key=self.env["AWS_ACCESS_KEY_ID"],
                               secret=self.env["AWS_SECRET_ACCESS_KEY"], skip_instance_cache=True)  # fmt: skip
        fs.mkdir(name)
        return f"s3://{name}"


@contextlib.contextmanager
def s3_server() -> Iterator[S3]:
    """moto's S3-compatible server, in its own process."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_until_up(endpoint)
        yield S3(endpoint)
    finally:
        stop(proc)


# ---- modeldeck serve replicas and a load balancer --------------------------------------------------------


def team_env(s3: S3) -> dict[str, str]:
    """What every replica of one team server shares: the bucket's credentials and the key sealing its secrets."""
    return {**s3.env, "MODELDECK_SEAL_KEY": secrets.token_hex(32)}


class Replica:
    """`python -m modeldeck serve` on a free loopback port, with its own home and the given store."""

    def __init__(self, home: Path, *options: str, env: dict[str, str] | None = None, port: int = 0) -> None:
        self.home, self.options, self.env, self.port = home, options, env or {}, port or free_port()
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> Replica:
        command = [sys.executable, "-m", "modeldeck", "serve", "--home", str(self.home), "--port", str(self.port),
                   *self.options]  # fmt: skip
        self.home.mkdir(parents=True, exist_ok=True)
        self.log = self.home.parent / f"{self.home.name}.out"
        with open(self.log, "w") as out:  # a file, not a pipe: nobody has to keep reading it
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True,
                                         env={**os.environ, **self.env})  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        try:
            wait_until_up(f"{self.url}/health", timeout=60)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"the platform did not start: {self.log.read_text()[-2000:]}") from None
        return self

    @property
    def key(self) -> str | None:
        try:
            return (self.home / "admin.key").read_text().strip()
        except FileNotFoundError:
            return None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, as when a machine dies."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def __enter__(self) -> Replica:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


HAPROXY_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "haproxy.cfg"  # the one deploy/ ships


def haproxy_config(port: int, backends: list[str]) -> str:
    """deploy/haproxy.cfg with its frontend on a loopback port and `backends` as its servers."""
    lines = []
    for line in HAPROXY_CONFIG.read_text().splitlines():
        if line.strip().startswith("bind "):
            line = f"    bind 127.0.0.1:{port}"
        elif line.strip().startswith("server "):
            continue
        lines.append(line)
    lines += [f"    server r{i} {b} check" for i, b in enumerate(backends)]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def haproxy(backends: list[str]) -> Iterator[str]:
    """HAProxy (Debian's package) round-robin over `backends` (host:port), health-checked; yields its URL."""
    binary = shutil.which("haproxy")
    if binary is None:
        raise RuntimeError("HAProxy is not installed (make system-deps installs Debian's haproxy package)")
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="modeldeck-lb-"))
    config = folder / "haproxy.cfg"
    config.write_text(haproxy_config(port, backends))
    proc = subprocess.Popen([binary, "-f", str(config), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/health")
        yield url
    finally:
        stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


# ---- a local Ray head node -------------------------------------------------------------------------------

RAY_ATTEMPTS = 2
RAY_START_TIMEOUT = 180.0
# Why Ray's head failed to start here before: `ray start` gives its raylet a fixed 30 s (not configurable)
# to register with the GCS, and the raylet waits (a fixed 15-30 s, then it aborts) for its Python agents to
# import and write their ports, which on a loaded 2-core machine takes longer. So this launcher runs
# `ray start` ahead of other processes while it starts (its niceness is put back once the head is up) and
# with the first wait made RAY_START_TIMEOUT. The raylet also waits a fixed 15 s for the port file of each
# agent whose port is left to the agent, then aborts: every agent's port is given (`_ray_start`). `ray start`
# hands the dashboard agent its port but not the raylet, which then waits for the agent's port file all the
# same (the usual cause of "timed out during startup" on a loaded machine): the launcher adds it to the
# raylet's command line (the raylet has the flag).
RAY_HEAD_START = -10  # niceness while the head starts, where the system allows it (root); 0 after
RAY_LAUNCHER = f"""
import glob, os, sys, time
try:
    os.nice({RAY_HEAD_START})
except PermissionError:
    pass
import ray._private.services as services
from ray.scripts.scripts import main

patience, get_node = float(sys.argv.pop(1)), services.get_node

def raylet_alive():
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            name, rest = open(stat).read().split("(", 1)[1].rsplit(")", 1)
        except (OSError, ValueError):
            continue
        state, ppid = rest.split()[:2]
        if name == "raylet" and int(ppid) == os.getpid():
            return state != "Z"
    return False

def patient_get_node(*args, **kwargs):
    deadline = time.monotonic() + patience
    while True:
        try:
            return get_node(*args, **kwargs)
        except RuntimeError:
            if time.monotonic() > deadline or not raylet_alive():  # a raylet that aborted never registers
                raise
            time.sleep(0.5)

def start_ray_process(command, process_type, *args, **kwargs):
    if process_type == "raylet":  # the one agent port Ray does not pass on to the raylet (see above)
        command = [*command, "--dashboard_agent_listen_port=" + sys.argv[sys.argv.index("--dashboard-agent-listen-port") + 1]]
    return start_process(command, process_type, *args, **kwargs)

services.get_node, start_process, services.start_ray_process = patient_get_node, services.start_ray_process, start_ray_process
sys.argv[0] = "ray"
main()
"""
SOCKET_PATH_MAX = 107 - len("/session_2026-01-01_00-00-00_000000_4194304/sockets/plasma_store")


@dataclass
class RayHead:
    """A Ray head node on 127.0.0.1; `env` is what a driver needs to join it (loopback, the cluster's token)."""

    address: str
    env: dict[str, str]
    pid: int


def ray_env() -> dict[str, str]:
    """Ray on loopback, with a token of its own (never written to a file), no usage reports, and the
    timeouts a loaded 2-core machine needs for its Python workers (Serve's replicas import a lot)."""
    return {
        "RAY_USAGE_STATS_ENABLED": "0",
        # Ray turns 127.0.0.1 into the machine's outward address unless it believes it runs on one laptop.
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "RAY_worker_register_timeout_seconds": "300",
        "RAY_gcs_server_port_wait_time_s": "120",
        "RAY_gcs_rpc_server_reconnect_timeout_s": "120",
        # On SIGTERM, `ray start --block` first drains its node (so Serve can move replicas to other nodes)
        # for up to 30 s; a single-node test cluster never finishes draining, so its stop waited 30 s.
        "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
    }


def _children(pid: int) -> list[int]:
    """Every live process `pid` started, directly or not: its descendants, and the processes of the session
    it leads (started with `start_new_session`), which stay in it when their parent dies first. Ray's
    workers run in process groups of their own, so a process group would miss them."""
    parents: dict[int, list[int]] = {}
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        child = int(stat.parent.name)
        parents.setdefault(int(fields[1]), []).append(child)
        if int(fields[3]) == pid and child != pid:  # fields: state, ppid, pgrp, session
            found.add(child)
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_tree(proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """SIGTERM the process (Ray's `start --block` then stops what it started), SIGKILL whatever of its
    descendants is still there after `timeout`; returns once none of them is left."""
    pids = set(_children(proc.pid))
    stop(proc, timeout)
    deadline = time.monotonic() + timeout
    while (left := [p for p in pids | set(_children(proc.pid)) if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    while any(_alive(p) for p in left):
        time.sleep(0.05)


class RayStartTimedOut(RuntimeError):
    """Ray's head node missed one of its own start-up deadlines (worth another try on a busy machine)."""


def _ray_start(folder: Path, env: dict[str, str], cpus: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-c", RAY_LAUNCHER, str(RAY_START_TIMEOUT), "start", "--head", "--block",
               "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", str(cpus),
               "--object-store-memory", str(100 << 20), "--temp-dir", str(folder), "--disable-usage-stats",
               "--include-dashboard", "false", "--dashboard-port", str(free_port()),
               "--dashboard-agent-listen-port", str(free_port()), "--ray-client-server-port", str(free_port()),
               "--dashboard-agent-grpc-port", str(free_port()), "--runtime-env-agent-port", str(free_port()),
               "--metrics-export-port", str(free_port()),
               "--include-log-monitor", "false", "--no-monitor"]  # fmt: skip
    log = folder / "ray-start.out"
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env},
                                start_new_session=True)  # fmt: skip
    ready = folder / "ray_current_cluster"  # written once the head node is up
    deadline = time.monotonic() + RAY_START_TIMEOUT
    try:
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
    except BaseException:  # interrupted (a test's timeout, ^C): leave nothing running
        stop_tree(proc)
        raise
    if ready.exists():
        for pid in [proc.pid, *_children(proc.pid)]:  # from now on, Ray competes like any process
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, pid, 0)
        return proc, f"127.0.0.1:{port}"
    timed_out = proc.poll() is None  # our deadline, or Ray's own below
    stop_tree(proc)
    output = log.read_text()
    timed_out = timed_out or "timed out" in output
    raise (RayStartTimedOut if timed_out else RuntimeError)(f"Ray did not start: {output[-3000:]}")


@contextlib.contextmanager
def ray_head(parent: Path, cpus: int = 2) -> Iterator[RayHead]:
    """`ray start --head --block` on 127.0.0.1 with `cpus` CPUs and a small object store, in a short folder
    under `parent` (Ray's socket paths must fit in 107 bytes); stopped by its pid with every process it
    started. Tried again if a busy machine makes Ray's own start-up deadline pass."""
    root = parent if len(str(parent)) < SOCKET_PATH_MAX - 8 else None
    env = ray_env()
    for attempt in range(1, RAY_ATTEMPTS + 1):
        folder = Path(tempfile.mkdtemp(prefix="ray", dir=root))
        try:
            proc, address = _ray_start(folder, env, cpus)
            break
        except RuntimeError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            if attempt == RAY_ATTEMPTS or not isinstance(exc, RayStartTimedOut):
                raise
    try:
        yield RayHead(address, env, proc.pid)
    finally:
        stop_tree(proc)
        shutil.rmtree(folder, ignore_errors=True)
