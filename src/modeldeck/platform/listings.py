"""The listings' hot path: a page of models or of a model's versions for a bearer API key, from compiled
queries on the raw DBAPI cursor, serialized once by orjson; no ORM, no FastAPI layers (and over SQLite
no thread hop).

As `fastpath` does for predict, it applies the service layer's rules through the same functions
(`effective_role`, `registry.access`, `registry.pick`, `registry.allows`) and the same statements
(`registry.models_statement`, `registry.versions_statement`, `pagination.keyset`), and decides only
"allowed, here is the page". Anything else (a token or a signature, a filter it does not take, a bad
cursor, a refusal, an ambiguity) returns None, and the request goes on to the FastAPI route, which gives
the precise answer. Who the caller is, and which model it means, is remembered while nothing it was read
from changed: on SQLite while `data_version` is unchanged (`fastpath.remember`), on PostgreSQL while the
access epoch the page statement reads with the page is the one the decision was read with (`epoch`). A
page asked again while nothing was committed is the one already answered (`_pages`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from orjson import Fragment
from sqlalchemy import Engine, Text, bindparam, cast, func, null, select, union_all
from starlette.types import Scope

from ..errors import DeckError
from . import epoch, fastpath, registry
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
    epoch: str | None = None  # PostgreSQL: the access epoch it was read at (`epoch`)


@functools.lru_cache(maxsize=8)
def _decision_queries(engine: Engine) -> tuple[fastpath.Query, fastpath.Query]:
    marked = (epoch.token() if engine.dialect.name == "postgresql" else null()).label("epoch")
    models = access_rows(marked, model=False)
    versions = access_rows(
        Model.id.label("model_id"), Model.model_name, Model.workspace_id.label("owner_id"), Model.accessibility,
        Grant.actions_text.label("granted"), marked, model=True,
    )  # fmt: skip
    return fastpath.Query(engine, models), fastpath.Query(engine, versions)


def _decided(engine: Engine, conn: Any, digest: str, ws_ref: str | None, model_ref: str | None) -> Decision | None:
    """The decision read now: the caller (and the model) of a plainly allowed listing, else None."""
    models, versions = _decision_queries(engine)
    params = {"digest": digest, "ws": ws_ref}
    if model_ref is None:
        rows = models.rows(params, conn)
        caller = caller_of(rows, ws_ref, "list") if len(rows) == 1 else None
        return None if caller is None else Decision(caller, epoch=rows[0].epoch)
    rows = versions.rows({**params, "model": model_ref}, conn)
    caller = caller_of(rows, ws_ref, "list")
    if caller is None:
        return None
    choices = [(row, *registry.access(caller.workspace_id, row.owner_id, row.accessibility, row.granted)) for row in rows]
    chosen = registry.pick(choices, model_ref, lambda c: c[0].model_id, lambda c: c[1])
    if chosen is None or not registry.allows(chosen[1], chosen[2], "list"):
        return None
    return Decision(caller, chosen[0].model_id, chosen[0].model_name, chosen[0].epoch)


@functools.lru_cache(maxsize=16)
def _page_query(engine: Engine, kind: str, resumed: bool, filtered: bool) -> fastpath.Query:
    """A page's statement, compiled once per listing and shape (first page or resumed, filtered or not).

    On PostgreSQL a last row follows the page's: its statement's snapshot and access epoch (the `_MARK`
    columns, None on the page's rows), so even a page that reads nothing tells them. The page reads
    nothing while its snapshot is `kept` (the one this very page is kept at: `_pages` holds what it would
    read; '' for none), which the database decides once, before any scan."""
    order = registry.MODEL_ORDER if kind == "models" else registry.VERSION_ORDER
    after = [bindparam(f"after{i}") for i in range(len(order))] if resumed else None
    if kind == "models":
        stmt = registry.models_statement(bindparam("ws"), after, bindparam("limit"))
    else:
        stmt = registry.versions_statement(bindparam("model"), bindparam("status") if filtered else None)
        stmt = keyset(stmt, order, after, bindparam("limit"), descending=True)
    if engine.dialect.name == "postgresql":
        page = stmt.where(_SNAPSHOT != bindparam("kept")).subquery("page")
        marked = union_all(
            select(page, null().label("snapshot"), null().label("epoch")),
            select(*(null().label(c.key) for c in page.c), _SNAPSHOT.label("snapshot"), epoch.token().label("epoch")),
        ).subquery("marked")
        by = [marked.c[c.key] for c in order]
        stmt = select(marked).order_by(*((c if kind == "models" else c.desc()).nulls_last() for c in by))
    return fastpath.Query(engine, stmt)


_MARK = 2  # PostgreSQL: the last row's last columns, its statement's snapshot and access epoch (`_page_query`)


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
    asked = ("listing", digest, ws_ref, model_ref)
    if platform.store.is_sqlite:  # while its data_version holds, a decision holds
        decision = fastpath.remember(platform, asked, lambda: _decided(engine, conn, digest, ws_ref, model_ref))
        planned = decision and _plan(platform, kind, params, decision)
        if planned is None:
            return None
        got, mark = None, fastpath.data_version(platform)
    else:
        read = _read_marked(platform, conn, kind, params, asked)
        if read is None:
            return None
        decision, planned, got, mark = read
    limit = params["limit"]

    def read() -> bytes | None:
        rows = got
        if rows is None:  # SQLite, or a page held back for a kept one that was dropped since
            rows = planned.query.tuples(planned.values, conn)
            if not platform.store.is_sqlite:
                rows, (_, now) = _unmarked(rows)
                if now != decision.epoch:
                    return None  # who may see what changed meanwhile: the route decides
        key_of = registry.model_key if kind == "models" else registry.version_key
        nxt = platform.cursors.encode(planned.scope_name, key_of(planned.query.row(*rows[limit - 1]))) if len(rows) > limit else None
        seen, make = (decision.caller.workspace_id, _model_item) if kind == "models" else (decision.model_name, _version_item)
        return dumps(serialize.page(_ITEMS.of(seen, rows[:limit], planned.query.row, make), nxt))

    answer, kept = _pages(engine).get(mark, planned.kept_as, read)
    if answer is not None:
        platform.metrics.pages[kept] += 1
    return answer


def _read_marked(platform: Any, conn: Any, kind: str, params: dict[str, Any],
                 asked: tuple[Any, ...]) -> tuple[Decision, _Plan, list[tuple[Any, ...]] | None, tuple[Any, ...]] | None:  # fmt: skip
    """PostgreSQL: (decision, plan, page rows, mark) for the request `asked`, or None (the route answers).

    The decision last read for the same request is kept while the access epoch the page statement reads
    is the one it was read at: then a page is one statement. Else the decision is read again (and the page
    with it). The page rows are None where the statement held them back for the kept page."""
    engine = platform.store.engine
    _, digest, ws_ref, model_ref = asked
    decisions = _decisions(engine)
    decision = decisions.get(asked)
    for fresh in (decision is None, True):
        if fresh:
            decision = _decided(engine, conn, digest, ws_ref, model_ref)
            if len(decisions) >= _DECISIONS_SIZE:
                decisions.clear()
            decisions[asked] = decision
        planned = decision and _plan(platform, kind, params, decision)
        if planned is None:
            return None
        kept = _pages(engine).mark_of(planned.kept_as)
        held = kept[0] if kept is not None and kept[1] == decision.epoch else ""  # (snapshot, epoch)
        rows, mark = _unmarked(planned.query.tuples({**planned.values, "kept": held}, conn))
        if mark[1] == decision.epoch:
            return decision, planned, None if mark[0] == held else rows, mark
    return None  # who may see what changed between the decision and the page


def _unmarked(rows: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    """A PostgreSQL page statement's page rows, and its mark (snapshot, epoch) from the row after them."""
    return rows[:-1], tuple(rows[-1][-_MARK:])


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

    def of(self, seen: str, raws: list[tuple[Any, ...]], row: Callable[..., Any],
           make: Callable[[str, Any], dict[str, Any]]) -> list[Fragment]:  # fmt: skip
        """The items of the driver's rows `raws` (named by `row`), each as `make(seen, row)` gives it."""
        kept = self._items
        items = [kept.get((seen, raw)) for raw in raws]
        if None in items:
            for i, raw in enumerate(raws):
                if items[i] is None:
                    if len(kept) >= self.size:
                        kept.clear()
                    items[i] = kept[(seen, raw)] = Fragment(dumps(make(seen, row(*raw))))
        return items  # type: ignore[return-value]


_ITEMS = _Items(8192)  # about 20 MB at most
_DECISIONS_SIZE = 4096  # PostgreSQL: decisions kept per database (`_decisions`), emptied when full


@functools.lru_cache(maxsize=8)
def _decisions(engine: Engine) -> dict[tuple[Any, ...], Decision | None]:
    """PostgreSQL: each request's last decision (`_read_marked`)."""
    return {}


@functools.lru_cache(maxsize=8)
def _pages(engine: Engine) -> fastpath.Kept:
    """Pages already answered, byte for byte what the query would give while the database is unchanged.
    The mark: SQLite's `data_version`, or on PostgreSQL the page statement's snapshot and access epoch.
    Two equal snapshots see the same committed rows whoever wrote them (another replica, SQL typed by
    hand), which a mark made of change events would not prove."""
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
