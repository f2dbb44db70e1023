"""Deck and AsyncDeck: the public client of a model platform.

Each operation is written once, as a plan: a generator that yields HTTP calls and returns a result. `Deck`
drives plans with a blocking transport and `AsyncDeck` with an async one, so both offer exactly the same
surface (`await` it on `AsyncDeck`) and cannot drift apart. The deck normalises arguments and composes
the leaf plans of its provider (modeldeck.providers), which knows the platform's wire; an operation the
provider lacks is refused with `errors.Unsupported` before anything is sent.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import time
import types
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx

from . import checkpoints, vocabulary
from ._http import AsyncTransport, Settings, Transport
from ._stream import AsyncChunkStream, ChunkStream
from .errors import AccessDenied, InvalidParameter, MissingDependency, NotFound
from .providers import for_kind, require
from .providers.base import Ask, Context, Page, Pause, Progress, Provider, Stream, Upload, page_plan
from .resources import AccessKey, Account, AsyncListing, Deployment, Listing, Model, TaskRecord, Workspace
from .tasks import AsyncTask, Task


def operation(capability: str | Callable[..., Any] | None = None) -> Any:
    """Turn a plan method into a method that runs it: a value on Deck, an awaitable on AsyncDeck.

    `@operation("versions")` refuses, before the plan starts, on a provider without that capability.
    """
    if callable(capability):  # used bare: an operation every provider has
        return operation(None)(capability)

    def wrap(plan: Callable[..., Any]) -> Any:
        @functools.wraps(plan)
        def run(deck: Any, *args: Any, **kwargs: Any) -> Any:
            if capability:
                deck.require(capability)
            return deck._run(plan(deck, *args, **kwargs))

        class Bound:
            def __get__(self, deck: Any, owner: type) -> Any:
                # bound like a method, cheaply: this runs on every call of every operation
                return plan if deck is None else types.MethodType(run, deck)

        return Bound()

    return wrap


def _ref(value: Any) -> str:
    """Accept a record or its name/id wherever a workspace, model or account is named."""
    if isinstance(value, Workspace | Account | Model):
        return value.id
    if isinstance(value, str) and value:
        return value
    raise InvalidParameter(
        f"Expected a name, an id or a record, got {type(value).__name__}.",
        hint="Pass a name such as 'team-b', an id, or the object a listing returned.",
    )


def _json_ready(value: Any) -> Any:
    """Arrays and frames become plain JSON lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def predict_body(inputs: Any) -> dict[str, Any]:
    """Map what a data scientist has at hand onto the predict payload forms."""
    if hasattr(inputs, "to_dict") and hasattr(inputs, "columns"):  # a pandas DataFrame
        return {"columns": {str(c): _json_ready(inputs[c]) for c in inputs.columns}}
    if isinstance(inputs, Mapping):
        if set(inputs) & {"inputs", "records", "columns"} and len(inputs) == 1:
            return {k: _json_ready(v) for k, v in inputs.items()}
        return {"inputs": _json_ready(inputs)}
    if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(r, Mapping) for r in inputs):
        return {"records": _json_ready(list(inputs))}
    if hasattr(inputs, "tolist") or isinstance(inputs, (list, tuple)):
        return {"inputs": _json_ready(inputs)}  # one tensor, for a model with a single input
    raise InvalidParameter(
        f"Cannot send {type(inputs).__name__} as model inputs.",
        code="InvalidParameter.Inputs",
        hint="Pass a dict of input name to array, a pandas DataFrame, a list of row dicts, or one array.",
    )


class _Operations:
    """The operations, shared by Deck and AsyncDeck."""

    _transport: Transport | AsyncTransport
    _provider: Provider
    profile: str | None = None
    workspace: Workspace | None = None
    account: dict[str, Any] | None = None  # name and kind ("main" or "sub") of the key's account, from connect
    _watchers: tuple[Callable[[Workspace], None], ...] = ()

    @property
    def capabilities(self) -> frozenset[str]:
        """What this deck's platform can do (modeldeck.providers.base.CAPABILITIES); surfaces show only these."""
        return self._provider.capabilities

    @property
    def engines(self) -> tuple[str, ...]:
        """The engines this platform's deployments run on (`deploy(engine=)`); a cloud's: its own only."""
        return self._provider.engines

    @property
    def provider(self) -> str:
        """The name of the provider speaking to the platform: native, openai, ..."""
        return self._provider.name

    @property
    def kind(self) -> str:
        """The profile kind this deck was opened with (modeldeck.providers.KINDS)."""
        return self._transport.settings.kind

    @property
    def url(self) -> str:
        return self._transport.settings.url

    @property
    def _plans(self) -> Any:
        return self._provider.plans

    def require(self, capability: str) -> None:
        """Raise `errors.Unsupported` (with a hint naming the profile kinds that can) unless this deck's
        platform has `capability`; every operation does this before it sends anything."""
        require(self._provider, capability)

    def _connected(self, me: dict[str, Any]) -> None:
        """Take the account and workspace a new connection's `whoami` answered (Deck and AsyncDeck alike)."""
        self.account = me["account"]
        if me.get("workspace"):
            self.workspace = Workspace.from_json(me["workspace"])

    def watch(self, callback: Callable[[Workspace], None]) -> Callable[[], None]:
        """Call `callback(workspace)` after every `use()`; returns a function that stops it.

        This is how a panel stays in step with `deck.use(...)` run in a cell.
        """
        self._watchers = (*self._watchers, callback)

        def stop() -> None:
            self._watchers = tuple(w for w in self._watchers if w is not callback)

        return stop

    # ---- who and where ---------------------------------------------------------------------------

    @operation
    def whoami(self) -> dict[str, Any]:
        """The account behind the key, and the current workspace with this account's role in it."""
        return (yield from self._plans.whoami())

    @operation
    def _arrive(self) -> dict[str, Any]:
        """`whoami` at connect time; where the platform answers no workspace (DashScope knows none) but the
        settings name one, it is looked up as `use()` would, so a name is sent as the id the cloud expects.
        One the caller may not see stays as named (see `connect`): connecting succeeds, and the first call says
        why it is refused (or `huawei.check` does, before it)."""
        me = yield from self._plans.whoami()
        named = self._transport.settings.workspace
        if not me.get("workspace") and named and "switch" in self.capabilities:
            ws = yield from self._plans.workspace(named)
            self._transport.use(ws.id)
            me = {**me, "workspace": ws.raw}
        return me

    @operation("workspaces")
    def workspaces(self) -> list[Workspace]:
        """The workspaces this account may enter, with its role in each."""
        return (yield from self._plans.workspaces())

    @operation("switch")
    def use(self, workspace: Any) -> Workspace:
        """Make a workspace (name, id or record) the current one for every later call of this deck."""
        ws = yield from self._plans.workspace(_ref(workspace))
        self._transport.use(ws.id)
        self.workspace = ws
        for watcher in self._watchers:
            watcher(ws)
        return ws

    @operation("create_workspace")
    def create_workspace(self, name: str, description: str = "") -> Workspace:
        return (yield from self._plans.create_workspace({"name": name, "description": description}))

    @operation("create_workspace")
    def update_workspace(self, workspace: Any, *, name: str | None = None, description: str | None = None) -> Workspace:
        body = {k: v for k, v in {"name": name, "description": description}.items() if v is not None}
        return (yield from self._plans.update_workspace(_ref(workspace), body))

    @operation("create_workspace")
    def delete_workspace(self, workspace: Any) -> None:
        yield from self._plans.delete_workspace(_ref(workspace))

    # ---- accounts and members --------------------------------------------------------------------

    def accounts(self) -> Any:
        """Every account (the main account's view); a sub-account sees itself. Paged lazily."""
        self.require("accounts")
        return self._listing(self._plans.accounts())

    @operation("accounts")
    def create_subaccount(self, name: str) -> Account:
        """Create a sub-account. Its `api_key` is shown this once; store it (e.g. `modeldeck profile add`)."""
        return (yield from self._plans.create_subaccount(name))

    def members(self, workspace: Any) -> Any:
        """The sub-accounts that are members of a workspace, with their roles. Paged lazily."""
        self.require("members")
        return self._listing(self._plans.members(_ref(workspace)))

    @operation("members")
    def add_member(self, workspace: Any, account: Any, role: str = "developer") -> Account:
        """Give an account a role (admin, developer, viewer) in a workspace; changes it if already a member."""
        return (yield from self._plans.add_member(_ref(workspace), _ref(account), role))

    @operation("members")
    def remove_member(self, workspace: Any, account: Any) -> None:
        yield from self._plans.remove_member(_ref(workspace), _ref(account))

    @operation("accounts")
    def authorization_mode(self, mode: str | None = None) -> str:
        """Read, or set (strict | loose), how sub-accounts are treated in workspaces they were not added to."""
        return (yield from self._plans.authorization_mode(mode))

    # ---- models ----------------------------------------------------------------------------------

    def models(self, query: str | None = None, *, task: str | None = None, action: str | None = None) -> Any:
        """The models the current workspace may see: owned, granted (with the granted actions), PUBLIC.

        `action="inference"` keeps only those it may call. Pages are fetched lazily as you iterate.
        """
        self.require("models")
        params = {k: v for k, v in {"q": query, "task": task, "action": action}.items() if v}
        return self._listing(self._plans.models(params))

    @operation("models")
    def model(self, model: Any, *, source: str | None = None) -> Model:
        """One model, by name or id (or a listed record). Where a profile lists models from more than one place
        (an alibaba profile: Model Studio's `authorized` ones and PAI's registry, `pai`), a name both hold is
        ambiguous: `source` (a `Model.source`; a record brings its own) picks one."""
        sources = self._provider.model_sources
        if source is None and isinstance(model, Model) and model.source in sources:
            source = model.source
        if source is None:
            return (yield from self._plans.model(_ref(model)))
        if source not in sources:
            raise InvalidParameter(f"This profile lists no models from {source!r}.", code="InvalidParameter.Source",
                                   hint=f"Pass source= one of {', '.join(sources)}." if sources
                                   else "Leave source out: this profile's models come from one place.")  # fmt: skip
        return (yield from self._plans.model(_ref(model), source))

    @operation("register")
    def create_model(self, name: str, **fields: Any) -> Model:
        """Create a model in the current workspace (task, domain, origin, accessibility, labels, ...)."""
        return (yield from self._plans.create_model({"model_name": name, **fields}))

    @operation("register")
    def update_model(self, model: Any, **fields: Any) -> Model:
        return (yield from self._plans.update_model(_ref(model), fields))

    @operation("register")
    def delete_model(self, model: Any) -> None:
        yield from self._plans.delete_model(_ref(model))

    @operation("grants")
    def grants(self, model: Any) -> list[Any]:
        return (yield from self._plans.grants(_ref(model)))

    @operation("grants")
    def authorize(self, model: Any, workspace: Any, actions: Iterable[str] = ("inference",)) -> Any:
        """Authorize another workspace to use a model this workspace owns (inference, fine_tune, deploy)."""
        return (yield from self._plans.authorize(_ref(model), _ref(workspace), list(actions)))

    @operation("grants")
    def revoke(self, model: Any, workspace: Any) -> None:
        yield from self._plans.revoke(_ref(model), _ref(workspace))

    # ---- versions --------------------------------------------------------------------------------

    def versions(self, model: Any, *, approval_status: str | None = None) -> Any:
        """A model's versions, newest first, paged lazily."""
        self.require("versions")
        params = {"approval_status": approval_status} if approval_status else {}
        return self._listing(self._plans.versions(_ref(model), params))

    @operation("versions")
    def version(self, model: Any, version: str) -> Any:
        return (yield from self._plans.version(_ref(model), version))

    @operation("register")
    def register(
        self,
        model: str,
        source: Any,
        version: str | None = None,
        format: str | None = None,
        framework: str | None = None,
        *,
        metrics: dict[str, Any] | None = None,
        labels: dict[str, str] | None = None,
        source_type: str | None = None,
        source_id: str | None = None,
        training_spec: dict[str, Any] | None = None,
        inference_spec: dict[str, Any] | None = None,
        extra_info: dict[str, Any] | None = None,
        options: Any = None,
        description: str | None = None,
        progress: bool | Progress = True,
    ) -> Any:
        """Register a checkpoint as a new version of `model`, creating the model here if it does not exist.

        `source` is a local file or folder (uploaded, hashed while it streams, verified by the platform),
        an external URI (oss://, obs://, s3://, https://), or a model object in the kernel (a scikit-learn
        estimator, an ONNX ModelProto, an XGBoost Booster: saved for the upload by `checkpoints`). Omit
        `format` to have the platform detect it, `version` to bump the minor number. The request carries
        an idempotency key, so a retry after a lost response never duplicates it.
        """
        spec = {
            "version_name": version, "format_type": format, "framework_type": framework, "metrics": metrics,
            "labels": labels, "source_type": source_type, "source_id": source_id, "training_spec": training_spec,
            "inference_spec": inference_spec, "extra_info": extra_info, "options": options,
            "description": description,
        }  # fmt: skip
        spec = {k: v for k, v in spec.items() if v is not None}
        for key, allowed, what in _CHOICES:  # refused here, before any byte is uploaded
            if key in spec:
                spec[key] = vocabulary.choice(spec[key], allowed, what)
        if isinstance(source, (str, os.PathLike)):
            return (yield from self._register(model, source, spec, progress))
        with checkpoints.saved(source) as (path, fmt, framework_type):
            spec.setdefault("format_type", fmt)
            spec.setdefault("framework_type", framework_type)
            return (yield from self._register(model, path, spec, progress))

    def _register(self, model: str, source: str | os.PathLike, spec: dict[str, Any], progress: Any) -> Any:
        local = Path(source).expanduser() if not _is_uri(source) else None
        if local is not None:
            if not local.exists() and not local.is_symlink():
                raise InvalidParameter(
                    f"No file or folder at {str(source)!r}.",
                    code="InvalidParameter.Path",
                    hint="Pass a local checkpoint path, or a URI such as oss://bucket/key.",
                )
            spec["uri"] = (yield Upload(local, progress))["uri"]
        else:
            spec["uri"] = str(source)
        model_id = yield from self._plans.ensure_model(model)
        return (yield from self._plans.create_version(model_id, spec, str(uuid.uuid4())))

    @operation("versions")
    def update_version(self, model: Any, version: str, **fields: Any) -> Any:
        """Change labels, metrics, specs, options or description of a version."""
        return (yield from self._plans.update_version(_ref(model), version, fields))

    @operation("approve")
    def approve(self, model: Any, version: str) -> Any:
        """Approve a Pending version; the decision is final."""
        return (yield from self._plans.decide(_ref(model), version, "approve"))

    @operation("approve")
    def reject(self, model: Any, version: str) -> Any:
        """Reject a Pending version; the decision is final."""
        return (yield from self._plans.decide(_ref(model), version, "reject"))

    @operation("versions")
    def delete_version(self, model: Any, version: str) -> None:
        yield from self._plans.delete_version(_ref(model), version)

    # ---- inference -------------------------------------------------------------------------------

    @operation("predict")
    def predict(
        self,
        model: Any,
        inputs: Any,
        version: str | None = None,
        *,
        allow_unsafe: Iterable[str] = (),
        wait: bool = True,
        deployment: str | None = None,
    ) -> Any:
        """Run a registered checkpoint. `inputs`: a dict of input name to array, a DataFrame, row dicts, or
        one array for a single-input model. `allow_unsafe=["PickleModel"]` opts into a format that runs
        code when loaded, if the platform allows it. `wait=False` submits a task and returns it at once.
        `deployment=name` sends it to that deployment's replicas instead (`model` may then be None).
        """
        body = predict_body(inputs)
        if deployment is not None:
            return (yield from self._deployment_predict(deployment, model, body))
        if allow_unsafe:
            body["allow_unsafe"] = list(allow_unsafe)
        if not wait:
            return (yield from self._submit("predict", model, version, body))
        return (yield from self._plans.predict(_ref(model), version, body))

    @operation("chat")
    def chat(
        self,
        model: Any,
        messages: Any,
        stream: bool = False,
        *,
        version: str | None = None,
        wait: bool = True,
        deployment: str | None = None,
        **params: Any,
    ) -> Any:
        """Chat with a language-model version: a `Completion`, or with `stream=True` an iterator of `Chunk`
        (an async iterator on AsyncDeck) whose text can be printed as it comes; leaving the loop early
        closes the stream and stops generation.

        `messages` is a prompt string or OpenAI-style `[{"role": ..., "content": ...}]`; `params` are
        max_tokens, temperature, top_p, seed, stop. `deployment=name` sends it to that deployment's
        replicas instead (`model` may then be None).
        """
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        if deployment is not None:
            endpoint = yield from self._deployment_endpoint(deployment, model)
            body = {"model": deployment, "messages": messages, **params}
            return (yield from self._plans.deployment_chat(endpoint, body, stream))
        if not wait:
            return (yield from self._submit("chat", model, version, {"messages": messages, **params}))
        name = _ref(model) + (f":{version}" if version else "")
        return (yield from self._plans.chat({"model": name, "messages": messages, **params}, stream))

    def _openai_options(self) -> dict[str, Any]:
        self.require("chat")
        try:
            import openai  # noqa: F401
        except ImportError:
            hint = 'pip install "modeldeck[openai]"'
            raise MissingDependency("The openai package is not installed.", hint=hint) from None
        settings, header = self._transport.settings, self._provider.workspace_header
        headers = {header: settings.workspace} if header and settings.workspace else {}
        key = settings.credentials.api_key or settings.credentials.token or "none"
        assert self._provider.openai_base is not None  # every provider with chat says where its SDK points
        return {"base_url": self._provider.openai_base(settings.url), "api_key": key, "default_headers": headers}

    def openai_client(self) -> Any:
        """The official `openai.OpenAI` client, pointed at this platform's chat as this account and workspace."""
        options = self._openai_options()  # first: a missing package is a typed error with the install hint
        import openai

        return openai.OpenAI(**options)

    def openai_async_client(self) -> Any:
        """The official `openai.AsyncOpenAI` client, pointed like `openai_client()`."""
        options = self._openai_options()
        import openai

        return openai.AsyncOpenAI(**options)

    # ---- tasks -----------------------------------------------------------------------------------

    def _submit(self, kind: str, model: Any, version: str | None, request: dict[str, Any]):  # type: ignore[no-untyped-def]
        self.require("tasks")
        return self._wrap_task((yield from self._plans.submit(kind, _ref(model), version, request)))

    @operation("tasks")
    def task(self, task_id: str) -> Any:
        """A task by id, with its current state (its result once SUCCEEDED)."""
        return self._wrap_task((yield from self._plans.task(task_id)))

    @operation("tasks")
    def cancel_task(self, task_id: str) -> Any:
        return self._wrap_task((yield from self._plans.cancel_task(task_id)))

    def tasks(self, *, status: str | None = None) -> Any:
        """This workspace's tasks, newest first, paged lazily (without results: get a task for its result)."""
        self.require("tasks")
        return self._listing(self._plans.tasks({"status": status} if status else {}))

    def _wrap_task(self, record: TaskRecord) -> Any:
        raise NotImplementedError

    # ---- drivers (per class) ---------------------------------------------------------------------

    def _run(self, plan: Any) -> Any:
        raise NotImplementedError

    def _listing(self, page: Page[Any]) -> Any:
        raise NotImplementedError

    # ---- AccessKeys and endpoints ----------------------------------------------------------------

    @operation("keys")
    def create_access_key(self, description: str = "") -> AccessKey:
        """A new AccessKey pair for this account, to sign requests (ACS3-HMAC-SHA256, see
        `modeldeck.providers.auth.ACS3Auth`). Its `secret` is returned this once (masked in reprs): store it."""
        return (yield from self._plans.create_access_key(description))

    def access_keys(self, *, account: str | None = None) -> Any:
        """This account's AccessKeys without their secrets (the main account: everyone's, or `account`'s)."""
        self.require("keys")
        return self._listing(self._plans.access_keys({"account": account} if account else {}))

    @operation("keys")
    def revoke_access_key(self, access_key: Any) -> None:
        """Revoke an AccessKey (its id or record) for good; rotate by creating a new one first."""
        yield from self._plans.revoke_access_key(access_key.id if isinstance(access_key, AccessKey) else _ref(access_key))

    @operation("endpoints")
    def endpoints(self) -> dict[str, str]:
        """Each protocol's base URL on this platform, as its official SDK wants it configured."""
        return (yield from self._plans.endpoints())

    # ---- deployments -----------------------------------------------------------------------------

    _endpoints: dict[tuple[str | None, str], tuple[str, str | None]] | None = None

    def _remember(self, record: dict[str, Any]) -> Deployment:
        """A deployment record; its endpoint is kept, so predictions go straight to its replicas."""
        deployment = Deployment.from_json(record)
        if self._endpoints is None:
            self._endpoints = {}
        key = (self._transport.settings.workspace, deployment.name)
        if deployment.endpoint:
            self._endpoints[key] = (deployment.endpoint, deployment.model_name)
        else:
            self._endpoints.pop(key, None)
        return deployment

    def _settled(self, name: str, gone: bool = False):  # type: ignore[no-untyped-def]
        """The deployment once the change under way is done (None once deleted, with `gone`)."""
        while True:
            record = yield from self._plans.deployment(name, wait=30, gone=gone)
            if record is None:
                return None
            if record["status"] not in DEPLOYMENT_BUSY and not gone:
                return self._remember(record)

    @operation("deployments")
    def deploy(
        self,
        model: Any,
        version: str | None = None,
        *,
        name: str | None = None,
        replicas: int = 1,
        engine: str = "local",
        upgrade: str | dict[str, Any] = "rolling",
        resources: dict[str, Any] | None = None,
        wait: bool = True,
    ) -> Deployment:
        """Serve a version (default: the newest usable one) as a named deployment with `replicas` replicas.

        `engine`: "local" (worker processes of the platform host) or "ray" (Ray Serve). `upgrade`: "full",
        "rolling", or {"mode": "rolling", "batch_size": 1, "max_unavailable": 0}. Waits until it serves
        (or failed: see `status_reason` and `deployment_events(name)`) unless `wait=False`.
        """
        body = {"model": _ref(model), "version": version, "name": name or _ref(model), "replicas": replicas,
                "engine": engine, "upgrade": upgrade, "resources": resources}  # fmt: skip
        created = yield from self._plans.create_deployment(body)
        return (yield from self._settled(created["name"])) if wait else self._remember(created)

    def deployments(self) -> Any:
        """This workspace's deployments, paged lazily."""
        self.require("deployments")
        return self._listing(self._plans.deployments())

    @operation("deployments")
    def deployment(self, name: str) -> Deployment:
        return self._remember((yield from self._plans.deployment(name)))

    def deployment_events(self, name: str) -> Any:
        """What happened to a deployment, newest first: who, when, what changed, why it failed."""
        self.require("deployments")
        return self._listing(self._plans.deployment_events(name))

    def _change(self, name: str, action: str, body: dict[str, Any] | None, wait: bool):  # type: ignore[no-untyped-def]
        record = yield from self._plans.change_deployment(name, action, body or {})
        return (yield from self._settled(name)) if wait else self._remember(record)

    @operation("deployments")
    def upgrade(self, name: str, version: str, *, mode: str | dict[str, Any] | None = None, wait: bool = True) -> Deployment:
        """Serve `version` instead, fully or rolling (default: the deployment's mode). A version that fails
        its health check is rolled back by itself: `status_reason` and the events say why."""
        return (yield from self._change(name, "upgrade", {"version": version, "mode": mode}, wait))

    @operation("deployments")
    def rollback(self, name: str, *, wait: bool = True) -> Deployment:
        """Serve the version the last upgrade replaced."""
        return (yield from self._change(name, "rollback", None, wait))

    @operation("deployments")
    def stop(self, name: str, *, wait: bool = True) -> Deployment:
        return (yield from self._change(name, "stop", None, wait))

    @operation("deployments")
    def start(self, name: str, *, wait: bool = True) -> Deployment:
        """Start a Stopped or Failed deployment again."""
        return (yield from self._change(name, "start", None, wait))

    @operation("deployments")
    def delete_deployment(self, name: str, *, wait: bool = True) -> None:
        yield from self._plans.delete_deployment(name)
        if wait:
            yield from self._settled(name, gone=True)

    @operation("deployments")
    def export_deployment(self, name: str, format: str = "kserve", path: str | Path = ".", *,
                          storage_uri: str | None = None, model_path: str | None = None) -> list[Path]:  # fmt: skip
        """Write the deployment out for a serving engine this platform does not run, into folder `path`:
        "kserve" (an InferenceService manifest; `storage_uri`: where its files will be), "triton" (a model
        repository), and for a language model "vllm" (a `vllm serve` script) or "ray" (a Ray Serve config;
        `model_path`: where the model's files will be). The version's files are written beside them.
        Returns the files written."""
        params = {k: v for k, v in (("format", format), ("storage_uri", storage_uri), ("model_path", model_path)) if v}
        bundle = yield from self._plans.export_deployment(name, params)
        root, written = Path(path), []
        for entry in bundle["files"]:
            target = _inside(root, entry["path"])
            if "text" in entry:
                data = entry["text"].encode()
            else:
                data = yield from self._plans.artifact_file(entry["artifact"], entry["file"])
                if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                    raise InvalidParameter(f"{entry['file']} arrived damaged.", code="Export.Damaged",
                                           hint="Export again.")  # fmt: skip
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written.append(target)
        return written

    def _deployment_predict(self, name: str, model: Any, body: dict[str, Any]):  # type: ignore[no-untyped-def]
        """Straight to the replicas. Predict changes nothing, so it carries an idempotency key: the transport
        retries it when a connection breaks (a replica that drains or dies), and no caller sees that."""
        endpoint = yield from self._deployment_endpoint(name, model)
        return (yield from self._plans.deployment_predict(endpoint, body, str(uuid.uuid4())))

    def _deployment_endpoint(self, name: str, model: Any):  # type: ignore[no-untyped-def]
        """Where the deployment's replicas answer (read once, then remembered), checked against `model`."""
        self.require("deployments")
        found = (self._endpoints or {}).get((self._transport.settings.workspace, name))
        if found is None:
            record = self._remember((yield from self._plans.deployment(name)))
            if not record.endpoint:
                raise InvalidParameter(f"Deployment '{name}' is {record.status} and serves nothing.",
                                       code="Deployment.NotServing", hint=f"deck.start('{name}'), or wait until it is Running.")  # fmt: skip
            found = (record.endpoint, record.model_name)
        endpoint, model_name = found
        if model is not None and _ref(model) != model_name:
            raise InvalidParameter(f"Deployment '{name}' serves model '{model_name}', not '{_ref(model)}'.",
                                   code="InvalidParameter.Deployment", hint="Pass model=None with deployment=...")  # fmt: skip
        return endpoint


DEPLOYMENT_BUSY = frozenset({"Creating", "Upgrading", "RollingBack", "Deleting"})


def _inside(root: Path, relative: Any) -> Path:
    """`relative` under `root`, refused when it would leave it (a server names the files of an export)."""
    parts = Path(str(relative)).parts
    if not parts or Path(str(relative)).is_absolute() or ".." in parts:
        raise InvalidParameter(f"The platform named an export file outside the folder: {str(relative)[:80]!r}.",
                               code="Export.BadPath", hint="Export from a platform you trust.")  # fmt: skip
    return root.joinpath(*parts)


# The enumerated version fields `register` checks on the client, as the platform will.
_CHOICES = (
    ("format_type", vocabulary.FORMAT_TYPES, "format type"),
    ("framework_type", vocabulary.FRAMEWORK_TYPES, "framework type"),
    ("source_type", vocabulary.SOURCE_TYPES, "source type"),
)


def _is_uri(source: str | os.PathLike) -> bool:
    return isinstance(source, str) and "://" in source


def _context(settings: Settings, client: httpx.Client | None = None) -> Context:
    """What a provider's upload step (with the blocking `client`) or a plan asking for it sees of the deck."""
    return Context(settings.services, settings.credentials, settings.options, client)


def _upload(provider: Provider, context: Context, step: Upload) -> dict[str, Any]:
    assert provider.upload is not None  # "register" is a capability only of providers that upload
    if callable(step.progress) or not step.progress:
        return provider.upload(context, step.path, step.progress or None)
    from tqdm.auto import tqdm

    from .transfer import checkpoint_bytes

    total = checkpoint_bytes(step.path)
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"upload {step.path.name}") as bar:
        return provider.upload(context, step.path, bar.update)


class Deck(_Operations):
    """A connection to one platform as one account, in one current workspace. Use `modeldeck.connect()`."""

    def __init__(
        self, settings: Settings, *, profile: str | None = None, transport: httpx.BaseTransport | None = None
    ) -> None:
        """`transport`: an httpx transport to send through instead of the network (`httpx.MockTransport`
        in tests, a custom one behind a proxy); `connect()` is the usual way to get a deck."""
        self.profile = profile
        self._provider = for_kind(settings.kind)
        self._transport = Transport(settings, self._provider, transport)

    @classmethod
    def _open(cls, profile: str | None = None, **where: Any) -> Deck:
        """`modeldeck.connect()`: resolve the profile, reach the platform now (a wrong URL or key fails here,
        not later) and take the account and workspace it answers with."""
        from .profiles import resolve

        name, settings = resolve(profile, **where)
        deck = cls(settings, profile=name)
        try:
            try:
                me = deck._arrive()
            except (AccessDenied, NotFound):  # a workspace it may not see: it stays as named
                me = deck.whoami()
            deck._connected(me)
        except BaseException:
            deck.close()
            raise
        return deck

    def _run(self, plan: Any) -> Any:
        try:
            step = next(plan)
            while True:
                if isinstance(step, Upload):
                    result = _upload(self._provider, _context(self._transport.settings, self._transport.client), step)
                elif isinstance(step, Ask):
                    result = _context(self._transport.settings)
                elif isinstance(step, Stream):
                    provider = self._provider
                    result = ChunkStream(self._transport.client, step.call, (step.chunks or provider.chunks)(), provider.error)
                elif isinstance(step, Pause):
                    result = time.sleep(step.seconds)
                else:
                    result = self._transport.send(step)
                step = plan.send(result)
        except StopIteration as done:
            return done.value

    def _listing(self, page: Page[Any]) -> Listing[Any]:
        return Listing(lambda cursor, limit: self._run(page_plan(page, cursor, limit)), page.title, page.notes)

    def _wrap_task(self, record: TaskRecord) -> Task:
        return Task(self, record)

    def close(self) -> None:
        self._transport.close()

    def panel(self) -> Any:
        """The interactive panel over this deck (an anywidget; display it, or end a cell with it)."""
        from .panel import Panel

        return Panel(deck=self)

    def __enter__(self) -> Deck:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        ws = self.workspace.name if self.workspace else self._transport.settings.workspace
        return f"Deck(profile={self.profile!r}, url={self.url!r}, workspace={ws!r})"


class AsyncDeck(_Operations):
    """The same surface as Deck, as coroutines: `async with modeldeck.AsyncDeck() as deck: ...`.

    It resolves its profile as `modeldeck.connect()` does, and on entering takes the account and
    workspace the same way.
    """

    def __init__(
        self,
        profile: str | None = None,
        *,
        url: str | None = None,
        api_key: str | None = None,
        workspace: str | None = None,
        home: str | Path | None = None,
    ) -> None:
        from .profiles import resolve

        self.profile, settings = resolve(profile, url=url, api_key=api_key, workspace=workspace, home=home)
        self._provider = for_kind(settings.kind)
        self._transport = AsyncTransport(settings, self._provider)

    async def _run(self, plan: Any) -> Any:
        try:
            step = next(plan)
            while True:
                if isinstance(step, Upload):
                    result = await asyncio.to_thread(self._upload_sync, step)
                elif isinstance(step, Ask):
                    result = _context(self._transport.settings)
                elif isinstance(step, Stream):
                    client, provider = self._transport.client, self._provider
                    result = await AsyncChunkStream.open(client, step.call, (step.chunks or provider.chunks)(), provider.error)
                elif isinstance(step, Pause):
                    result = await asyncio.sleep(step.seconds)
                else:
                    result = await self._transport.send(step)
                step = plan.send(result)
        except StopIteration as done:
            return done.value

    def _upload_sync(self, step: Upload) -> dict[str, Any]:
        """Uploads stream from files on disk: run them in a thread with a short-lived blocking client."""
        transport = Transport(Settings(**self._transport.settings.__dict__), self._provider)
        try:
            return _upload(self._provider, _context(transport.settings, transport.client), step)
        finally:
            transport.close()

    def _listing(self, page: Page[Any]) -> AsyncListing[Any]:
        return AsyncListing(lambda cursor: self._run(page_plan(page, cursor)), page.title, page.notes)

    def _wrap_task(self, record: TaskRecord) -> AsyncTask:
        return AsyncTask(self, record)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncDeck:
        try:
            try:
                me = await self._arrive()
            except (AccessDenied, NotFound):  # a workspace it may not see: it stays as named
                me = await self.whoami()
            self._connected(me)
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        ws = self.workspace.name if self.workspace else self._transport.settings.workspace
        return f"AsyncDeck(profile={self.profile!r}, url={self.url!r}, workspace={ws!r})"


def connect(
    profile: str | None = None,
    *,
    url: str | None = None,
    api_key: str | None = None,
    workspace: str | None = None,
    home: str | Path | None = None,
) -> Deck:
    """Connect to a platform.

    With no arguments: the default profile (`MODELDECK_PROFILE`, else the profiles file's default), and with
    nothing configured, the embedded platform of `MODELDECK_HOME`, started on first use and shared by
    every kernel and the CLI. `url=` names a team server; `home=` another embedded home. Credentials come
    from the argument, then the environment, the profiles file, the system keyring.
    """
    return Deck._open(profile, url=url, api_key=api_key, workspace=workspace, home=home)


__all__ = ["AsyncDeck", "Deck", "connect"]
