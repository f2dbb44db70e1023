"""The `ray` engine: a deployment as one Ray Serve application, whose replicas, health checks and rolling
updates are Ray Serve's own. Imported only when a deployment uses it; Ray is started by whoever runs the
cluster (`ray start --head`), and the platform connects to it (`Settings.ray_address`).

Each replica answers like a local replica, through the same code (`replica.ReplicaApp` as Serve's ASGI
ingress): POST {endpoint}/predict, the V2 protocol, and OpenAI's chat completions for a language model. A version whose replicas fail to start leaves the
application DEPLOY_FAILED: the engine deploys the old version again and says why.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from .local import ReplicaFailed, Served

SERVE_NAMESPACE = "modeldeck"
CONSTRUCTOR_RETRIES = 2  # a version whose replica fails to load twice is broken: Serve gives up on it
# Serve's client is not thread-safe: every RequestRouterConfig it builds (a deployment's options, a status)
# registers and unregisters its module for pickling in one process-wide registry, so two threads at once
# fail with "is not registered for pickle by value". One Serve call at a time in this process.
_SERVE = threading.RLock()
# What a request costs on Serve, ours to set: no access log line per request in each replica (Serve writes
# one by default), enough requests in flight per replica that the proxy never queues a concurrency-16 load
# (Serve's default is 5), and the app on the replica's own event loop (no hop to a second thread per request).
MAX_ONGOING = 64
LOGGING = {"enable_access_log": False, "log_level": "WARNING"}
REPLICA_ENV = {"RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0"}


class ServedVersion:
    """A Ray Serve replica of one version (the class Serve deploys; built in each replica's worker): the
    local engine's replica app (`replica.ReplicaApp`) as Serve's ASGI ingress, so the same code answers
    predict, chat (streamed or whole) and the V2 protocol on either engine."""

    def __init__(self, config: dict[str, Any]) -> None:
        from .guard import Guard
        from .replica import load, warm_up

        self.config = config
        self.runtime = load(config["folder"], config["target"])
        warm_up(self.runtime)
        self.guard = Guard(config["database_url"], config["workspace_id"])

    def __serve_build_asgi_app__(self) -> Any:
        from ray import serve

        from .replica import ReplicaApp

        replica = serve.get_replica_context().replica_id.unique_id
        return ReplicaApp({**self.config, "replica": replica}, self.runtime, self.guard, spread=False)

    def check_health(self) -> None:
        from .replica import warm_up

        warm_up(self.runtime)


class RayEngine:
    """One Serve application named after the deployment (workspace-scoped), at route /<app name>."""

    def __init__(self, row: Any, config: dict[str, Any], address: str | None, http_port: int) -> None:
        import ray
        from ray import serve

        with _SERVE:
            if not ray.is_initialized():
                ray.init(address=address or "auto", namespace=SERVE_NAMESPACE, logging_level="WARNING",
                         log_to_driver=False)  # fmt: skip
            serve.start(http_options={"host": "127.0.0.1", "port": http_port})
        self.app = f"{row.workspace_id}-{row.name}"
        self.config, self.http_port = config, http_port
        self.replica_count, self.resources = row.replicas, row.resources
        self.served: Served | None = None
        self._seen: list[dict[str, Any]] = []  # the replicas as Serve last reported them

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/{self.app}"

    def _deploy(self, served: Served, mode: dict[str, Any] | None = None) -> None:
        from ray import serve

        options = {"num_cpus": self.resources.get("cpus", 0.25), "runtime_env": {"env_vars": REPLICA_ENV}}
        if "memory_mb" in self.resources:
            options["memory"] = self.resources["memory_mb"] << 20
        with _SERVE:
            deployment = serve.deployment(serve.ingress()(ServedVersion), name="version",
                                          num_replicas=self.replica_count, ray_actor_options=options,
                                          health_check_period_s=2, max_constructor_retry_count=CONSTRUCTOR_RETRIES,
                                          max_ongoing_requests=MAX_ONGOING, logging_config=LOGGING,
                                          **_rollout(mode or {"mode": "rolling"}, self.replica_count))  # fmt: skip
            config = {**self.config, "folder": str(served.folder), "target": served.target.__dict__}
            try:
                serve.run(deployment.bind(config), name=self.app, route_prefix=f"/{self.app}")
            except RuntimeError as exc:  # Serve's words for why the application could not be deployed
                why = _why(str(exc), self._failure())
                raise ReplicaFailed(f"version {served.version} failed on Ray Serve: {why}") from None
        self.served = served

    def _failure(self) -> str:
        """What Serve says of the application's deployments (a replica's error, with its traceback)."""
        from ray import serve

        with _SERVE:
            app = serve.status().applications.get(self.app)
        return "\n".join(d.message for d in app.deployments.values()) if app is not None else ""

    def start(self, served: Served, replicas: int) -> None:
        self.replica_count = replicas
        self._deploy(served)

    def upgrade(self, served: Served, mode: dict[str, Any], on_rollback: Any) -> None:
        """Ray Serve replaces the replicas itself, batch by batch as `mode` says; a failed version is
        deployed back."""
        old = self.served
        try:
            self._deploy(served, mode)
        except ReplicaFailed as exc:
            on_rollback(str(exc))
            if old is not None:
                self._deploy(old, {"mode": "full"})
            raise

    def heal(self, replacing: Any = None) -> list[Any]:
        return []  # Ray Serve restarts replicas that die or fail their health check

    def replicas(self) -> list[dict[str, Any]]:
        """The replicas as Serve reports them (while a change is being deployed: as it reported them last)."""
        from ray import serve

        if self.served is None:
            return []
        if not _SERVE.acquire(timeout=1):
            return self._seen
        try:
            app = serve.status().applications.get(self.app)
        finally:
            _SERVE.release()
        if app is None:
            return []
        out = []
        for deployment in app.deployments.values():
            for state, count in deployment.replica_states.items():
                out += [{"replica": None, "version": self.served.version, "state": _name(state).lower(),
                         "engine_status": _name(app.status)}] * count  # fmt: skip
        self._seen = out
        return out

    def stop(self) -> None:
        from ray import serve

        with _SERVE:
            serve.delete(self.app)
        self.served = None

    def close(self) -> None:
        self.stop()


def _rollout(mode: dict[str, Any], replicas: int) -> dict[str, Any]:
    """Our upgrade mode in Serve's terms: full starts every new replica beside the old ones; rolling
    replaces `batch_size` at a time, starting the ones beyond `max_unavailable` before old ones stop."""
    if mode["mode"] == "full":
        return {"rolling_update_percentage": 1.0, "max_surge_percent": 100}
    replicas = max(replicas, 1)
    batch = min(mode.get("batch_size", 1), replicas)
    surge = max(batch - mode.get("max_unavailable", 0), 0)
    return {"rolling_update_percentage": batch / replicas, "max_surge_percent": math.ceil(100 * surge / replicas)}


def _why(summary: str, detail: str) -> str:
    """Serve's summary line and the replica's own error (the last line of the traceback it carries)."""
    first = next((line.strip() for line in summary.splitlines() if line.strip()), "Ray Serve failed")
    last = next((line.strip() for line in reversed(detail.splitlines()) if line.strip()), "")
    return f"{first[:240]} ... {last[:300]}" if last else first[:240]


def _name(value: Any) -> str:
    """Serve's enums, or the strings it sometimes reports instead."""
    return str(getattr(value, "value", value))
