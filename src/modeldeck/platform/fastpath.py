"""Predict's hot path: one query to see that a request is plainly allowed, no ORM, no FastAPI layers.

It applies the same rules as the service layer, through the same functions (`effective_role`,
`registry.access`, `registry.pick`, `registry.allows`), and decides only "allowed, here is the target".
Anything else (a refusal, an ambiguity, a missing row) returns None, and the caller takes the service
layer's road, which raises the precise error with its hint. So the fast path can only ever be a shortcut
to the answer the full path would give.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
import threading
from collections import namedtuple
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from sqlalchemy import Engine, Select, and_, bindparam, create_engine, event
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from . import inference, registry
from .authn import Authentication, Presented
from .authz import WORKSPACE_HEADER, Principal, access_rows, authenticate, bearer, caller_of, enter
from .ids import key_digest
from .inference import Target
from .wirejson import parse_json
from .schema import Grant, Model, ModelVersion

INLINE_BYTES = 4 << 20
HOT_THREADS = 4  # the hot paths' threads for PostgreSQL reads (`off_loop`), and their kept connections
_WORKSPACE = WORKSPACE_HEADER.lower().encode()


def _statement(latest: bool) -> Select[Any]:
    # the newest usable version: the one the model's row names (latest.py), as registry.get_version picks it
    version_match = ModelVersion.version_name == (Model.latest_version if latest else bindparam("version"))
    return access_rows(
        Model.id.label("model_id"), Model.model_name, Model.workspace_id, Model.accessibility,
        Grant.actions_text.label("granted"), ModelVersion.version_name, ModelVersion.artifact_digest,
        ModelVersion.format_type, ModelVersion.inference_spec, model=True,
    ).join(ModelVersion, and_(ModelVersion.model_id == Model.id, version_match))  # fmt: skip


class Query:
    """A statement compiled once for the engine's dialect and run on a raw DBAPI cursor.

    SQLAlchemy's execution layer costs about four times the query itself here (330 against 80
    microseconds on SQLite), which is most of a small model's predict or of a listing's page; the SQL is
    still SQLAlchemy's. Rows come as the driver gives them (JSON and timestamps as text on SQLite).

    On PostgreSQL the statement is compiled with `$n` placeholders for psycopg's raw cursors, which send
    it as it is: a cursor of psycopg's own turns each `%(name)s` into `$n` on every execution, from a cache
    that takes no statement over 4 KB (a models page's: 0.16 ms a page, a third of its SQL's time).
    """

    def __init__(self, engine: Engine, stmt: Select[Any]) -> None:
        self.engine = engine
        self._raw_cursor: Any = None
        dialect = engine.dialect
        if dialect.name == "postgresql":
            from psycopg import RawCursor

            self._raw_cursor, dialect = RawCursor, type(dialect)(paramstyle="numeric_dollar")
        self.compiled = stmt.compile(dialect=dialect)
        self.row = namedtuple("Row", [c.key for c in stmt.selected_columns])  # type: ignore[misc]

    def rows(self, params: dict[str, Any], conn: Any = None) -> list[Any]:
        """The rows, on `conn` (from `connection`) or on a connection of their own (tried twice: a pooled
        PostgreSQL connection may have died since it was last used)."""
        if conn is None:
            for attempt in (1, 2):
                try:
                    with connection(self.engine) as conn:
                        return self.rows(params, conn)
                except self.engine.dialect.loaded_dbapi.OperationalError:
                    if attempt == 2:
                        raise
        return [self.row(*r) for r in self.tuples(params, conn)]

    def tuples(self, params: dict[str, Any], conn: Any) -> list[tuple[Any, ...]]:
        """The rows on `conn` as the driver's plain tuples (`row(*values)` names them)."""
        cursor = conn.cursor() if self._raw_cursor is None else self._raw_cursor(conn.driver_connection)
        cursor.execute(self.compiled.string, self.args(params))
        return cursor.fetchall()

    def args(self, params: dict[str, Any]) -> Any:
        """The driver's parameters for `params` (the statement's own constants filled in)."""
        values = {**self.compiled.params, **params}
        order = self.compiled.positiontup
        return [values[name] for name in order] if order else values


@contextlib.contextmanager
def connection(engine: Engine) -> Iterator[Any]:
    """A driver connection for the hot paths' plain reads. On PostgreSQL it comes from a small pool of
    autocommit connections, so each read is one round trip: the store's pool would ping the server before
    lending a connection and roll back when it returns (three round trips for one read). A connection
    found dead is dropped from the pool (the error is raised: callers retry or hand over to the routes)."""
    conn = _hot_engine(engine).raw_connection()
    try:
        yield conn
    except engine.dialect.loaded_dbapi.OperationalError:
        conn.invalidate()
        raise
    finally:
        conn.close()


@functools.lru_cache(maxsize=8)
def _hot_engine(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        return engine  # SQLite: a connection is a file handle, reads take no round trip
    # Generic plans always: psycopg prepares a statement run five times, and PostgreSQL then keeps planning
    # each execution anew while a custom plan's estimate beats the generic one's (a models page: 1 to 2 ms of
    # planning per request, more than executing it). The hot statements are written so their generic plan
    # holds for any value (registry: constants in the SQL, a versions page's model as a range).
    # As many kept connections as there are hot threads (`off_loop`): a pool smaller than its users closes
    # each overflow connection it gets back, so under load every read past the second opened a connection
    # (a PostgreSQL backend forked, authenticated, its statements prepared again) and closed it after.
    hot = create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=HOT_THREADS, max_overflow=4,
                        pool_reset_on_return=None,
                        connect_args={"options": "-c plan_cache_mode=force_generic_plan"})  # fmt: skip
    event.listen(engine, "engine_disposed", lambda _: hot.dispose())  # the store closes: so do these
    return hot


@functools.lru_cache(maxsize=8)
def _queries(engine: Engine) -> tuple[Query, Query]:
    return Query(engine, _statement(latest=True)), Query(engine, _statement(latest=False))


class Kept:
    """Answers computed while the database was at one mark, reused until the mark moves. The mark is read
    before the answer (SQLite's `data_version`, a PostgreSQL snapshot), so while it stays nothing was
    committed that the answer could miss; a later commit may show in it, never be missing from it. Only
    the current mark's answers are kept, to `budget` in the units of `size`; a None answer is not kept."""

    def __init__(self, budget: int, size: Callable[[Any], int] = lambda _: 1) -> None:
        self.budget, self.size = budget, size
        self._lock = threading.Lock()
        self._mark: object = None
        self._kept: dict[tuple[Any, ...], Any] = {}
        self._used = 0

    def get(self, mark: object, key: tuple[Any, ...], compute: Callable[[], Any]) -> tuple[Any, bool]:
        """`compute()`'s answer for `key` at `mark` (None: nothing proves it), and whether it was kept."""
        if mark is None:
            return compute(), False
        with self._lock:
            if mark != self._mark:
                self._drop(mark)
            hit = self._kept.get(key)
        if hit is not None:
            return hit, True
        answer = compute()
        if answer is not None:
            with self._lock:
                if mark == self._mark:  # else a newer mark was seen meanwhile: this answer is not its
                    if self._used + self.size(answer) > self.budget:
                        self._drop(mark)
                    self._kept[key] = answer
                    self._used += self.size(answer)
        return answer, False

    def mark_of(self, key: tuple[Any, ...]) -> object:
        """The mark `key`'s answer is kept at (None: it is not kept)."""
        with self._lock:
            return self._mark if key in self._kept else None

    def _drop(self, mark: object) -> None:
        self._kept.clear()
        self._used = 0
        self._mark = mark


class _Decisions:
    """Targets already located, reused while the database is unchanged (on SQLite).

    SQLite's `PRAGMA data_version` changes whenever another connection commits, so one read of it (a few
    microseconds, on a connection that never writes) proves that no key, membership, grant or version has
    changed since a target was cached. PostgreSQL has no such cheap proof: there every request queries.
    """

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()  # for the one watch cursor
        self._kept = Kept(4096)
        self._watch = None
        if engine.dialect.name == "sqlite" and engine.url.database:
            self._watch = sqlite3.connect(engine.url.database, check_same_thread=False).cursor()  # one, reused

    def version(self) -> int | None:
        """SQLite's data_version now; None on PostgreSQL."""
        if self._watch is None:
            return None
        with self._lock:
            return self._watch.execute("PRAGMA data_version").fetchone()[0]

    def get(self, key: tuple[Any, ...], compute: Callable[[], Target | None]) -> Target | None:
        return self._kept.get(self.version(), key, compute)[0]


@functools.lru_cache(maxsize=8)
def _decisions(engine: Engine) -> _Decisions:
    return _Decisions(engine)


def locate(platform: Any, key: str | None, ws_ref: str | None, model_ref: str, version: str | None) -> Target | None:
    """The target of a plainly allowed predict, or None: then the service layer decides."""
    if not key:
        return None
    args = (key_digest(key), ws_ref or None, model_ref, version)
    return _decisions(platform.store.engine).get(args, lambda: _query(platform, *args))


def _query(platform: Any, digest: str, ws_ref: str | None, model_ref: str, version: str | None) -> Target | None:
    params = {"digest": digest, "ws": ws_ref, "model": model_ref}
    if version is not None:
        params["version"] = version
    latest, named = _queries(platform.store.engine)
    rows = (named if version is not None else latest).rows(params)
    caller = caller_of(rows, ws_ref, "invoke")
    if caller is None:
        return None
    ws_id = caller.workspace_id
    choices = [(row, *registry.access(ws_id, row.workspace_id, row.accessibility, row.granted)) for row in rows]
    chosen = registry.pick(choices, model_ref, lambda c: c[0].model_id, lambda c: c[1])
    if chosen is None or not registry.allows(chosen[1], chosen[2], "inference"):
        return None
    row = chosen[0]
    if row.artifact_digest is None:
        return None
    spec = json.loads(row.inference_spec) if isinstance(row.inference_spec, str) else row.inference_spec
    return Target(
        row.model_id, row.model_name, row.version_name, row.workspace_id, row.artifact_digest, row.format_type or "",
        inference.entry_of(spec),
    )  # fmt: skip


_OFF_LOOP = ThreadPoolExecutor(max_workers=HOT_THREADS, thread_name_prefix="modeldeck-hot")  # started when used


async def off_loop(platform: Any, read: Callable[..., Any], *args: Any) -> Any:
    """`read(*args)`, a hot path's database read: on the event loop over SQLite (local reads of
    microseconds), on a thread of the hot paths' own over PostgreSQL, where the loop would otherwise wait
    out each round trip while every other request waited for it (under 50 clients on two replicas, a
    predict's decision or a listing's page held the loop for milliseconds at a time, and the listings' tail
    with it). Not the shared worker threads: registrations queued on database locks may hold all of them.
    A request answered alone reads on the loop too: nobody waits for it, and the hop there and back was a
    quarter of a page's time (bench_list_versions over PostgreSQL: 2.5 against 1.8 ms)."""
    if platform.store.is_sqlite or platform.metrics.in_flight <= 1:
        return read(*args)
    return await asyncio.get_running_loop().run_in_executor(_OFF_LOOP, read, *args)


def parse(raw: bytes) -> dict[str, Any]:
    """A predict request's body, checked."""
    return inference.check_body(parse_json(raw))


def _full(platform: Any, identify: Callable[[Session], Principal], ws_ref: str | None, model: str,
          version: str | None, target: Target | None, body: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    if target is None:  # not plainly allowed: the service layer finds out why, or that it is allowed after all
        with platform.store.read() as db:
            caller = enter(db, identify(db), ws_ref)
        target = inference.locate(platform, caller, model, version)
    return inference.run(platform, target, body)


def json_bytes(result: dict[str, Any]) -> bytes:
    """orjson: a fifteenth of `json.dumps`'s time on outputs, whose floats are most of a small answer."""
    return orjson.dumps(result)


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a header, as Starlette's `Headers.get` gives it, without building `Headers`."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def predict(platform: Any, authentication: Authentication, scope: Scope, raw: bytes) -> bytes:
    """POST /api/v1/models/{model}/predict and /api/v1/models/{model}/versions/{version}/predict: the JSON
    answer's bytes. `scope["path_params"]` names the model (and version); errors raise `DeckError`.

    A small model that is already loaded runs right here on the event loop: for it a hop to a worker thread
    costs more than the inference. Everything else (first loads, big models, refusals) runs in a worker.
    Credentials other than a bearer key (a signature) are checked by the app's `authentication`, and
    take the service layer's road.
    """
    body = parse(raw)
    authorization, ws_ref = header(scope, b"authorization"), header(scope, _WORKSPACE)
    model, version = scope["path_params"]["model"], scope["path_params"].get("version")
    key = bearer(authorization)
    if key is None and authorization:
        shown = Presented.of(scope, raw)
        identify = functools.partial(authentication.principal, platform, presented=shown)
        return json_bytes(await run_in_threadpool(_full, platform, identify, ws_ref, model, version, None, body))
    target = await off_loop(platform, locate, platform, key, ws_ref, model, version)
    if target is not None:
        runtime = platform.runtimes.peek(inference.runtime_key(target, body))
        if runtime is not None and runtime.nbytes <= INLINE_BYTES:
            return json_bytes(inference.run(platform, target, body))
    identify = functools.partial(authenticate, key=key)
    return json_bytes(await run_in_threadpool(_full, platform, identify, ws_ref, model, version, target, body))


def remember(platform: Any, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    """`compute()` (the full road of another lane, e.g. chat), kept for `recall` while the database is unchanged."""
    return _decisions(platform.store.engine).get(key, compute)


def recall(platform: Any, key: tuple[Any, ...]) -> Any | None:
    """What `remember` kept for `key`, if nothing was committed since; else None (always, on PostgreSQL)."""
    return _decisions(platform.store.engine).get(key, lambda: None)


def data_version(platform: Any) -> int | None:
    """A number that moves whenever anything is committed to the database (SQLite's `data_version`); None
    on PostgreSQL, where a request's own query reads its snapshot instead (`listings`)."""
    return _decisions(platform.store.engine).version()
