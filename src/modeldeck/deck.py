"""Deck and AsyncDeck: the public client of a modeldeck platform.

Each operation is written once, as a plan: a generator that yields HTTP calls and returns a result. `Deck`
drives plans with a blocking transport and `AsyncDeck` with an async one, so both offer exactly the same
surface (`await` it on `AsyncDeck`) and cannot drift apart.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from ._http import WORKSPACE_HEADER, AsyncTransport, Call, Settings, Transport
from .errors import Conflict, InvalidParameter
from ._stream import AsyncChunkStream, ChunkStream
from .tasks import AsyncTask, Task
from .resources import (
    Account,
    AsyncListing,
    Completion,
    Deployment,
    DeploymentEvent,
    Grant,
    Listing,
    Model,
    ModelVersion,
    Prediction,
    Resource,
    TaskRecord,
    Workspace,
)

R = TypeVar("R", bound=Resource)
V1 = "/api/v1"


Progress = Callable[[int], None]


@dataclass(frozen=True)
class Upload:
    """A plan step the drivers carry out with the upload protocol (modeldeck.transfer).

    `progress`: True for a tqdm bar, or a callable given each increment of bytes sent (raising in it
    abandons the upload, which a later register of the same file resumes).
    """

    path: Path
    progress: bool | Progress


@dataclass(frozen=True)
class Stream:
    """A plan step the drivers answer with an open stream of chat chunks."""

    call: Call


@dataclass(frozen=True)
class Page(Generic[R]):
    kind: type[R]
    path: str
    params: dict[str, Any]
    title: str
    convert: Callable[[dict[str, Any]], R] | None = None  # how a listed item becomes a record


def operation(plan: Callable[..., Any]) -> Any:
    """Turn a plan method into a method that runs it: a value on Deck, an awaitable on AsyncDeck."""

    class Bound:
        def __set_name__(self, owner: type, name: str) -> None:
            self.name = name

        def __get__(self, deck: Any, owner: type) -> Any:
            if deck is None:
                return plan

            @functools.wraps(plan)
            def run(*args: Any, **kwargs: Any) -> Any:
                deck._supports(self.name)
                return deck._run(plan(deck, *args, **kwargs))

            return run

    return Bound()


def _ref(value: Any) -> str:
    """Accept a record or its name/id wherever a workspace, model or account is named."""
    if isinstance(value, Workspace | Account):
        return value.id
    if isinstance(value, Model):
        return value.id
    if isinstance(value, str) and value:
        return value
    raise InvalidParameter(
        f"Expected a name, an id or a record, got {type(value).__name__}.",
        hint="Pass a name such as 'team-b', an id, or the object a listing returned.",
    )


def _path(*parts: str) -> str:
    from urllib.parse import quote

    return V1 + "".join("/" + quote(p, safe="") for p in parts)


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
    workspace: Workspace | None = None
    account: dict[str, Any] | None = None  # name and kind ("main" or "sub") of the key's account, from connect
    _watchers: tuple[Callable[[Workspace], None], ...] = ()

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
        if self._openai:
            yield from ()
            return {"account": {"name": "", "kind": "openai"}, "workspace": IMPLICIT_WORKSPACE.raw}
        return (yield Call("GET", _path("whoami"))).json()

    @operation
    def workspaces(self) -> list[Workspace]:
        """The workspaces this account may enter, with its role in each."""
        if self._openai:
            yield from ()
            return [IMPLICIT_WORKSPACE]
        response = yield Call("GET", _path("workspaces"))
        return [Workspace.from_json(w) for w in response.json()["items"]]

    @operation
    def use(self, workspace: Any) -> Workspace:
        """Make a workspace (name, id or record) the current one for every later call of this deck."""
        if self._openai:
            yield from ()
            if _ref(workspace) not in (IMPLICIT_WORKSPACE.id, IMPLICIT_WORKSPACE.name):
                raise InvalidParameter(
                    "This OpenAI-compatible server has no workspaces.",
                    code="Provider.NoWorkspaces",
                    hint="It has one implicit workspace, which is always current; workspaces exist on modeldeck, "
                    "Alibaba Cloud and Huawei Cloud profiles.",
                )
            return IMPLICIT_WORKSPACE
        ws = Workspace.from_json((yield Call("GET", _path("workspaces", _ref(workspace)))).json())
        self._transport.use(ws.id)
        self.workspace = ws
        for watcher in self._watchers:
            watcher(ws)
        return ws

    @operation
    def create_workspace(self, name: str, description: str = "") -> Workspace:
        response = yield Call("POST", _path("workspaces"), json={"name": name, "description": description})
        return Workspace.from_json(response.json())

    @operation
    def update_workspace(self, workspace: Any, *, name: str | None = None, description: str | None = None) -> Workspace:
        body = {k: v for k, v in {"name": name, "description": description}.items() if v is not None}
        return Workspace.from_json((yield Call("PATCH", _path("workspaces", _ref(workspace)), json=body)).json())

    @operation
    def delete_workspace(self, workspace: Any) -> None:
        yield Call("DELETE", _path("workspaces", _ref(workspace)))

    # ---- accounts and members --------------------------------------------------------------------

    def accounts(self) -> Any:
        """Every account (the main account's view); a sub-account sees itself. Paged lazily."""
        self._supports("accounts")
        return self._listing(Page(Account, _path("accounts"), {}, "accounts"))

    @operation
    def create_subaccount(self, name: str) -> Account:
        """Create a sub-account. Its `api_key` is shown this once; store it (e.g. `modeldeck profile add`)."""
        return Account.from_json((yield Call("POST", _path("accounts"), json={"name": name})).json())

    def members(self, workspace: Any) -> Any:
        """The sub-accounts that are members of a workspace, with their roles. Paged lazily."""
        self._supports("members")
        return self._listing(Page(Account, _path("workspaces", _ref(workspace), "members"), {}, "members"))

    @operation
    def add_member(self, workspace: Any, account: Any, role: str = "developer") -> Account:
        """Give an account a role (admin, developer, viewer) in a workspace; changes it if already a member."""
        call = Call("PUT", _path("workspaces", _ref(workspace), "members", _ref(account)), json={"role": role})
        return Account.from_json((yield call).json())

    @operation
    def remove_member(self, workspace: Any, account: Any) -> None:
        yield Call("DELETE", _path("workspaces", _ref(workspace), "members", _ref(account)))

    @operation
    def authorization_mode(self, mode: str | None = None) -> str:
        """Read, or set (strict | loose), how sub-accounts are treated in workspaces they were not added to."""
        if mode is None:
            return (yield Call("GET", _path("settings"))).json()["authorization_mode"]
        return (yield Call("PATCH", _path("settings"), json={"authorization_mode": mode})).json()["authorization_mode"]

    # ---- models ----------------------------------------------------------------------------------

    def models(self, query: str | None = None, *, task: str | None = None, action: str | None = None) -> Any:
        """The models the current workspace may see: owned, granted (with the granted actions), PUBLIC.

        `action="inference"` keeps only those it may call. Pages are fetched lazily as you iterate.
        """
        if self._openai:
            return self._listing(Page(Model, "/models", {}, "models", convert=_openai_model))
        params = {k: v for k, v in {"q": query, "task": task, "action": action}.items() if v}
        return self._listing(Page(Model, _path("models"), params, "models"))

    @operation
    def model(self, model: Any) -> Model:
        if self._openai:
            return _openai_model((yield Call("GET", "/models/" + _ref(model))).json())
        return Model.from_json((yield Call("GET", _path("models", _ref(model)))).json())

    @operation
    def create_model(self, name: str, **fields: Any) -> Model:
        """Create a model in the current workspace (task, domain, origin, accessibility, labels, ...)."""
        return Model.from_json((yield Call("POST", _path("models"), json={"model_name": name, **fields})).json())

    @operation
    def update_model(self, model: Any, **fields: Any) -> Model:
        return Model.from_json((yield Call("PATCH", _path("models", _ref(model)), json=fields)).json())

    @operation
    def delete_model(self, model: Any) -> None:
        yield Call("DELETE", _path("models", _ref(model)))

    @operation
    def grants(self, model: Any) -> list[Grant]:
        response = yield Call("GET", _path("models", _ref(model), "grants"))
        return [Grant.from_json(g) for g in response.json()["items"]]

    @operation
    def authorize(self, model: Any, workspace: Any, actions: Iterable[str] = ("inference",)) -> Grant:
        """Authorize another workspace to use a model this workspace owns (inference, fine_tune, deploy)."""
        call = Call("PUT", _path("models", _ref(model), "grants", _ref(workspace)), json={"actions": list(actions)})
        return Grant.from_json((yield call).json())

    @operation
    def revoke(self, model: Any, workspace: Any) -> None:
        yield Call("DELETE", _path("models", _ref(model), "grants", _ref(workspace)))

    # ---- versions --------------------------------------------------------------------------------

    def versions(self, model: Any, *, approval_status: str | None = None) -> Any:
        """A model's versions, newest first, paged lazily."""
        self._supports("versions")
        params = {"approval_status": approval_status} if approval_status else {}
        return self._listing(Page(ModelVersion, _path("models", _ref(model), "versions"), params, "versions"))

    @operation
    def version(self, model: Any, version: str) -> ModelVersion:
        return ModelVersion.from_json((yield Call("GET", _path("models", _ref(model), "versions", version))).json())

    @operation
    def register(
        self,
        model: str,
        source: str | Path,
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
    ) -> ModelVersion:
        """Register a checkpoint as a new version of `model`, creating the model here if it does not exist.

        `source` is a local file or folder (uploaded, hashed while it streams, verified by the platform)
        or an external URI (oss://, obs://, s3://, https://). Omit `version` to bump the minor number.
        The request carries an idempotency key, so a retry after a lost response never duplicates it.
        """
        spec = {
            "version_name": version, "format_type": format, "framework_type": framework, "metrics": metrics,
            "labels": labels, "source_type": source_type, "source_id": source_id, "training_spec": training_spec,
            "inference_spec": inference_spec, "extra_info": extra_info, "options": options,
            "description": description,
        }  # fmt: skip
        spec = {k: v for k, v in spec.items() if v is not None}
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
        model_id = yield from _own_model(model)
        call = Call(
            "POST", _path("models", model_id, "versions"), json=spec, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        return ModelVersion.from_json((yield call).json())

    @operation
    def update_version(self, model: Any, version: str, **fields: Any) -> ModelVersion:
        """Change labels, metrics, specs, options or description of a version."""
        call = Call("PATCH", _path("models", _ref(model), "versions", version), json=fields)
        return ModelVersion.from_json((yield call).json())

    @operation
    def approve(self, model: Any, version: str) -> ModelVersion:
        """Approve a Pending version; the decision is final."""
        return ModelVersion.from_json((yield Call("POST", _path("models", _ref(model), "versions", version, "approve"))).json())

    @operation
    def reject(self, model: Any, version: str) -> ModelVersion:
        """Reject a Pending version; the decision is final."""
        return ModelVersion.from_json((yield Call("POST", _path("models", _ref(model), "versions", version, "reject"))).json())

    @operation
    def delete_version(self, model: Any, version: str) -> None:
        yield Call("DELETE", _path("models", _ref(model), "versions", version))

    # ---- inference -------------------------------------------------------------------------------

    @operation
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
        parts = ("models", _ref(model), "versions", version, "predict") if version else ("models", _ref(model), "predict")
        return Prediction.from_json((yield Call("POST", _path(*parts), json=body)).json())

    @operation
    def chat(
        self,
        model: Any,
        messages: Any,
        stream: bool = False,
        *,
        version: str | None = None,
        wait: bool = True,
        **params: Any,
    ) -> Any:
        """Chat with a language-model version: a `Completion`, or with `stream=True` an iterator of `Chunk`
        (an async iterator on AsyncDeck) whose text can be printed as it comes; leaving the loop early
        closes the stream and stops generation.

        `messages` is a prompt string or OpenAI-style `[{"role": ..., "content": ...}]`; `params` are
        max_tokens, temperature, top_p, seed, stop.
        """
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        if not wait:
            return (yield from self._submit("chat", model, version, {"messages": messages, **params}))
        name = _ref(model) + (f":{version}" if version else "")
        body = {"model": name, "messages": messages, **params}
        path = "/chat/completions" if self._openai else "/v1/chat/completions"  # an OpenAI base URL ends in /v1
        if stream:
            return (yield Stream(Call("POST", path, json={**body, "stream": True})))
        return Completion.from_json((yield Call("POST", path, json=body)).json())

    def _openai_options(self) -> dict[str, Any]:
        try:
            import openai  # noqa: F401
        except ImportError:
            raise InvalidParameter(
                "The openai package is not installed.", code="MissingDependency", hint='pip install "modeldeck[openai]"'
            ) from None
        settings = self._transport.settings
        headers = {WORKSPACE_HEADER: settings.workspace} if settings.workspace else {}
        base = settings.url if self._openai else f"{settings.url}/v1"
        return {"base_url": base, "api_key": settings.api_key or "none", "default_headers": headers}

    def openai_client(self) -> Any:
        """The official `openai.OpenAI` client, pointed at this platform's /v1 as this account and workspace."""
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
        body = {"kind": kind, "model": _ref(model), "version": version, "input": request}
        return self._wrap_task(TaskRecord.from_json((yield Call("POST", _path("tasks"), json=body)).json()))

    @operation
    def task(self, task_id: str) -> Any:
        """A task by id, with its current state (its result once SUCCEEDED)."""
        return self._wrap_task(TaskRecord.from_json((yield Call("GET", _path("tasks", task_id))).json()))

    @operation
    def cancel_task(self, task_id: str) -> Any:
        return self._wrap_task(TaskRecord.from_json((yield Call("POST", _path("tasks", task_id, "cancel"))).json()))

    def tasks(self, *, status: str | None = None) -> Any:
        """This workspace's tasks, newest first, paged lazily (without results: get a task for its result)."""
        self._supports("tasks")
        return self._listing(Page(TaskRecord, _path("tasks"), {"status": status} if status else {}, "tasks"))

    def _wrap_task(self, record: TaskRecord) -> Any:
        raise NotImplementedError

    # ---- providers -------------------------------------------------------------------------------

    @property
    def _openai(self) -> bool:
        return self._transport.settings.kind == "openai"

    def _supports(self, operation: str) -> None:
        if self._openai and operation not in OPENAI_OPERATIONS:
            raise InvalidParameter(
                f"An OpenAI-compatible server has no {operation.replace('_', ' ')}.",
                code="Provider.Unsupported",
                hint="OpenAI-compatible profiles list models and chat; registries, grants and predict need a "
                "modeldeck platform (local or server profile).",
            )

    # ---- drivers (per class) ---------------------------------------------------------------------

    def _run(self, plan: Any) -> Any:
        raise NotImplementedError

    def _listing(self, page: Page[Any]) -> Any:
        raise NotImplementedError

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
            response = yield Call("GET", _path("deployments", name), params={"wait": 30}, ok=(404,) if gone else ())
            if response.status_code == 404:
                return None
            record = response.json()
            if record["status"] not in DEPLOYMENT_BUSY:
                return self._remember(record)

    @operation
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
        created = (yield Call("POST", _path("deployments"), json=body)).json()
        return (yield from self._settled(created["name"])) if wait else self._remember(created)

    def deployments(self) -> Any:
        """This workspace's deployments, paged lazily."""
        self._supports("deployments")
        return self._listing(Page(Deployment, _path("deployments"), {}, "deployments"))

    @operation
    def deployment(self, name: str) -> Deployment:
        return self._remember((yield Call("GET", _path("deployments", name))).json())

    def deployment_events(self, name: str) -> Any:
        """What happened to a deployment, newest first: who, when, what changed, why it failed."""
        self._supports("deployment_events")
        return self._listing(Page(DeploymentEvent, _path("deployments", name, "events"), {}, "deployment events"))

    def _change(self, name: str, action: str, body: dict[str, Any] | None, wait: bool):  # type: ignore[no-untyped-def]
        record = (yield Call("POST", _path("deployments", name, action), json=body or {})).json()
        return (yield from self._settled(name)) if wait else self._remember(record)

    @operation
    def upgrade(self, name: str, version: str, *, mode: str | dict[str, Any] | None = None, wait: bool = True) -> Deployment:
        """Serve `version` instead, fully or rolling (default: the deployment's mode). A version that fails
        its health check is rolled back by itself: `status_reason` and the events say why."""
        return (yield from self._change(name, "upgrade", {"version": version, "mode": mode}, wait))

    @operation
    def rollback(self, name: str, *, wait: bool = True) -> Deployment:
        """Serve the version the last upgrade replaced."""
        return (yield from self._change(name, "rollback", None, wait))

    @operation
    def stop(self, name: str, *, wait: bool = True) -> Deployment:
        return (yield from self._change(name, "stop", None, wait))

    @operation
    def start(self, name: str, *, wait: bool = True) -> Deployment:
        """Start a Stopped or Failed deployment again."""
        return (yield from self._change(name, "start", None, wait))

    @operation
    def delete_deployment(self, name: str, *, wait: bool = True) -> None:
        yield Call("DELETE", _path("deployments", name))
        if wait:
            yield from self._settled(name, gone=True)

    def _deployment_predict(self, name: str, model: Any, body: dict[str, Any]):  # type: ignore[no-untyped-def]
        """Straight to the replicas. Predict changes nothing, so it carries an idempotency key: the transport
        retries it when a connection breaks (a replica that drains or dies), and no caller sees that."""
        found = (self._endpoints or {}).get((self._transport.settings.workspace, name))
        if found is None:
            record = self._remember((yield Call("GET", _path("deployments", name))).json())
            if not record.endpoint:
                raise InvalidParameter(f"Deployment '{name}' is {record.status} and serves nothing.",
                                       code="Deployment.NotServing", hint=f"deck.start('{name}'), or wait until it is Running.")  # fmt: skip
            found = (record.endpoint, record.model_name)
        endpoint, model_name = found
        if model is not None and _ref(model) != model_name:
            raise InvalidParameter(f"Deployment '{name}' serves model '{model_name}', not '{_ref(model)}'.",
                                   code="InvalidParameter.Deployment", hint="Pass model=None with deployment=...")  # fmt: skip
        call = Call("POST", f"{endpoint}/predict", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        return Prediction.from_json((yield call).json())


DEPLOYMENT_BUSY = frozenset({"Creating", "Upgrading", "RollingBack", "Deleting"})
OPENAI_OPERATIONS = frozenset({"whoami", "workspaces", "use", "model", "models", "chat"})
IMPLICIT_WORKSPACE = Workspace.from_json({
    "id": "default", "name": "default", "is_default": True, "role": None,
    "description": "An OpenAI-compatible server has no workspaces: this implicit one stands for the whole server.",
})  # fmt: skip


def _openai_model(item: dict[str, Any]) -> Model:
    """An OpenAI `model` object as a record: callable for inference, owned as the server says."""
    return Model.from_json({
        "id": item.get("id", ""), "model_name": item.get("id", ""), "owner_workspace": item.get("owned_by") or "",
        "source": "server", "actions": ["inference"], "created_at": None,
    })  # fmt: skip


def _is_uri(source: str | Path) -> bool:
    return isinstance(source, str) and "://" in source


def _own_model(name: str):  # type: ignore[no-untyped-def]
    """The id of the model called `name` owned by the current workspace, creating it if needed."""
    response = yield Call("GET", _path("models", name), ok=(403, 404))
    if response.is_success and response.json()["source"] == "owned":
        return response.json()["id"]
    created = yield Call("POST", _path("models"), json={"model_name": name}, ok=(409,))
    if created.is_success:
        return created.json()["id"]
    again = yield Call("GET", _path("models", name))  # created meanwhile by a concurrent register
    if again.json()["source"] != "owned":
        raise Conflict(f"Model '{name}' could not be created here.", hint="Retry the registration.")
    return again.json()["id"]


def _page_plan(page: Page[R], cursor: str | None):  # type: ignore[no-untyped-def]
    """One page: the platform's `{items, next_cursor}`, or an OpenAI server's one-page `{data}`."""
    params = {**page.params, **({"cursor": cursor} if cursor else {})}
    body = (yield Call("GET", page.path, params=params)).json()
    convert = page.convert or page.kind.from_json
    return [convert(item) for item in body.get("items", body.get("data", []))], body.get("next_cursor")


def checkpoint_bytes(path: Path) -> int:
    """The bytes an upload of `path` (a file or a checkpoint folder) sends."""
    return sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())


def _upload(client: Any, step: Upload) -> dict[str, Any]:
    from .transfer import upload_artifact

    if callable(step.progress):
        return upload_artifact(client, step.path, progress=step.progress)
    if not step.progress:
        return upload_artifact(client, step.path)
    from tqdm.auto import tqdm

    total = checkpoint_bytes(step.path)
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"upload {step.path.name}") as bar:
        return upload_artifact(client, step.path, progress=bar.update)


class Deck(_Operations):
    """A connection to one platform as one account, in one current workspace. Use `modeldeck.connect()`."""

    def __init__(self, settings: Settings, *, profile: str | None = None) -> None:
        self.profile = profile
        self._transport = Transport(settings)

    def _run(self, plan: Any) -> Any:
        try:
            step = next(plan)
            while True:
                if isinstance(step, Upload):
                    result = _upload(self._transport.client, step)
                elif isinstance(step, Stream):
                    result = ChunkStream(self._transport.client, step.call)
                else:
                    result = self._transport.send(step)
                step = plan.send(result)
        except StopIteration as done:
            return done.value

    def _listing(self, page: Page[Any]) -> Listing[Any]:
        return Listing(lambda cursor: self._run(_page_plan(page, cursor)), page.title)

    def _wrap_task(self, record: TaskRecord) -> Task:
        return Task(self, record)

    @property
    def url(self) -> str:
        return self._transport.settings.url

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
    """The same surface as Deck, as coroutines: `async with modeldeck.AsyncDeck() as deck: ...`."""

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
        self._transport = AsyncTransport(settings)
        self._settings = settings

    async def _run(self, plan: Any) -> Any:
        try:
            step = next(plan)
            while True:
                if isinstance(step, Upload):
                    result = await asyncio.to_thread(self._upload_sync, step)
                elif isinstance(step, Stream):
                    result = await AsyncChunkStream.open(self._transport.client, step.call)
                else:
                    result = await self._transport.send(step)
                step = plan.send(result)
        except StopIteration as done:
            return done.value

    def _upload_sync(self, step: Upload) -> dict[str, Any]:
        """Uploads stream from files on disk: run them in a thread with a short-lived blocking client."""
        transport = Transport(Settings(**{**self._settings.__dict__}))
        try:
            return _upload(transport.client, step)
        finally:
            transport.close()

    def _listing(self, page: Page[Any]) -> AsyncListing[Any]:
        return AsyncListing(lambda cursor: self._run(_page_plan(page, cursor)), page.title)

    def _wrap_task(self, record: TaskRecord) -> AsyncTask:
        return AsyncTask(self, record)

    @property
    def url(self) -> str:
        return self._transport.settings.url

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncDeck:
        await _resolve_workspace(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        ws = self.workspace.name if self.workspace else self._transport.settings.workspace
        return f"AsyncDeck(profile={self.profile!r}, url={self.url!r}, workspace={ws!r})"


async def _resolve_workspace(deck: AsyncDeck) -> None:
    me = await deck.whoami()
    if "workspace" in me:
        deck.workspace = Workspace.from_json({**me["workspace"]})


__all__ = ["AsyncDeck", "Deck"]
