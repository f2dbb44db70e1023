"""The deployments a platform process runs: one controller thread per deployment, driving its engine.

API calls record what is wanted (service.py) and hand the controller a command; the controller carries it
out (start, upgrade, roll back, stop, delete), writes the status and the events, and between commands
replaces replicas that died. Statuses are in the store, so every server process answers reads.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ...errors import DeckError
from .. import inference, registry
from ..events import publish
from ..schema import Deployment, Model, ModelVersion
from . import service, spec
from .forks import Template
from .service import PLATFORM

if TYPE_CHECKING:
    from ..context import Services

HOST = "127.0.0.1"
HEAL_INTERVAL = 0.25


class EngineFailed(Exception):
    """A version could not be served; the message says why (for the events)."""


@dataclass(frozen=True)
class Command:
    kind: str  # start | upgrade | stop | delete | close
    actor: str = PLATFORM
    before: str | None = None  # the version served before an upgrade or rollback
    done: threading.Event = field(default_factory=threading.Event, compare=False)  # set once carried out


class Controller:
    """One deployment's engine and the thread that changes it."""

    def __init__(self, deployments: Deployments, deployment_id: str) -> None:
        self.deployments, self.id = deployments, deployment_id
        self.platform = deployments.platform
        self.engine: Any = None
        self.commands: queue.Queue[Command] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name=f"modeldeck-deploy-{deployment_id}", daemon=True)
        self.thread.start()

    # ---- the loop ---------------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            try:
                command = self.commands.get(timeout=HEAL_INTERVAL)
            except queue.Empty:
                self._heal()
                continue
            if command.kind == "close":
                if self.engine is not None:
                    self.engine.close()
                return
            try:
                getattr(self, "_" + command.kind)(command)
            except Exception as exc:  # never leave a deployment Upgrading forever
                self._write(lambda db, row: (
                    service.set_status(db, row, "Failed", _why(exc)),
                    service.event(db, row, PLATFORM, "failed", "The deployment failed.", reason=_why(exc)),
                ))  # fmt: skip
            finally:
                command.done.set()
            if command.kind == "delete":
                return

    def _write(self, change: Any) -> Deployment | None:
        with self.platform.store.write() as db:
            row = db.get(Deployment, self.id)
            if row is not None:
                change(db, row)
        self.deployments.changed()
        return row

    def _row(self) -> Deployment:
        with self.platform.store.read() as db:
            return db.get_one(Deployment, self.id)

    def _served(self, row: Deployment, version: str) -> Any:
        return served(self.platform, row, version)

    def _engine(self, row: Deployment) -> Any:
        if self.engine is None:
            settings = self.platform.settings
            config = {"deployment": row.name, "workspace_id": row.workspace_id, "database_url": settings.database_url}
            if row.engine == "ray":
                from .ray_serve import RayEngine

                self.engine = RayEngine(row, config, settings.ray_address, settings.ray_serve_port)
            else:
                from .local import LocalEngine

                self.engine = LocalEngine(HOST, row.port, config, self.deployments.template)
                if row.port != self.engine.port:
                    self._write(lambda db, r: setattr(r, "port", self.engine.port))
        return self.engine

    # ---- commands ---------------------------------------------------------------------------------

    def _start(self, command: Command) -> None:
        from .local import ReplicaFailed

        row = self._row()
        try:
            self._engine(row).start(self._served(row, row.version), row.replicas)
        except (ReplicaFailed, EngineFailed) as exc:
            self._write(lambda db, r: (
                service.set_status(db, r, "Failed", str(exc)),
                service.event(db, r, PLATFORM, "failed", f"Version {r.version} could not be served.", reason=str(exc)),
            ))  # fmt: skip
            return
        self._write(lambda db, r: (
            service.set_status(db, r, "Running"),
            service.event(db, r, PLATFORM, "running", f"{r.replicas} replica(s) of {r.version} are serving.",
                          changes={"status": ["Creating", "Running"]}),
        ))  # fmt: skip

    def _upgrade(self, command: Command) -> None:
        """An upgrade or a rollback: the row already names the version wanted and the one it replaces."""
        from .local import ReplicaFailed

        row = self._row()
        wanted, before = row.version, command.before
        if self.engine is None or not self.engine.replicas():  # nothing serves: just start the wanted version
            return self._start(command)

        def rolling_back(reason: str) -> None:
            self._write(lambda db, r: service.set_status(db, r, "RollingBack", reason))

        try:
            self.engine.upgrade(self._served(row, wanted), row.upgrade, rolling_back)
        except (ReplicaFailed, EngineFailed) as exc:
            reason = str(exc)

            def rolled_back(db: Any, r: Deployment) -> None:
                r.version, r.previous_version = before, None  # the failed version is no rollback target
                service.set_status(db, r, "Running", reason)
                service.event(db, r, PLATFORM, "rolled_back",
                              f"Version {wanted} failed; {before} is serving again.",
                              changes={"version": [wanted, before]}, reason=reason)  # fmt: skip

            self._write(rolled_back)
            return
        self._write(lambda db, r: (
            service.set_status(db, r, "Running"),
            service.event(db, r, PLATFORM, "upgraded", f"Every replica serves {wanted}.",
                          changes={"version": [before, wanted]}),
        ))  # fmt: skip

    def _stop(self, command: Command) -> None:
        if self.engine is not None:
            self.engine.stop()
        self._write(lambda db, r: (
            service.set_status(db, r, "Stopped"),
            service.event(db, r, PLATFORM, "stopped", "Every replica stopped.", changes={"status": [r.status, "Stopped"]}),
        ))  # fmt: skip

    def _delete(self, command: Command) -> None:
        with self.platform.store.read() as db:
            row = db.get(Deployment, self.id)
        if self.engine is None and row is not None and row.engine == "ray":  # its Serve application outlives us
            self._engine(row)
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        with self.platform.store.write() as db:
            row = db.get(Deployment, self.id)
            if row is not None:
                db.delete(row)
                publish(db, "deployment", "deleted", row.workspace_id, row.id, model=row.model_id)  # views drop it
        self.deployments.forget(self.id)

    def _heal(self) -> None:
        if self.engine is None:
            return

        def replacing(pairs: list[Any]) -> None:  # said at once, so views show the replica being replaced
            for dead, new in pairs:
                self._write(lambda db, r, dead=dead, new=new: service.event(
                    db, r, PLATFORM, "replica_exited",
                    f"Replica {dead.ident} (pid {dead.pid}) exited with code {dead.proc.returncode}; "
                    f"{new.ident} is starting in its place.", reason=dead.reason or "the process exited"))  # fmt: skip

        for dead, new in self.engine.heal(replacing):
            self._write(lambda db, r, dead=dead, new=new: service.event(
                db, r, PLATFORM, "replica_restarted",
                f"Replica {dead.ident} (pid {dead.pid}) exited with code {dead.proc.returncode}; "
                f"{new.ident} (pid {new.pid}) replaces it.", reason=dead.reason or "the process exited"))  # fmt: skip

    # ---- reads ------------------------------------------------------------------------------------

    def live(self) -> dict[str, Any]:
        engine = self.engine
        replicas = engine.replicas() if engine is not None else []
        return {"endpoint": engine.endpoint if replicas else None, "replicas": replicas}


def served(platform: Services, row: Deployment, version: str) -> Any:
    """The version's target and its files on this host."""
    from .local import Served

    with platform.store.read() as db:
        model = db.get_one(Model, row.model_id)
        version_row = db.scalar(select(ModelVersion).where(ModelVersion.model_id == model.id,
                                                           ModelVersion.version_name == version))  # fmt: skip
        if version_row is None:
            raise EngineFailed(f"version {version} no longer exists")
        target = inference.target_of(registry.ModelView(model, "", "owned", []), version_row)
    return Served(target, inference.checkpoint(platform, target))


def _why(exc: BaseException) -> str:
    return f"{exc.message} [{exc.code}]" if isinstance(exc, DeckError) else f"{type(exc).__name__}: {exc}"[:500]


class Deployments:
    """The controllers of this platform process, created for each deployment it starts or restores."""

    def __init__(self, platform: Services) -> None:
        self.platform = platform
        self._lock = threading.Lock()
        self._controllers: dict[str, Controller] = {}
        self._changed = threading.Condition()
        self.template = Template()  # forks the local engine's replicas (started on the first one)

    def restore(self) -> None:
        """After a restart: bring back what was serving (or on its way to) before, and finish deleting what
        was being deleted."""
        with self.platform.store.read() as db:
            rows = db.execute(select(Deployment.id, Deployment.status).where(
                Deployment.status.in_(spec.RESTORED))).all()  # fmt: skip
        for dep_id, status in rows:
            if status == "Deleting":
                self.command(dep_id, Command("delete"))
                continue
            self._write_status(dep_id, "Creating")
            self.command(dep_id, Command("start"))

    def _write_status(self, dep_id: str, status: str) -> None:
        with self.platform.store.write() as db:
            row = db.get(Deployment, dep_id)
            if row is not None:
                service.set_status(db, row, status)

    def controller(self, dep_id: str) -> Controller | None:
        return self._controllers.get(dep_id)

    def command(self, dep_id: str, command: Command) -> None:
        with self._lock:
            controller = self._controllers.get(dep_id)
            if controller is None:
                controller = self._controllers[dep_id] = Controller(self, dep_id)
        controller.commands.put(command)

    def forget(self, dep_id: str) -> None:
        with self._lock:
            self._controllers.pop(dep_id, None)
        self.changed()

    def live(self, dep_id: str) -> dict[str, Any]:
        controller = self._controllers.get(dep_id)
        return controller.live() if controller is not None else {"endpoint": None, "replicas": []}

    def changed(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def wait(self, dep_id: str, timeout: float) -> None:
        """Until the deployment is no longer changing (or is gone), at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            with self.platform.store.read() as db:
                status = db.scalar(select(Deployment.status).where(Deployment.id == dep_id))
            if status is None or status not in spec.BUSY:
                return
            with self._changed:
                self._changed.wait(min(left, 1.0))

    def close(self) -> None:
        """Stop every replica this process runs (their rows keep their status, so a restart restores them)."""
        with self._lock:
            controllers = list(self._controllers.values())
            self._controllers.clear()
        for controller in controllers:
            controller.commands.put(Command("close"))
        for controller in controllers:
            controller.thread.join(timeout=30)
        self.template.close()
