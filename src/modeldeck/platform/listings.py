"""The listings' hot path: a page of models or of a model's versions for a bearer API key, from compiled
queries on the raw DBAPI cursor, serialized once by orjson; no ORM, no FastAPI layers (and over SQLite
no thread hop).

As `fastpath` does for predict, it applies the service layer's rules through the same functions
(`effective_role`, `registry.access`, `registry.pick`, `registry.allows`) and the same statements
(`registry.models_statement`, `registry.versions_statement`, `pagination.keyset`), and decides only
"allowed, here is the page". Anything else (a token or a signature, a filter it does not take, a bad
cursor, a refusal, an ambiguity) returns None, and the request goes on to the FastAPI route, which gives
the precise answer. Who the caller is, and which model it means, is remembered while SQLite's
`data_version` is unchanged (`fastpath.remember`); on PostgreSQL every request asks. A page asked again
while nothing was committed is the one already answered (`_pages`).
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
_TAKES = {"models": frozenset({"limit", "cursor"}), "versions": frozenset({"limit", "cursor", "approval_status"})}


class Decision(NamedTuple):
    caller: Caller
    model_id: str | None = None
    model_name: str | None = None
    snapshot: str | None = None  # PostgreSQL: the snapshot the decision was read in (`_pages`)


@functools.lru_cache(maxsize=8)
def _decision_queries(engine: Engine) -> tuple[fastpath.Query, fastpath.Query]:
    # on PostgreSQL the decision's own snapshot comes along: what proves a kept page still true (`_pages`)
    snapshot = cast(func.pg_current_snapshot(), Text) if engine.dialect.name == "postgresql" else null()
    snapshot = snapshot.label("snapshot")
    models = access_rows(snapshot, model=False)
    versions = access_rows(
        Model.id.label("model_id"), Model.model_name, Model.workspace_id.label("owner_id"), Model.accessibility,
        Grant.actions_text.label("granted"), snapshot, model=True,
    )  # fmt: skip
    return fastpath.Query(engine, models), fastpath.Query(engine, versions)


def _decide(conn: Any, engine: Engine, digest: str, ws_ref: str | None, model_ref: str | None) -> Decision | None:
    models, versions = _decision_queries(engine)
    params = {"digest": digest, "ws": ws_ref}
    if model_ref is None:
        rows = models.rows(params, conn)
        caller = caller_of(rows, ws_ref, "list") if len(rows) == 1 else None
        return None if caller is None else Decision(caller, snapshot=rows[0].snapshot)
    rows = versions.rows({**params, "model": model_ref}, conn)
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
    """A page's statement, compiled once per listing and shape (first page or resumed, filtered or not)."""
    order = registry.MODEL_ORDER if kind == "models" else registry.VERSION_ORDER
    after = [bindparam(f"after{i}") for i in range(len(order))] if resumed else None
    if kind == "models":
        return fastpath.Query(engine, registry.models_statement(bindparam("ws"), after, bindparam("limit")))
    stmt = registry.versions_statement(bindparam("model"), bindparam("status") if filtered else None)
    return fastpath.Query(engine, keyset(stmt, order, after, bindparam("limit"), descending=True))


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


def _page(platform: Any, conn: Any, kind: str, params: dict[str, Any], digest: str, ws_ref: str | None,
          model_ref: str | None) -> bytes | None:  # fmt: skip
    engine = platform.store.engine
    decision = fastpath.remember(
        platform, ("listing", digest, ws_ref, model_ref), lambda: _decide(conn, engine, digest, ws_ref, model_ref)
    )
    if decision is None:
        return None
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
        return None  # a bad cursor or filter: the route answers it
    limit = params["limit"]
    values.update({f"after{i}": v for i, v in enumerate(after or ())}, limit=limit + 1, status=status)

    def read() -> bytes:
        query = _page_query(engine, kind, after is not None, status is not None)
        rows = query.tuples(values, conn)
        key_of = registry.model_key if kind == "models" else registry.version_key
        nxt = platform.cursors.encode(scope_name, key_of(query.row(*rows[limit - 1]))) if len(rows) > limit else None
        seen, make = (ws_id, _model_item) if kind == "models" else (decision.model_name, _version_item)
        return dumps(serialize.page([_ITEMS.get(seen, raw, query.row, make) for raw in rows[:limit]], nxt))

    mark = decision.snapshot or fastpath.data_version(platform)
    answer, kept = _pages(engine).get(mark, (ws_id, decision.model_id, status, params.get("cursor"), limit), read)
    platform.metrics.pages[kept] += 1
    return answer


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
