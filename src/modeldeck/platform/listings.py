"""The listings' hot path: a page of models or of a model's versions for a bearer API key, from compiled
queries on the raw DBAPI cursor, serialized once by orjson; no ORM, no FastAPI layers (and over SQLite
no thread hop).

As `fastpath` does for predict, it applies the service layer's rules through the same functions
(`effective_role`, `registry.access`, `registry.pick`, `registry.allows`) and the same statements
(`registry.models_statement`, `registry.versions_statement`, `pagination.keyset`), and decides only
"allowed, here is the page". Anything else (a token or a signature, a filter it does not take, a bad
cursor, a refusal, an ambiguity) returns None, and the request goes on to the FastAPI route, which gives
the precise answer. Who the caller is, and which model it means, is remembered while SQLite's
`data_version` is unchanged (`fastpath.remember`); on PostgreSQL every request asks, with its page in the
same round trip (`_decide`). A page asked again while nothing was committed is the one already answered
(`_pages`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from orjson import Fragment
from sqlalchemy import Engine, Text, bindparam, cast, func, null
from starlette.types import Scope

from ..errors import DeckError
from . import fastpath, registry
from .api import serialize
from .authz import WORKSPACE_HEADER, Caller, access_rows, bearer, caller_of
from .ids import TOKEN_PREFIX, key_digest
from .pagination import DEFAULT_LIMIT, MAX_LIMIT, keyset, resume_after
from .schema import Grant, Model
from .wirejson import dumps

_WORKSPACE = WORKSPACE_HEADER.lower().encode()
_SNAPSHOT = cast(func.pg_current_snapshot(), Text)
_TAKES = {"models": frozenset({"limit", "cursor"}), "versions": frozenset({"limit", "cursor", "approval_status"})}


class Decision(NamedTuple):
    caller: Caller
    model_id: str | None = None
    model_name: str | None = None
    snapshot: str | None = None  # PostgreSQL: the snapshot the decision was read in (`_pages`)


@functools.lru_cache(maxsize=8)
def _decision_queries(engine: Engine) -> tuple[fastpath.Query, fastpath.Query]:
    # on PostgreSQL the decision's own snapshot comes along: what proves a kept page still true (`_pages`)
    snapshot = (_SNAPSHOT if engine.dialect.name == "postgresql" else null()).label("snapshot")
    models = access_rows(snapshot, model=False)
    versions = access_rows(
        Model.id.label("model_id"), Model.model_name, Model.workspace_id.label("owner_id"), Model.accessibility,
        Grant.actions_text.label("granted"), snapshot, model=True,
    )  # fmt: skip
    return fastpath.Query(engine, models), fastpath.Query(engine, versions)


def _decision_run(engine: Engine, digest: str, ws_ref: str | None,
                  model_ref: str | None) -> tuple[fastpath.Query, dict[str, Any]]:  # fmt: skip
    """The decision's statement and parameters."""
    models, versions = _decision_queries(engine)
    params = {"digest": digest, "ws": ws_ref}
    return (models, params) if model_ref is None else (versions, {**params, "model": model_ref})


def _decision_of(rows: list[Any], ws_ref: str | None, model_ref: str | None) -> Decision | None:
    """The decision the decision statement's rows make: the caller (and the model) of a plainly allowed
    listing, else None."""
    if model_ref is None:
        caller = caller_of(rows, ws_ref, "list") if len(rows) == 1 else None
        return None if caller is None else Decision(caller, snapshot=rows[0].snapshot)
    caller = caller_of(rows, ws_ref, "list")
    if caller is None:
        return None
    choices = [(row, *registry.access(caller.workspace_id, row.owner_id, row.accessibility, row.granted)) for row in rows]
    chosen = registry.pick(choices, model_ref, lambda c: c[0].model_id, lambda c: c[1])
    if chosen is None or not registry.allows(chosen[1], chosen[2], "list"):
        return None
    return Decision(caller, chosen[0].model_id, chosen[0].model_name, chosen[0].snapshot)


@functools.lru_cache(maxsize=16)
def _page_query(engine: Engine, kind: str, resumed: bool, filtered: bool) -> fastpath.Query:
    """A page's statement, compiled once per listing and shape (first page or resumed, filtered or not).
    On PostgreSQL it reads nothing while its snapshot is `kept` (the kept pages' mark: `_page` already
    holds what it would read; '' for none), which the database decides once, before any scan."""
    order = registry.MODEL_ORDER if kind == "models" else registry.VERSION_ORDER
    after = [bindparam(f"after{i}") for i in range(len(order))] if resumed else None
    if kind == "models":
        stmt = registry.models_statement(bindparam("ws"), after, bindparam("limit"))
    else:
        stmt = registry.versions_statement(bindparam("model"), bindparam("status") if filtered else None)
        stmt = keyset(stmt, order, after, bindparam("limit"), descending=True)
    if engine.dialect.name == "postgresql":
        stmt = stmt.where(_SNAPSHOT != bindparam("kept"))
    return fastpath.Query(engine, stmt)


async def answer(platform: Any, scope: Scope, model_ref: str | None) -> bytes | None:
    """`page`, off the event loop over PostgreSQL (`fastpath.off_loop`)."""
    return await fastpath.off_loop(platform, page, platform, scope, model_ref)


def page(platform: Any, scope: Scope, model_ref: str | None) -> bytes | None:
    """GET /api/v1/models (`model_ref` None) or /api/v1/models/{model_ref}/versions: the JSON page's bytes,
    or None when the service layer must answer."""
    key = bearer(fastpath.header(scope, b"authorization"))
    if not key or key.startswith(TOKEN_PREFIX):
        return None
    kind = "models" if model_ref is None else "versions"
    params = _params(scope["query_string"], _TAKES[kind])
    if params is None:
        return None
    ws_ref = fastpath.header(scope, _WORKSPACE) or None
    try:
        with fastpath.connection(platform.store.engine) as conn:  # one for the decision and the page
            return _page(platform, conn, kind, params, key_digest(key), ws_ref, model_ref)
    except platform.store.engine.dialect.loaded_dbapi.OperationalError:
        return None  # a connection that died: the route answers, on a connection it checks first


class _Plan(NamedTuple):
    """A page's statement and what reading it takes, for one decision and one request."""

    query: fastpath.Query
    values: dict[str, Any]
    scope_name: str
    kept_as: tuple[Any, ...]  # the page's key among the kept pages: (workspace, model, filter, cursor, limit)

    def serves(self, decision: Decision) -> bool:
        """Whether this is the plan `decision` makes of the same request (it plans from these two only)."""
        return self.kept_as[:2] == (decision.caller.workspace_id, decision.model_id)


def _plan(platform: Any, kind: str, params: dict[str, Any], decision: Decision) -> _Plan | None:
    """None for a bad cursor or filter: the route answers it."""
    ws_id = decision.caller.workspace_id
    try:
        status = registry.checked_status(params.get("approval_status"))
        if kind == "models":
            scope_name, values = registry.models_scope(ws_id), {"ws": ws_id}
        else:
            scope_name, values = registry.versions_scope(ws_id, decision.model_id, status), {"model": decision.model_id}
        order = registry.MODEL_ORDER if kind == "models" else registry.VERSION_ORDER
        after = resume_after(platform.cursors, scope_name, params.get("cursor"), len(order))
    except DeckError:
        return None
    values.update({f"after{i}": v for i, v in enumerate(after or ())}, limit=params["limit"] + 1, status=status,
                  kept="")  # fmt: skip
    query = _page_query(platform.store.engine, kind, after is not None, status is not None)
    kept_as = (ws_id, decision.model_id, status, params.get("cursor"), params["limit"])
    return _Plan(query, values, scope_name, kept_as)


def _page(platform: Any, conn: Any, kind: str, params: dict[str, Any], digest: str, ws_ref: str | None,
          model_ref: str | None) -> bytes | None:  # fmt: skip
    engine = platform.store.engine
    decision, guessed, rows = _decide(platform, conn, kind, params, ("listing", digest, ws_ref, model_ref))
    if decision is None:
        return None
    if guessed is not None and guessed.serves(decision):
        planned = guessed  # the page read with the decision is the decided one
    else:
        planned, rows = _plan(platform, kind, params, decision), None
        if planned is None:
            return None
    limit = params["limit"]

    def read() -> bytes:
        query = planned.query
        got = rows or query.tuples(planned.values, conn)  # none: maybe held back for a kept page (`_page_query`)
        key_of = registry.model_key if kind == "models" else registry.version_key
        nxt = platform.cursors.encode(planned.scope_name, key_of(query.row(*got[limit - 1]))) if len(got) > limit else None
        seen, make = (decision.caller.workspace_id, _model_item) if kind == "models" else (decision.model_name, _version_item)
        return dumps(serialize.page([_ITEMS.get(seen, raw, query.row, make) for raw in got[:limit]], nxt))

    mark = decision.snapshot or fastpath.data_version(platform)
    answer, kept = _pages(engine).get(mark, planned.kept_as, read)
    platform.metrics.pages[kept] += 1
    return answer


def _decide(platform: Any, conn: Any, kind: str, params: dict[str, Any],
            asked: tuple[Any, ...]) -> tuple[Decision | None, _Plan | None, list[tuple[Any, ...]] | None]:  # fmt: skip
    """The decision for the request `asked` (None: the route answers), and on PostgreSQL a page read in
    the same round trip (with the plan it was read by): the page the same request was last decided for,
    unless the database is as it was when the kept pages were read. Nothing cheap proves a decision still
    true there, so it is read with every page; each round trip more wakes the database's process and this
    one once more, which on a loaded machine is the longest wait of a page."""
    engine = platform.store.engine
    _, digest, ws_ref, model_ref = asked
    deciding, values = _decision_run(engine, digest, ws_ref, model_ref)
    if platform.store.is_sqlite:  # while its data_version holds, a decision holds
        decision = fastpath.remember(
            platform, asked, lambda: _decision_of(deciding.rows(values, conn), ws_ref, model_ref)
        )
        return decision, None, None
    last = _LAST.get(asked)
    guessed = last and _plan(platform, kind, params, last)
    page = None
    if guessed:
        unless_kept = {**guessed.values, "kept": _pages(engine).mark or ""}
        decided, page = fastpath.pipelined(conn, (deciding, values), (guessed.query, unless_kept))
        decision = _decision_of([deciding.row(*row) for row in decided], ws_ref, model_ref)
    else:
        decision = _decision_of(deciding.rows(values, conn), ws_ref, model_ref)
    if len(_LAST) >= _LAST_SIZE:
        _LAST.clear()
    _LAST[asked] = decision
    return decision, guessed, page


def _model_item(ws_id: str, row: Any) -> dict[str, Any]:
    return serialize.model(registry.model_views(ws_id, [row])[0])


def _version_item(model_name: str, row: Any) -> dict[str, Any]:
    return serialize.version(row, model_name)


class _Items:
    """Items already serialized, by everything they are made of: the row as the driver read it (every
    column the item shows) and what else goes in (the versions' model name; for models, the workspace whose
    access they show). So a hit is the item the row would give, whatever changed in the database meanwhile;
    a changed row is another key. Turning a row into its JSON was half a page's CPU (most of it building the
    dict orjson then writes); a hit costs a tenth of that, a hash of the row. Bounded: emptied when full."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[tuple[Any, ...], Fragment] = {}

    def get(self, seen: str, raw: tuple[Any, ...], row: Callable[..., Any],
            make: Callable[[str, Any], dict[str, Any]]) -> Fragment:  # fmt: skip
        """The item of the driver's row `raw` (named by `row`) as `make(seen, row)` gives it."""
        key = (seen, raw)
        item = self._items.get(key)
        if item is None:
            if len(self._items) >= self.size:
                self._items.clear()
            item = self._items[key] = Fragment(dumps(make(seen, row(*raw))))
        return item


_ITEMS = _Items(8192)  # about 20 MB at most
_LAST: dict[tuple[Any, ...], Decision | None] = {}  # PostgreSQL: the decision each request last had (`_decide`)
_LAST_SIZE = 4096  # emptied when full


@functools.lru_cache(maxsize=8)
def _pages(engine: Engine) -> fastpath.Kept:
    """Pages already answered, byte for byte what the query would give while the database is unchanged.
    The mark: SQLite's `data_version`, or on PostgreSQL the snapshot the decision was read in. Two equal
    snapshots see the same committed rows whoever wrote them (another replica, SQL typed by hand), which
    a mark made of change events would not prove."""
    return fastpath.Kept(32 << 20, len)


def _params(query_string: bytes, takes: frozenset[str]) -> dict[str, Any] | None:
    """The query parameters, if each is one the lane takes, given once, not empty; `limit` an integer in
    range (the default page size when absent)."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    params = dict(pairs)
    if len(params) != len(pairs) or not set(params) <= takes or not all(params.values()):
        return None
    limit = params.get("limit", str(DEFAULT_LIMIT))
    if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_LIMIT):
        return None
    params["limit"] = int(limit)
    return params
