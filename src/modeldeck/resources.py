"""What the client hands back: small typed records of the platform's resources, rich in notebooks.

Every record keeps the server's JSON in `raw`, shows itself as an HTML table in Jupyter with a
`text/plain` fallback, and never holds a secret except `Account.api_key` and `AccessKey.secret` (present once,
at creation), which are masked in every repr.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

T = TypeVar("T", bound="Resource")


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value


@dataclass(repr=False)
class Resource:
    """Base of the records; subclasses list the fields worth showing first."""

    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    shown: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_json(cls: type[T], data: dict[str, Any]) -> T:
        names = {f.name for f in fields(cls)} - {"raw"}
        values = {k: (_time(v) if k == "at" or k.endswith("_at") else v) for k, v in data.items() if k in names}
        return cls(raw=data, **values)

    def _row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.shown}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._row().items())
        return f"{type(self).__name__}({inner})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{_cell(v)}</td></tr>"
            for k, v in self._row().items()
        )
        return f"<table><caption>{type(self).__name__}</caption>{rows}</table>"


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (list, tuple)):
        value = ", ".join(map(str, value))
    if isinstance(value, dict):
        value = ", ".join(f"{k}={v}" for k, v in value.items())
    return html.escape("" if value is None else str(value))


@dataclass(repr=False)
class Workspace(Resource):
    id: str = ""
    name: str = ""
    description: str = ""
    is_default: bool = False
    role: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    shown: ClassVar[tuple[str, ...]] = ("name", "id", "role", "is_default", "description")


@dataclass(repr=False)
class Account(Resource):
    id: str = ""
    name: str = ""
    kind: str = ""
    role: str | None = None
    authorization_mode: str | None = None
    api_key: str | None = field(default=None, compare=False)  # present once, when the account is created
    created_at: datetime | None = None
    shown: ClassVar[tuple[str, ...]] = ("name", "id", "kind", "role")

    def __post_init__(self) -> None:
        self.raw = {k: v for k, v in self.raw.items() if k != "api_key"}  # the key lives in one place only

    def _row(self) -> dict[str, Any]:
        row = super()._row()
        if self.api_key:
            row["api_key"] = mask(self.api_key)
        return row


@dataclass(repr=False)
class AccessKey(Resource):
    """An AccessKey pair for signed requests; `secret` is present once, at creation, and masked in every repr."""

    id: str = ""
    account: str = ""
    status: str = ""
    description: str = ""
    secret: str | None = field(default=None, compare=False)
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    shown: ClassVar[tuple[str, ...]] = ("id", "account", "status", "description", "last_used_at")

    def __post_init__(self) -> None:
        self.raw = {k: v for k, v in self.raw.items() if k != "secret"}  # the secret lives in one place only

    def _row(self) -> dict[str, Any]:
        row = super()._row()
        if self.secret:
            row["secret"] = "***"
        return row


@dataclass(repr=False)
class Model(Resource):
    id: str = ""
    model_name: str = ""
    workspace_id: str = ""
    owner_workspace: str = ""
    source: str = ""
    actions: list[str] = field(default_factory=list)
    task: str | None = None
    domain: str | None = None
    origin: str | None = None
    accessibility: str = "PRIVATE"
    model_type: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    description: str = ""
    extra_info: dict[str, Any] = field(default_factory=dict)
    latest_version: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    shown: ClassVar[tuple[str, ...]] = ("model_name", "task", "owner_workspace", "source", "actions", "latest")

    @property
    def name(self) -> str:
        return self.model_name

    @property
    def latest(self) -> str | None:
        v = self.latest_version
        return None if v is None else f"{v['version_name']} ({v['approval_status']})"


@dataclass(repr=False)
class ModelVersion(Resource):
    version_id: str = ""
    model_id: str = ""
    model_name: str = ""
    version_name: str = ""
    uri: str = ""
    format_type: str | None = None
    framework_type: str | None = None
    source_type: str | None = None
    source_id: str | None = None
    approval_status: str = "Pending"
    labels: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    training_spec: dict[str, Any] = field(default_factory=dict)
    inference_spec: dict[str, Any] = field(default_factory=dict)
    extra_info: dict[str, Any] = field(default_factory=dict)
    options: str | None = None
    description: str = ""
    # what registration found by loading the checkpoint: inputs, outputs, columns, classes (or None)
    signature: dict[str, Any] | None = None
    runnable: bool = True
    not_runnable_reason: str | None = None
    # a version a training job produced, on a cloud that says the job's state: training, completed, failed,
    # stopped, stopping or abnormal (the console's words); None otherwise
    training_state: str | None = None
    created_by: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    shown: ClassVar[tuple[str, ...]] = (
        "model_name", "version_name", "approval_status", "format_type", "metrics", "labels", "created_at",
    )  # fmt: skip

    def _row(self) -> dict[str, Any]:
        row = super()._row()
        if self.training_state is not None:  # shown only where there is one: most versions came from no job
            row["training_state"] = self.training_state
        return row

    @property
    def version(self) -> str:
        return self.version_name


@dataclass(repr=False)
class Grant(Resource):
    model_id: str = ""
    workspace_id: str = ""
    workspace: str = ""
    actions: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    shown: ClassVar[tuple[str, ...]] = ("workspace", "actions", "created_at")


@dataclass(repr=False)
class Prediction(Resource):
    """Outputs by name (nested lists, or numpy arrays via `arrays()`), with their dtypes and shapes."""

    model: str = ""
    model_id: str = ""
    version: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)
    shapes: dict[str, list[int]] = field(default_factory=dict)
    shown: ClassVar[tuple[str, ...]] = ("model", "version", "shapes")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prediction:
        outs = data.get("outputs", [])
        return cls(
            raw=data, model=data.get("model", ""), model_id=data.get("model_id", ""), version=data.get("version", ""),
            outputs={o["name"]: o["data"] for o in outs}, dtypes={o["name"]: o["dtype"] for o in outs},
            shapes={o["name"]: o["shape"] for o in outs},
        )  # fmt: skip

    def arrays(self) -> dict[str, Any]:
        import numpy as np

        return {
            name: np.asarray(data, dtype=None if self.dtypes[name] == "string" else self.dtypes[name])
            for name, data in self.outputs.items()
        }


def mask(secret: str) -> str:
    return secret[:8] + "…" if len(secret) > 12 else "…"


MAX_PAGE = 500  # the most items a platform page holds


class Listing(Generic[T]):
    """A lazily paged list: pages are fetched as iteration reaches them.

    `fetch(cursor, limit)` returns (records, next_cursor); `limit` None is the server's page size. Iterate
    it, or call `list()`/`to_pandas()`; `first(n)` asks for pages of at most n and fetches none beyond what
    it returns. In a notebook it shows the first page.
    `notes` are what a part of the listing could not show (a `DeckError` each, with its hint: e.g. a service
    of the profile that refused the caller), added as iteration reaches that part; the rest is listed.
    """

    def __init__(self, fetch: Callable[[str | None, int | None], tuple[list[T], str | None]], title: str = "",
                 notes: list[Any] | None = None) -> None:  # fmt: skip
        self._fetch = fetch
        self._title = title
        self.notes: list[Any] = notes if notes is not None else []
        self._first: tuple[list[T], str | None] | None = None

    def _first_page(self) -> tuple[list[T], str | None]:
        if self._first is None:
            self._first = self._fetch(None, None)
        return self._first

    def __iter__(self) -> Iterator[T]:
        items, cursor = self._first_page()
        yield from items
        while cursor:
            items, cursor = self._fetch(cursor, None)
            yield from items

    def first(self, n: int) -> list[T]:
        if self._first is not None:  # already shown: reuse it, page on only as far as needed
            out, cursor = list(self._first[0][:n]), self._first[1]
        else:
            out, cursor = [], None
            items, cursor = self._fetch(None, min(n, MAX_PAGE)) if n > 0 else ([], None)
            out += items[:n]
        while len(out) < n and cursor:
            items, cursor = self._fetch(cursor, min(n - len(out), MAX_PAGE))
            out += items[: n - len(out)]
        return out

    def list(self) -> list[T]:
        return list(self)

    def to_pandas(self) -> Any:
        """A DataFrame of every record (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            from .errors import InvalidParameter

            raise InvalidParameter(
                "pandas is not installed.", code="MissingDependency", hint="pip install pandas"
            ) from None
        return pd.DataFrame([r.raw for r in self])

    def __repr__(self) -> str:
        items, cursor = self._first_page()
        more = "\n  … (more pages)" if cursor else ""
        noted = "".join(f"\n  note: {n.message} {n.hint or ''}".rstrip() for n in self.notes)
        return f"{self._title or 'Listing'}[\n" + "".join(f"  {r!r},\n" for r in items) + f"]{more}{noted}"

    def _repr_html_(self) -> str:
        items, cursor = self._first_page()
        noted = "".join(f"<p>Note: {html.escape(n.message)} {html.escape(n.hint or '')}</p>" for n in self.notes)
        if not items:
            return f"<p>{html.escape(self._title)}: none</p>{noted}"
        rows = [r._row() for r in items]
        columns = list(dict.fromkeys(c for row in rows for c in row))  # a column some rows have is shown for all
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{_cell(row.get(c))}</td>" for c in columns) + "</tr>"
            for row in rows
        )
        more = "<p>… more pages: iterate the listing or call .list()</p>" if cursor else ""
        return f"<table><caption>{html.escape(self._title)}</caption><tr>{head}</tr>{body}</table>{more}{noted}"


class AsyncListing(Generic[T]):
    """The async counterpart of `Listing`: `async for` over pages fetched on demand (with its `notes`)."""

    def __init__(self, fetch: Callable[[str | None], Any], title: str = "", notes: list[Any] | None = None) -> None:
        self._fetch = fetch
        self._title = title
        self.notes: list[Any] = notes if notes is not None else []

    async def __aiter__(self) -> AsyncIterator[T]:
        cursor: str | None = None
        while True:
            items, cursor = await self._fetch(cursor)
            for item in items:
                yield item
            if not cursor:
                return

    async def list(self) -> list[T]:
        return [item async for item in self]


@dataclass(repr=False)
class Completion(Resource):
    """A chat reply (or a text completion): its text, why generation stopped, and the token counts."""

    id: str = ""
    model: str = ""
    text: str = ""
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    shown: ClassVar[tuple[str, ...]] = ("model", "text", "finish_reason", "usage")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Completion:
        choice = (data.get("choices") or [{}])[0]
        return cls(
            raw=data, id=data.get("id", ""), model=data.get("model", ""),
            text=(choice.get("message") or {}).get("content") or choice.get("text") or "",  # a text completion's
            finish_reason=choice.get("finish_reason"),
            usage=data.get("usage") or {},
        )  # fmt: skip

    def __str__(self) -> str:
        return self.text


@dataclass(repr=False)
class Chunk(Resource):
    """One piece of a streamed chat reply; the last one carries `finish_reason` (and `usage` if asked)."""

    text: str = ""
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    shown: ClassVar[tuple[str, ...]] = ("text", "finish_reason")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        choice = (data.get("choices") or [{}])[0]
        return cls(
            raw=data, text=(choice.get("delta") or {}).get("content") or choice.get("text") or "",
            finish_reason=choice.get("finish_reason"), usage=data.get("usage"),
        )  # fmt: skip

    def __str__(self) -> str:
        return self.text


FINISHED = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})


@dataclass(repr=False)
class TaskRecord(Resource):
    """A task's state as the platform last reported it."""

    id: str = ""
    kind: str = ""
    model: str = ""
    version: str | None = None
    status: str = "PENDING"
    progress: float | None = None
    cancel_requested: bool = False
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None
    shown: ClassVar[tuple[str, ...]] = ("id", "kind", "model", "status", "progress", "created_at")

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(repr=False)
class Deployment(Resource):
    """A version served under a name: its replicas, engine, upgrade mode, status, and where to call it."""

    id: str = ""
    name: str = ""
    workspace_id: str = ""
    model_id: str = ""
    model_name: str | None = None
    version: str = ""
    previous_version: str | None = None
    versions: list[str] = field(default_factory=list)  # the versions its replicas serve right now
    replicas: int = 1
    resources: dict[str, Any] = field(default_factory=dict)
    engine: str = "local"
    upgrade: dict[str, Any] = field(default_factory=dict)
    status: str = ""
    status_reason: str = ""
    endpoint: str | None = None
    replica_status: list[dict[str, Any]] = field(default_factory=list)
    created_by: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    shown: ClassVar[tuple[str, ...]] = ("name", "model_name", "version", "replicas", "engine", "status", "status_reason")


@dataclass(repr=False)
class DeploymentEvent(Resource):
    seq: int = 0
    at: datetime | None = None
    actor: str = ""
    kind: str = ""
    message: str = ""
    changes: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    shown: ClassVar[tuple[str, ...]] = ("at", "actor", "kind", "message", "reason")
