"""Asynchronous tasks: a predict (later a chat) accepted now, run in the server process, polled by id.

As DashScope's async tasks: PENDING -> RUNNING -> SUCCEEDED | FAILED | CANCELED. A task runs on a small
thread pool of the process that accepted it, independent of any request, so the client may disconnect
and poll later, through any server sharing the store. Its row names that process (`runner`) and carries a
heartbeat: a task whose process is gone is failed as `Task.Interrupted`, never left RUNNING.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, defer

from ..errors import Conflict, DeckError, InvalidParameter, NotFound
from . import events, fields, inference, registry
from .authz import Caller, clip
from .ids import utcnow
from .pagination import PageRequest, keyset_page
from .schema import Task

if TYPE_CHECKING:
    from .context import Services

log = logging.getLogger("modeldeck.platform.tasks")

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED = "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"
STATUSES = (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED)
UNFINISHED = (PENDING, RUNNING)
RESULT_TTL = timedelta(hours=24)  # how long a finished task is kept; a Platform's `task_ttl` overrides it
WORKERS = 2
HEARTBEAT = 5.0  # seconds between heartbeats of this process's unfinished tasks
STALE = timedelta(seconds=60)  # a heartbeat older than this means its process is gone, whatever the host
SWEEP = 60.0  # seconds between sweeps for expired and orphaned tasks
PROGRESS_EVERY = 0.5  # a job's progress is written at most this often (and with every heartbeat)

INTERRUPTED = {
    "code": "Task.Interrupted",
    "message": "The platform restarted while the task was running.",
    "hint": "Submit the task again.",
}
INTERNAL = {
    "code": "InternalError",
    "message": "The task hit an internal error.",
    "hint": "Retry; if it persists, report the task id to the platform's admin.",
}

# fn(platform, caller, task request {model, version, input}, progress, cancelled) -> the result.
# A job should return early once `cancelled` is set; what it returns then is dropped.
Progress = Callable[[float], None]
JobFn = Callable[["Services", Caller, dict[str, Any], Progress, threading.Event], dict[str, Any]]
Check = Callable[[Any], Any]

_PROC = Path("/proc/self/stat").exists()


def process_start(pid: int) -> str | None:
    """When process `pid` started (ticks since boot), which tells it from a later process given the same
    pid; None when there is no such live process. Without /proc, "" for any live pid."""
    if _PROC:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return None if stat[0] in ("Z", "X") else stat[19]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return ""


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def this_process() -> str:
    """The runner of tasks this process accepts: host:pid:boot-id:start."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{boot_id()}:{process_start(pid) or ''}"


def _changed(db: Session, task: Task, op: str) -> None:
    """A task's status changed (progress and heartbeats are not events: they would flood the stream)."""
    events.publish(db, "task", op, task.workspace_id, task.id)


def new_task_id() -> str:
    """Time-ordered (microseconds, then random bits): ordering ids orders tasks by submission.

    The dash between the parts keeps ids from looking like API keys to secret scanners (`sk-` + 24
    letters and digits), so task ids can appear in saved notebooks and logs without false alarms.
    """
    return f"task-{time.time_ns() // 1000:013x}-{secrets.token_hex(6)}"


def span(ttl: timedelta) -> str:
    """A retention period for a hint: "24 hours", "90 minutes", "1 second"."""
    seconds = ttl.total_seconds()
    units = (("hour", 3600), ("minute", 60), ("second", 1))
    unit, size = next((u, s) for u, s in units if seconds >= s or s == 1)
    n = round(seconds / size, 1)
    return f"{n:g} {unit}{'' if n == 1 else 's'}"


def _predict(
    platform: Services, caller: Caller, request: dict[str, Any], progress: Progress, cancelled: threading.Event
) -> dict[str, Any]:
    """The built-in kind: the service-layer predict, all checks again (a grant revoked since submit fails it)."""
    return inference.predict(platform, caller, request["model"], request["version"], request["input"])


@dataclass(eq=False)
class _Job:
    """A task this process accepted, queued or running."""

    task_id: str
    caller: Caller  # as authorized at submit
    cancelled: threading.Event = field(default_factory=threading.Event)
    progress: float | None = None
    written: float = 0.0  # monotonic time progress was last written


class TaskRunner:
    """Runs the tasks this process accepts on WORKERS threads; a keeper thread heartbeats and sweeps."""

    def __init__(self, platform: Services) -> None:
        self.platform = platform
        self.runner = this_process()
        self.host, _, self.boot, _ = self.runner.rsplit(":", 3)
        self._kinds: dict[str, tuple[JobFn, Check | None]] = {}
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.register("predict", _predict, check=inference.check_body)

    @property
    def ttl(self) -> timedelta:
        return getattr(self.platform, "task_ttl", RESULT_TTL)

    def register(self, kind: str, fn: JobFn, *, check: Check | None = None) -> None:
        """Run tasks of `kind` with `fn`; `check(input)` refuses a malformed request at submit."""
        self._kinds[kind] = (fn, check)

    # ---- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> TaskRunner:
        """Fail the tasks of processes that are gone (a restart), then start the workers and the keeper."""
        self.sweep()
        targets = [self._work] * WORKERS + [self._keep]
        self._threads = [threading.Thread(target=t, name="modeldeck-tasks", daemon=True) for t in targets]
        for thread in self._threads:
            thread.start()
        return self

    def shutdown(self, timeout: float = 5.0) -> None:
        """Ask every job to stop; what has not finished in `timeout` seconds is failed as interrupted now,
        rather than left for the next start to find."""
        self._stop.set()
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancelled.set()
        for _ in range(WORKERS):
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            left = list(self._jobs)
        if left:
            self._fail(left, INTERRUPTED)

    def sweep(self) -> None:
        """Fail unfinished tasks whose process is gone, delete expired ones: at start, then every minute.

        PENDING tasks of a dead process fail too: they were queued in its memory, which is lost.
        """
        now = utcnow()
        with self.platform.store.read() as db:
            unfinished = db.execute(
                select(Task.id, Task.runner, Task.heartbeat_at).where(Task.status.in_(UNFINISHED))
            ).all()
            expired = db.scalar(select(Task.id).where(Task.expires_at <= now).limit(1)) is not None
        orphans = [row.id for row in unfinished if not self._alive(row.runner, row.heartbeat_at, now)]
        if orphans:
            self._fail(orphans, INTERRUPTED)
        if expired:
            with self.platform.store.write() as db:
                db.execute(delete(Task).where(Task.expires_at <= now))

    def _alive(self, runner: str, heartbeat_at: datetime, now: datetime) -> bool:
        """Whether the process running a task still exists: checked directly on this host (pid, boot and
        start time, so a reused pid does not count), by the heartbeat everywhere."""
        if now - heartbeat_at > STALE:
            return False
        host, pid, boot, start = runner.rsplit(":", 3)
        if host != self.host:
            return True
        return boot == self.boot and pid.isdigit() and process_start(int(pid)) == start

    # ---- the service: submit, get, list, cancel -----------------------------------------------------

    def submit(
        self, caller: Caller, kind: str, model: str, version: str | None, body: dict[str, Any]
    ) -> Task:
        """Authorize now (a refusal creates no task), record the task PENDING, queue it."""
        caller.require("invoke")
        entry = self._kinds.get(kind)
        if entry is None:
            raise InvalidParameter(
                f"Task kind {clip(kind)!r} is not known here.",
                code="InvalidParameter.Kind",
                hint=f"Use one of: {', '.join(self._kinds)}.",
            )
        version = fields.optional_text(version, "version", 64)
        if entry[1] is not None:
            entry[1](body)
        with self.platform.store.read() as db:
            registry.resolve_model(db, caller, model, need="inference")
        now = utcnow()
        task = Task(
            id=new_task_id(), workspace_id=caller.workspace_id, account_id=caller.principal.account_id,
            kind=kind, model_ref=model, version=version, request=body, status=PENDING, runner=self.runner,
            heartbeat_at=now, created_at=now, cancel_requested=False,
        )  # fmt: skip
        with self.platform.store.write() as db:
            db.add(task)
            _changed(db, task, "created")
        job = _Job(task.id, caller)
        with self._lock:
            self._jobs[task.id] = job
        self._queue.put(job)
        return task

    def get(self, caller: Caller, task_id: str) -> Task:
        caller.require("invoke")
        with self.platform.store.read() as db:
            task = self._find(db, caller, task_id)
        return self._settle([task])[0]

    def listing(
        self, caller: Caller, page: PageRequest, status: str | None = None
    ) -> tuple[list[Task], str | None]:
        """This workspace's tasks, newest first, without their results (GET a task for its result)."""
        caller.require("invoke")
        live = or_(Task.expires_at.is_(None), Task.expires_at > utcnow())
        stmt = select(Task).options(defer(Task.result)).where(Task.workspace_id == caller.workspace_id, live)
        if status:
            status = fields.choice(status, STATUSES, "Status")
            stmt = stmt.where(Task.status == status)
        with self.platform.store.read() as db:
            rows, nxt = keyset_page(
                db, stmt, (Task.id,), lambda row: [row[0].id],
                **page.bind(f"tasks|{caller.workspace_id}|{status}"), descending=True,
            )  # fmt: skip
        return self._settle([row[0] for row in rows]), nxt

    def cancel(self, caller: Caller, task_id: str) -> Task:
        """A PENDING task is canceled at once; a RUNNING one is told, and ends CANCELED once its job notices
        (cancel_requested shows until then)."""
        self.get(caller, task_id)  # fails it first if its process is gone
        now = utcnow()
        with self.platform.store.write() as db:
            task = self._find(db, caller, task_id, lock=True)
            if task.status not in UNFINISHED:
                raise Conflict(
                    f"Task {task.id} already finished as {task.status}.",
                    code="Task.AlreadyFinished",
                    hint=f"Only PENDING or RUNNING tasks can be canceled; GET /api/v1/tasks/{task.id} shows "
                    "its outcome.",
                )
            task.cancel_requested = True
            if task.status == PENDING:
                task.status, task.finished_at, task.expires_at = CANCELED, now, now + self.ttl
            _changed(db, task, "updated")
        job = self._jobs.get(task.id)
        if job is not None:
            job.cancelled.set()  # a job in another process hears of it from that process's keeper
        return task

    def _find(self, db: Session, caller: Caller, task_id: str, *, lock: bool = False) -> Task:
        """One answer for missing, expired and another workspace's task."""
        task = db.get(Task, task_id, with_for_update=lock)
        if (
            task is None
            or task.workspace_id != caller.workspace_id
            or (task.expires_at is not None and task.expires_at <= utcnow())
        ):
            raise NotFound(
                f"Task {clip(task_id)!r} does not exist in workspace '{caller.workspace_name}'.",
                code="Task.NotFound",
                hint=f"Finished tasks are kept for {span(self.ttl)}; submit the task again if it is gone.",
            )
        return task

    def _settle(self, tasks: list[Task]) -> list[Task]:
        """Fail the unfinished ones whose process is gone, so a reader never sees a task RUNNING forever."""
        now = utcnow()
        unfinished = [t for t in tasks if t.status in UNFINISHED]
        gone = [t.id for t in unfinished if not self._alive(t.runner, t.heartbeat_at, now)]
        if not gone:
            return tasks
        self._fail(gone, INTERRUPTED)
        with self.platform.store.read() as db:
            fresh = {t.id: t for t in db.scalars(select(Task).where(Task.id.in_(gone)))}
        return [fresh.get(t.id, t) for t in tasks]

    def _fail(self, ids: list[str], error: dict[str, Any]) -> None:
        now = utcnow()
        with self.platform.store.write() as db:
            db.execute(
                update(Task)
                .where(Task.id.in_(ids), Task.status.in_(UNFINISHED))
                .values(status=FAILED, error=error, finished_at=now, expires_at=now + self.ttl)
            )

    # ---- the threads --------------------------------------------------------------------------------

    def _work(self) -> None:
        while (job := self._queue.get()) is not None and not self._stop.is_set():
            try:
                self._run(job)
            except Exception:  # the store failed: the task's heartbeat stops, and a sweep fails it
                log.exception("task %s could not be run", job.task_id)
            finally:
                with self._lock:
                    self._jobs.pop(job.task_id, None)

    def _run(self, job: _Job) -> None:
        now = utcnow()
        with self.platform.store.write() as db:
            task = db.get(Task, job.task_id, with_for_update=True)
            if task is None or task.status != PENDING:
                return  # canceled while queued, or its workspace was deleted
            task.status, task.started_at, task.heartbeat_at = RUNNING, now, now
            _changed(db, task, "updated")
            kind = task.kind
            request = {"model": task.model_ref, "version": task.version, "input": task.request}
        fn = self._kinds[kind][0]
        result: dict[str, Any] | None = None
        error: dict[str, Any] | None = None
        try:
            result = fn(self.platform, job.caller, request, lambda v: self._progress(job, v), job.cancelled)
        except DeckError as exc:
            error = {"code": exc.code, "message": exc.message, "hint": exc.hint}
        except Exception:
            log.exception("task %s (%s) failed", job.task_id, kind)
            error = INTERNAL
        now = utcnow()
        with self.platform.store.write() as db:
            task = db.get(Task, job.task_id, with_for_update=True)
            if task is None or task.status != RUNNING:
                return  # failed meanwhile by a reader that took this process for gone
            if task.cancel_requested:
                task.status = CANCELED
            elif job.cancelled.is_set():  # stopped by shutdown, not by a cancel
                task.status, task.error = FAILED, INTERRUPTED
            elif error is not None:
                task.status, task.error = FAILED, error
            else:
                task.status, task.result, task.progress = SUCCEEDED, result, 1.0
            if task.status != SUCCEEDED and job.progress is not None:
                task.progress = job.progress
            task.finished_at, task.expires_at = now, now + self.ttl
            _changed(db, task, "updated")

    def _progress(self, job: _Job, value: float) -> None:
        job.progress = min(1.0, max(0.0, float(value)))
        if time.monotonic() - job.written >= PROGRESS_EVERY:
            job.written = time.monotonic()
            with self.platform.store.write() as db:
                running = (Task.id == job.task_id) & (Task.status == RUNNING)
                db.execute(update(Task).where(running).values(progress=job.progress))

    def _keep(self) -> None:
        next_sweep = time.monotonic() + SWEEP
        while not self._stop.wait(HEARTBEAT):
            try:
                self._beat()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + SWEEP
                    self.sweep()
            except Exception:  # a store hiccup must not end the heartbeat
                log.exception("the task keeper failed; retrying")

    def _beat(self) -> None:
        """Heartbeat this process's unfinished tasks, save progress, and pass on cancels made elsewhere."""
        with self._lock:
            jobs = list(self._jobs.values())
        if not jobs:
            return
        now = utcnow()
        with self.platform.store.write() as db:
            db.execute(
                update(Task)
                .where(Task.status.in_(UNFINISHED), Task.runner == self.runner)
                .values(heartbeat_at=now)
            )
            for job in jobs:
                if job.progress is not None:
                    db.execute(
                        update(Task)
                        .where(Task.id == job.task_id, Task.status == RUNNING)
                        .values(progress=job.progress)
                    )
            canceled = set(
                db.scalars(
                    select(Task.id).where(
                        Task.id.in_([job.task_id for job in jobs]), Task.status == RUNNING,
                        Task.cancel_requested.is_(True),
                    )  # fmt: skip
                )
            )
        for job in jobs:
            if job.task_id in canceled:
                job.cancelled.set()
