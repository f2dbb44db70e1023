"""DeckState: the one interactive state of a deck, behind the notebook panel and the sidebar.

Its traits are plain JSON (the shapes are in docs/panel-protocol.md) so any host can sync them; none holds
a secret. Actions run off the caller's thread: quick ones one at a time on a serial worker (so a workspace
switch and a reload never interleave), long ones (register, chat, predict) as jobs on their own workers
with progress and cancel, while trait changes stream out. The kernel's main thread is never blocked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from traitlets import Dict, HasTraits, List, Unicode

from . import vocabulary
from ._version import __version__
from .errors import DeckError, InvalidParameter, NotFound
from .events import follow, is_closed

log = logging.getLogger(__name__)

Reply = Callable[[dict[str, Any]], None]

SYNCED = (
    "version", "connection", "workspace", "workspaces", "models", "models_notes", "selected", "versions", "grants", "jobs",
    "chat", "prediction", "variables", "enums", "error", "view", "deployments", "deployment_events",
)  # fmt: skip
MAX_JOBS = 20
TICK = 0.05  # at most ~20 updates a second per job: smooth to read, light on the comm
RESYNC: dict[str, Any] = {"kind": "resync"}  # a change that means "anything may have changed": reload all
LONG = frozenset({"register", "chat", "predict", "stop_deployment"})  # actions that may take a while: jobs' pool
EVENTS_SHOWN = 50  # a deployment's newest events in its detail


class Cancelled(Exception):
    """Raised inside a job when its user cancelled it."""


class _Job:
    def __init__(self, state: DeckState, kind: str, label: str, cancellable: bool, action: str) -> None:
        self.state, self.id = state, uuid.uuid4().hex[:12]
        self.cancelled = threading.Event()
        self.row = {"id": self.id, "kind": kind, "label": label, "status": "running", "progress": None,
                    "detail": "", "cancellable": cancellable, "action": action}  # fmt: skip
        self.outcome, self.summary = "succeeded", ""  # how it ends when its block ends without an error
        self._shown = 0.0

    def update(self, *, force: bool = False, **changes: Any) -> None:
        """Publish a change of this job's row, throttled to TICK unless forced (starts and ends)."""
        self.row = {**self.row, **changes}
        now = time.monotonic()
        if force or now - self._shown >= TICK:
            self._shown = now
            self.state._publish_job(self.row)

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled


class DeckState(HasTraits):
    """The panel's state over one `Deck`. Hosts call `dispatch` (or `run` from Python) and sync the traits."""

    version = Unicode(__version__)
    connection = Dict()
    workspace = Dict(allow_none=True, default_value=None)
    workspaces = List()
    models = List()
    models_notes = List()  # what a part of the model list could not show, and what to do: {code, message, hint}
    selected = Dict({"model": None, "version": None})
    versions = List()
    grants = List()
    jobs = List()
    chat = Dict({"model": None, "version": None, "messages": [], "streaming": False})
    prediction = Dict(allow_none=True, default_value=None)
    variables = List()
    enums = Dict()
    error = Dict(allow_none=True, default_value=None)
    view = Unicode("models")
    deployments = List()
    deployment_events = Dict({"name": None, "events": []})
    OPENS_ITSELF: frozenset[str] = frozenset()  # actions that run before the first connection (a host's)

    def __init__(
        self,
        deck: Any = None,
        *,
        namespace: Callable[[], Mapping[str, Any]] | None = None,
        connect: Callable[[], Any] | None = None,
        visible: Callable[[], bool] = lambda: True,
    ) -> None:
        """Over `deck`, or over the deck `connect()` opens on the first action (off the caller's thread).
        `visible()` says whether a view shows this state (a platform without change events is polled then)."""
        super().__init__()
        self.deck = deck
        self._connect = connect
        self._visible = visible
        self._changes: list[dict[str, Any]] = []
        self._follower: Any = None
        self._namespace = namespace or (lambda: {})
        self._serial = ThreadPoolExecutor(1, thread_name_prefix="modeldeck-state")
        self._long = ThreadPoolExecutor(4, thread_name_prefix="modeldeck-job")
        self._lists = ThreadPoolExecutor(2, thread_name_prefix="modeldeck-list")  # never queued behind jobs
        self._lock = threading.RLock()
        self._running: dict[str, _Job] = {}
        self._acting = threading.local()
        self._deploying = False  # whether a view has shown deployments: only then are they loaded and kept
        self._stop_watching = deck.watch(self._on_use) if deck is not None else (lambda: None)
        if deck is not None:
            self._follow()
        self.enums = {
            "format_type": list(vocabulary.FORMAT_TYPES), "framework_type": list(vocabulary.FRAMEWORK_TYPES),
            "actions": list(vocabulary.GRANT_ACTIONS), "roles": list(vocabulary.ROLE_NAMES),
            "version_pattern": vocabulary.VERSION_PATTERN,
        }  # fmt: skip

    # ---- the host's entry points -----------------------------------------------------------------

    def dispatch(self, action_id: str, name: str, args: Mapping[str, Any] | None, reply: Reply) -> None:
        """Run an action off this thread; `reply` gets its one `done` message when it ends."""
        handler = getattr(self, f"_do_{name}", None) if isinstance(name, str) else None
        if handler is None:
            error = InvalidParameter(f"Unknown panel action {name!r}.", hint="Update the panel: the kernel "
                                     "package and the view disagree; restart the kernel and reload the page.")
            reply(self._done(action_id, None, error, name))
            return
        pool = self._long if name in LONG else self._serial
        pool.submit(self._perform, action_id, name, handler, dict(args or {}), reply)

    def submit(self, name: str, /, **args: Any) -> Future[dict[str, Any]]:
        """Start an action; the future holds its `done` message."""
        future: Future[dict[str, Any]] = Future()
        self.dispatch(uuid.uuid4().hex, name, args, future.set_result)
        return future

    def run(self, name: str, /, **args: Any) -> Any:
        """Run an action and wait for it: the Python face of `dispatch` (scripts, tests, the sidebar)."""
        done = self.submit(name, **args).result()
        if not done["ok"]:
            error = done["error"]
            raise DeckError(error["message"], code=error["code"], hint=error["hint"])
        return done["result"]

    def close(self) -> None:
        self._stop_watching()
        self._unfollow()
        for job in list(self._running.values()):
            job.cancelled.set()
        for pool in (self._serial, self._long, self._lists):
            pool.shutdown(wait=False, cancel_futures=True)

    def _perform(self, action_id: str, name: str, handler: Any, args: dict[str, Any], reply: Reply) -> None:
        self._acting.on, self._acting.id = True, action_id
        try:
            if self.deck is None and name not in self.OPENS_ITSELF:
                self._open()
            result, error = handler(**args), None
        except TypeError as exc:  # wrong arguments from a view of another version
            result, error = None, InvalidParameter(f"Bad arguments for panel action {name!r}: {exc}.")
        except Cancelled:
            result, error = None, DeckError("Cancelled.", code="Cancelled", hint="")
        except DeckError as exc:
            result, error = None, exc
        except Exception as exc:  # an unexpected failure still ends the action, visibly
            if self._closed():
                result, error = None, self._on_closed()
            else:
                log.exception("panel action %s failed", name)
                result, error = None, DeckError(f"{type(exc).__name__}: {exc}", code="Panel.Failed",
                                                hint="This is a bug in modeldeck; the kernel log has the traceback.")
        finally:
            self._acting.on = False
        try:
            reply(self._done(action_id, result, error, name))
        except Exception:  # a closed comm: the view is gone, nothing to tell
            log.debug("could not reply to panel action %s", name, exc_info=True)

    def _open(self) -> None:
        """Connect on the first action; a failure is that action's error, and the next action tries again."""
        with self._lock:
            if self.deck is None:
                self._replace_deck(self._connect())

    def _done(self, action_id: str, result: Any, error: DeckError | None, name: str) -> dict[str, Any]:
        shown = None
        if error is not None:
            shown = {"code": error.code, "message": error.message, "hint": error.hint}
            if error.code != "Cancelled":
                self.error = {**shown, "action": name}
        elif name != "dismiss_error":
            self.error = None
        return {"type": "done", "id": action_id, "ok": error is None, "error": shown, "result": result}

    # ---- quick actions (serial) ------------------------------------------------------------------

    def _do_refresh(self, initial: bool = False) -> None:
        """Reload everything; the lists load side by side (one round trip's wait, not three)."""
        lists = [self._lists.submit(self._load_workspaces), self._lists.submit(self._load_models)]
        if self._deploying:
            lists.append(self._lists.submit(self._load_deployments))
        deck = self.deck
        account = deck.account if initial and deck.account else deck.whoami()["account"]
        self.connection = {
            "profile": deck.profile or "", "kind": deck.kind, "provider": deck.provider, "url": deck.url,
            "capabilities": sorted(deck.capabilities), "engines": list(deck.engines), "account": account.get("name", ""),
            "account_kind": account.get("kind", ""), "status": "connected",
        }  # fmt: skip
        for loaded in lists:
            loaded.result()
        if self._deploying and self.deployment_events["name"]:  # a platform without events is polled: this too
            self._load_events(self.deployment_events["name"])
        if self.selected.get("model"):
            self._load_selection()

    def _do_use(self, workspace: str) -> dict[str, Any]:
        ws = self.deck.use(workspace)
        self._switched(ws)
        return self.workspace

    def _do_create_workspace(self, name: str, description: str = "") -> dict[str, Any]:
        ws = self.deck.create_workspace(name, description=description)
        self._load_workspaces()
        return _workspace(ws)

    def _do_select(self, model: str | None = None, version: str | None = None) -> None:
        if (model, version) != (self.selected.get("model"), self.selected.get("version")):
            self.prediction = None  # a result is shown only beside the model and version it came from
        self.selected = {"model": model, "version": version}
        self._load_selection()

    def _do_approve(self, model: str, version: str) -> dict[str, Any]:
        return self._decide(self.deck.approve, model, version)

    def _do_reject(self, model: str, version: str) -> dict[str, Any]:
        return self._decide(self.deck.reject, model, version)

    def _do_authorize(self, model: str, workspace: str, actions: list[str] | None = None) -> None:
        self.deck.authorize(model, workspace, actions or ["inference"])
        self._load_grants(model)

    def _do_revoke(self, model: str, workspace: str) -> None:
        self.deck.revoke(model, workspace)
        self._load_grants(model)

    def _do_list_variables(self) -> list[dict[str, Any]]:
        from .checkpoints import describe

        found = []
        for name, value in list(self._namespace().items()):
            if name.startswith("_"):
                continue
            kind = describe(value)
            if kind is not None:
                found.append({"name": name, "type": type(value).__name__, "format": kind})
        self.variables = sorted(found, key=lambda v: v["name"])
        return self.variables

    def _do_cancel(self, job: str) -> None:
        running = self._running.get(job)
        if running is None:
            raise InvalidParameter("That job is not running.", code="Job.NotRunning", hint="It may have just ended.")
        running.cancelled.set()
        running.update(force=True, detail="cancelling…")

    def _do_stop(self) -> None:
        for job in list(self._running.values()):
            if job.row["kind"] == "chat":
                job.cancelled.set()

    def _do_clear_chat(self) -> None:
        with self._lock:
            self.chat = {**self.chat, "messages": []}

    def _do_dismiss_error(self) -> None:
        self.error = None

    def _do_reconnect(self) -> None:
        """A new connection like the closed one (same profile or settings), in the same workspace."""
        old = self.deck
        if self._connect is not None:
            deck = self._connect()
        elif old.profile:
            deck = type(old)._open(old.profile)
        else:
            deck = type(old)(dataclasses.replace(old._transport.settings), profile=old.profile)
        if old.workspace is not None:
            deck.use(old.workspace.id)
        self._replace_deck(deck)
        self._do_refresh()

    def _replace_deck(self, deck: Any) -> Any:
        """Follow `deck` instead of the current one, which is returned (its owner decides whether to close it)."""
        self._unfollow()
        with self._lock:
            self._stop_watching()
            old, self.deck = self.deck, deck
            self._stop_watching = deck.watch(self._on_use)
        self._follow()
        return old

    # ---- following the platform's changes (modeldeck/events.py) ----------------------------------

    def _follow(self) -> None:
        self._follower = follow(self.deck, self._on_change, lambda: self._on_change(RESYNC),
                                on_closed=self._on_closed, visible=self._visible, busy=self._changing)  # fmt: skip

    def _unfollow(self) -> None:
        if self._follower is not None:
            self._follower.stop()
            self._follower = None

    def _on_change(self, change: dict[str, Any]) -> None:
        """Changes arriving together make one reload, on the serial worker after what runs there now."""
        with self._lock:
            self._changes.append(change)
            if len(self._changes) > 1:
                return  # a reload is already queued: it takes this change too
        with contextlib.suppress(RuntimeError):  # closed meanwhile
            self._serial.submit(self._apply_changes)

    def _apply_changes(self) -> None:
        with self._lock:
            changes, self._changes = self._changes, []
        kinds = {c.get("kind") for c in changes}
        try:
            if RESYNC["kind"] in kinds:
                self._do_refresh()
                return
            if kinds & {"workspace", "member"}:
                self._load_workspaces()
            if kinds & {"model", "version", "grant", "member"}:
                self._load_models()
            if "deployment" in kinds and self._deploying:
                self._load_deployments()
                if self.deployment_events["name"]:
                    self._load_events(self.deployment_events["name"])
            changes = [c for c in changes if c.get("kind") != "deployment"]
            selected = self.selected.get("model")
            if selected and not any(m["id"] == selected for m in self.models):
                self.selected, self.versions, self.grants = {"model": None, "version": None}, [], []
            elif selected and any(selected in (c.get("model"), c.get("id")) or c.get("kind") == "member" for c in changes):
                self._load_selection()
        except Exception:  # the next change or resync tries again; a closed deck says so itself
            if not self._closed():
                log.warning("reloading after a platform change failed", exc_info=True)

    def _closed(self) -> bool:
        return is_closed(self.deck)

    def _on_closed(self) -> DeckError:
        """The deck was closed (`deck.close()`): the view says so and offers Reconnect."""
        self.connection = {**self.connection, "status": "closed"}
        return DeckError("This panel's connection was closed (deck.close()).", code="Deck.Closed",
                         hint="Click Reconnect, or display a new panel.")

    # ---- deployments: loaded once a view shows them, then kept by the platform's change events -------

    def _do_load_deployments(self) -> list[dict[str, Any]]:
        self._deploying = True
        self._load_deployments()
        return self.deployments

    def _do_deploy(self, model: str, version: str | None = None, name: str | None = None, replicas: int = 1,
                   engine: str = "local", upgrade: str | dict[str, Any] = "rolling") -> dict[str, Any]:  # fmt: skip
        """Start serving; the status follows live (Creating, then Running or Failed) through change events."""
        self._deploying = True
        return self._put(self.deck.deploy(model, version, name=name, replicas=replicas, engine=engine,
                                          upgrade=upgrade, wait=False))  # fmt: skip

    def _do_upgrade(self, name: str, version: str, mode: str | dict[str, Any] | None = None) -> dict[str, Any]:
        return self._put(self.deck.upgrade(name, version, mode=mode, wait=False))

    def _do_rollback(self, name: str) -> dict[str, Any]:
        return self._put(self.deck.rollback(name, wait=False))

    def _do_stop_deployment(self, name: str) -> dict[str, Any]:
        """(Not `stop`, which stops a streaming chat reply.) Answers once the replicas drained."""
        return self._put(self.deck.stop(name, wait=False))

    def _do_start_deployment(self, name: str) -> dict[str, Any]:
        return self._put(self.deck.start(name, wait=False))

    def _do_delete_deployment(self, name: str) -> None:
        self.deck.delete_deployment(name, wait=False)
        self._load_deployments()

    def _do_deployment_events(self, name: str | None = None) -> list[dict[str, Any]]:
        """Show a deployment's detail (`name`), or none: its newest events, kept current like the list."""
        if name is None:
            self.deployment_events = {"name": None, "events": []}
            return []
        if not isinstance(name, str):
            raise InvalidParameter("name must name a deployment.", code="InvalidParameter.Deployment",
                                   hint="Pass the deployment's name.")  # fmt: skip
        kept = self.deployment_events["events"] if self.deployment_events["name"] == name else []
        self.deployment_events = {"name": name, "events": kept}
        self._load_events(name)
        return self.deployment_events["events"]

    def _put(self, record: Any) -> dict[str, Any]:
        """A deployment the action just changed, in its place in the list (by name, as the platform lists)."""
        row = _deployment(record)
        with self._lock:
            others = [d for d in self.deployments if d["name"] != row["name"]]
            self.deployments = sorted([*others, row], key=lambda d: d["name"])
        return row

    def _changing(self) -> bool:
        """Whether a shown deployment is mid-change (its status, or replicas not all serving yet)."""
        return self._deploying and any(d["status"] in vocabulary.DEPLOYMENT_BUSY
                                       or (d["status"] == "Running" and d["ready"] < d["replicas"])
                                       for d in self.deployments)  # fmt: skip

    def _load_deployments(self) -> None:
        self.deployments = [_deployment(d) for d in self.deck.deployments()] if self._can("deployments") else []

    def _load_events(self, name: str) -> None:
        try:
            events = [_event(e) for e in self.deck.deployment_events(name).first(EVENTS_SHOWN)]
        except NotFound:  # deleted meanwhile: there is no detail to show
            events, name = [], None
        with self._lock:
            if name is None or self.deployment_events["name"] == name:
                self.deployment_events = {"name": name, "events": events}

    # ---- jobs ------------------------------------------------------------------------------------

    def _do_register(self, model: str, source: Mapping[str, str], fields: Mapping[str, Any] | None = None) -> dict:
        from .checkpoints import saved
        from .transfer import checkpoint_bytes

        renamed = {"version_name": "version", "format_type": "format", "framework_type": "framework"}
        spec = {renamed.get(k, k): v for k, v in dict(fields or {}).items() if v not in (None, "", {}, [])}
        with contextlib.ExitStack() as cleanup:
            if "variable" in source:
                path, fmt, framework = cleanup.enter_context(saved(self._variable(source["variable"])))
                spec.setdefault("format", fmt)
                spec.setdefault("framework", framework)
                target: str | Path = path
            elif source.get("path"):
                target = Path(source["path"]).expanduser()
            elif source.get("uri"):
                target = source["uri"]
            else:
                raise InvalidParameter("Say what to register.", code="InvalidParameter.Source",
                                       hint="Give a path on the kernel's filesystem, a URI, or a variable.")
            local = isinstance(target, Path)
            with self._job(kind="register", label=f"register {self._name(model)}", cancellable=local) as job:
                total = checkpoint_bytes(target) if local and target.exists() else 0
                sent = 0

                def progress(delta: int) -> None:
                    nonlocal sent
                    job.check()
                    sent += delta
                    job.update(progress=sent / total if total else None, detail=_size(sent, total))

                version = self.deck.register(model, target, progress=progress, **spec)
                job.summary = f"{version.model_name} {version.version_name}"
        self._serial.submit(self._after_register, version.model_id, version.version_name).result()
        return _version(version)

    def _after_register(self, model_id: str, version: str) -> None:
        self._load_models()
        self.selected = {"model": model_id, "version": version}
        self._load_selection()

    def _do_chat(self, model: str, prompt: str, version: str | None = None, params: Mapping | None = None) -> dict:
        params = {k: v for k, v in dict(params or {}).items() if v not in (None, "")}
        with self._lock:
            history = self.chat["messages"] if self.chat.get("model") == model else []
            messages = [*history, {"role": "user", "content": prompt}]
            self.chat = {"model": model, "version": version, "streaming": True,
                         "messages": [*messages, {"role": "assistant", "content": ""}]}  # fmt: skip
        text, shown, finish = "", 0.0, None
        with self._job(kind="chat", label=f"chat {self._name(model)}", cancellable=True) as job:
            try:
                with self.deck.chat(self._name(model), messages, stream=True, version=version, **params) as stream:
                    for chunk in stream:
                        if job.cancelled.is_set():  # Stop keeps the text so far: the job ends "cancelled"
                            finish = job.outcome = "cancelled"
                            break
                        first = chunk.text and not text
                        text += chunk.text
                        finish = chunk.finish_reason or finish
                        if first or (chunk.text and time.monotonic() - shown >= TICK):  # first words at once
                            shown = time.monotonic()
                            self._set_reply(text, streaming=True)
            finally:
                self._set_reply(text, streaming=False)
            job.summary = finish or ""
        return {"text": text, "finish_reason": finish}

    def _set_reply(self, text: str, *, streaming: bool) -> None:
        with self._lock:
            messages = list(self.chat["messages"])
            if messages and messages[-1]["role"] == "assistant":
                messages[-1] = {"role": "assistant", "content": text}
            self.chat = {**self.chat, "messages": messages, "streaming": streaming}

    def _do_predict(self, model: str | None, inputs: Any, version: str | None = None, as_task: bool = False,
                    deployment: str | None = None) -> dict:  # fmt: skip
        """Predict with a version, or through a deployment's replicas (`deployment=name`, `model` may be None)."""
        if deployment is not None and (as_task or not isinstance(deployment, str)):
            raise InvalidParameter("A prediction through a deployment runs at once, not as a task.",
                                   code="InvalidParameter.Deployment", hint="Untick “Run as task”.")  # fmt: skip
        ref = self._name(model) if model is not None else None  # answers, hints and task rows read as the user does
        with self._job(kind="predict", label=f"predict {deployment or ref}", cancellable=as_task) as job:
            task_row = None
            try:
                started = time.perf_counter()
                if as_task:
                    result, task_row = self._predict_task(job, model, ref, inputs, version)
                elif deployment is not None:
                    result = self.deck.predict(ref, inputs, deployment=deployment)
                else:
                    result = self.deck.predict(ref, inputs, version)
                latency_ms = round((time.perf_counter() - started) * 1000, 1)  # the call as the kernel saw it
            except BaseException as exc:
                shown = self.prediction and self.prediction.get("task")  # a failed call leaves no old result
                self.prediction = {**self.prediction, "columns": [], "rows": [],
                                   "task": {**shown, "status": _ended(exc).upper()}} if shown else None  # fmt: skip
                raise
            table = _table(result.outputs)
            self.prediction = {"model": model or result.model, "model_name": ref or result.model,
                               "version": result.version, **table, "task": task_row,
                               "latency_ms": latency_ms}  # fmt: skip
            if deployment is not None:
                self.prediction = {**self.prediction, "deployment": deployment, "replica": result.raw.get("replica")}
            job.summary = result.version
        return self.prediction

    def _predict_task(self, job: _Job, model: str, ref: str, inputs: Any, version: str | None) -> tuple[Any, dict]:
        """Predict as a platform task, its status shown live; cancelling the job cancels the task.
        Returns the prediction and the task's final row."""
        from .tasks import outcome

        task = self.deck.predict(ref, inputs, version, wait=False)

        def show(record: Any) -> None:
            self.prediction = {"model": model, "model_name": ref, "version": version, "columns": [], "rows": [],
                               "task": {"id": task.id, "status": record.status}}  # fmt: skip
            job.update(progress=record.progress, detail=record.status)
            if job.cancelled.is_set():
                task.cancel()

        show(task.record)
        record = task.wait(watch=show)
        return outcome(record), {"id": task.id, "status": record.status}

    @contextlib.contextmanager
    def _job(self, *, kind: str, label: str, cancellable: bool) -> Iterator[_Job]:
        """A job row for the block's work: it ends as `job.outcome` with `job.summary`, or failed/cancelled
        with the reason when the block raises."""
        job = _Job(self, kind, label, cancellable, getattr(self._acting, "id", ""))
        self._running[job.id] = job
        job.update(force=True)
        try:
            yield job
        except BaseException as exc:
            self._finish(job, _ended(exc), _reason(exc))
            raise
        self._finish(job, job.outcome, job.summary)

    def _finish(self, job: _Job, status: str, detail: str = "") -> None:
        self._running.pop(job.id, None)
        job.update(force=True, status=status, detail=detail, cancellable=False,
                   progress=1.0 if status == "succeeded" else job.row["progress"])  # fmt: skip

    def _publish_job(self, row: dict[str, Any]) -> None:
        """A job keeps its place in the list (newest first) as it changes."""
        with self._lock:
            if any(j["id"] == row["id"] for j in self.jobs):
                self.jobs = [row if j["id"] == row["id"] else j for j in self.jobs]
            else:
                self.jobs = [row, *self.jobs][:MAX_JOBS]

    # ---- loading ---------------------------------------------------------------------------------

    def _on_use(self, ws: Any) -> None:
        """A `deck.use()` from anywhere (a cell, the CLI in-process, an action) reaches the panel."""
        if getattr(self._acting, "on", False):
            return  # the action that switched reloads by itself
        self._serial.submit(self._perform, uuid.uuid4().hex, "use", lambda: self._switched(ws), {}, lambda _: None)

    def _switched(self, ws: Any) -> None:
        self.workspace = _workspace(ws)
        self.selected = {"model": None, "version": None}
        self.versions, self.grants, self.prediction = [], [], None
        self.deployments, self.deployment_events = [], {"name": None, "events": []}
        self._load_workspaces()
        self._load_models()
        if self._deploying:
            self._load_deployments()

    def _name(self, model: str) -> str:
        """A model reference as people read it: the name of the listed model with that id, if unique."""
        named = [m["name"] for m in self.models if m["id"] == model]
        if not named or sum(m["name"] == named[0] for m in self.models) > 1:
            return model
        return named[0]

    def _can(self, capability: str) -> bool:
        return capability in self.deck.capabilities

    def _load_workspaces(self) -> None:
        if not self._can("workspaces"):
            return
        current = self.deck.workspace
        rows = [_workspace(w) for w in self.deck.workspaces()]
        self.workspaces = rows
        if current is not None:
            self.workspace = next((w for w in rows if w["id"] == current.id), _workspace(current))

    def _load_models(self) -> None:
        listed = self.deck.models()
        self.models = [_model(m) for m in listed]
        self.models_notes = [{"code": n.code, "message": n.message, "hint": n.hint} for n in listed.notes]

    def _load_selection(self) -> None:
        model = self.selected.get("model")
        if not model:
            self.versions, self.grants = [], []
            return
        row = next((m for m in self.models if m["id"] == model), None)
        versioned = self._can("versions") and versioned_model(row)
        self.versions = [_version(v) for v in self.deck.versions(model)] if versioned else []
        self._load_grants(model)

    def _load_grants(self, model: str) -> None:
        row = next((m for m in self.models if m["id"] == model), None)
        shown = row is not None and grantor(self.workspace, row) and self._can("grants")
        self.grants = [_grant(g) for g in self.deck.grants(model)] if shown else []

    def _decide(self, decide: Callable[[str, str], Any], model: str, version: str) -> dict[str, Any]:
        decided = _version(decide(model, version))
        self._load_selection()
        self._load_models()
        return decided

    def _variable(self, name: str) -> Any:
        namespace = self._namespace()
        if name not in namespace:
            raise InvalidParameter(f"No variable {name!r} in the kernel.", code="InvalidParameter.Variable",
                                   hint="Run the cell that defines it, then refresh the variable list.")
        return namespace[name]


def versioned_model(model: Mapping[str, Any] | None) -> bool:
    """Whether a listed model can have versions: not one Model Studio authorizes (`authorized`: a DashScope
    model, which no version registry holds; on the `alibaba` kind versions are PAI's registry's: its rows, `pai`)."""
    return model is None or model["source"] != "authorized"


def grantor(workspace: Mapping[str, Any] | None, model: Mapping[str, Any]) -> bool:
    """Whether this workspace grants `model` to others: an admin of the workspace that owns it, or (Model
    Studio, where grants are made from the default workspace and roles are not listed) the default workspace
    for a model it is authorized for. The view's `grantor` (js/src/panel/model-detail.tsx) is the same rule."""
    ws = workspace or {}
    if model["source"] == "owned":
        return ws.get("role") == "admin"
    return model["source"] == "authorized" and bool(ws.get("is_default"))


# ---- JSON shapes of the records (docs/panel-protocol.md) -------------------------------------------


def _workspace(ws: Any) -> dict[str, Any]:
    return {"id": ws.id, "name": ws.name, "role": ws.role, "is_default": ws.is_default, "description": ws.description}


def _model(m: Any) -> dict[str, Any]:
    latest = m.latest_version or {}
    return {
        "id": m.id, "name": m.model_name, "task": m.task, "domain": m.domain, "owner_workspace_id": m.workspace_id,
        "owner_workspace_name": m.owner_workspace, "source": m.source, "actions": list(m.actions),
        "latest_version": latest.get("version_name"), "latest_approval": latest.get("approval_status"),
        "latest_format": latest.get("format_type"), "labels": dict(m.labels), "description": m.description,
    }  # fmt: skip


def _version(v: Any) -> dict[str, Any]:
    return {
        "model_id": v.model_id, "version_name": v.version_name, "format_type": v.format_type,
        "framework_type": v.framework_type, "approval_status": v.approval_status, "metrics": dict(v.metrics),
        "labels": dict(v.labels), "uri": v.uri, "description": v.description,
        "signature": v.signature, "runnable": v.runnable, "not_runnable_reason": v.not_runnable_reason,
        "training_state": v.training_state, "created_at": _iso(v.created_at),
    }  # fmt: skip


def _grant(g: Any) -> dict[str, Any]:
    return {"workspace_id": g.workspace_id, "workspace_name": g.workspace, "actions": list(g.actions)}


SERVING = ("serving", "running")  # a replica's state when it answers: the local engine's, Ray Serve's


def _deployment(d: Any) -> dict[str, Any]:
    replicas = [{"replica": r.get("replica"), "version": r.get("version"), "state": r.get("state")}
                for r in d.replica_status]  # fmt: skip
    return {
        "name": d.name, "model_id": d.model_id, "model_name": d.model_name, "version": d.version,
        "versions": list(d.versions), "previous_version": d.previous_version, "replicas": d.replicas,
        "ready": sum(1 for r in replicas if r["state"] in SERVING), "replica_status": replicas,
        "engine": d.engine, "upgrade": dict(d.upgrade), "status": d.status, "status_reason": d.status_reason,
        "endpoint": d.endpoint, "updated_at": _iso(d.updated_at),
    }  # fmt: skip


def _event(e: Any) -> dict[str, Any]:
    return {"seq": e.seq, "at": _iso(e.at), "actor": e.actor, "kind": e.kind, "message": e.message,
            "reason": e.reason, "changes": dict(e.changes)}  # fmt: skip


def _iso(when: Any) -> str | None:
    return when.isoformat() if when else None


def _table(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs by name as a table: a row per input row, a column per output (a cell may hold a list)."""
    columns = list(outputs)
    values = [v if isinstance(v, list) else [v] for v in outputs.values()]
    length = max((len(v) for v in values), default=0)
    rows = [[v[i] if i < len(v) else None for v in values] for i in range(length)]
    return {"columns": columns, "rows": rows}


def _size(sent: int, total: int) -> str:
    mib = 1024 * 1024
    return f"{sent / mib:.1f} / {total / mib:.1f} MiB" if total else f"{sent / mib:.1f} MiB"


def _ended(exc: BaseException) -> str:
    return "cancelled" if isinstance(exc, Cancelled) else "failed"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, Cancelled):
        return "cancelled"
    return exc.code if isinstance(exc, DeckError) else type(exc).__name__
