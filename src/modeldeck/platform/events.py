"""Change events: what changed in a workspace, published in the writing transaction, streamed to subscribers.

The durable half is the `events` table (a sequence that never goes back, pruned by age and count), so any
process or replica on the same store serves every event and a client resumes after a gap with
`Last-Event-ID`. The wake-up half tells a server's subscribers at once that the sequence moved: on SQLite a
thread watches `PRAGMA data_version` (a counter SQLite bumps when another connection commits: about 10 us
a look from Python, 20 looks a second; bench/bench_events.py), on PostgreSQL `LISTEN`/`NOTIFY`. A
subscriber sees only the events of workspaces its account may enter (`Audience`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from .authz import Principal, member_workspaces
from .db import Store
from .ids import utcnow
from .schema import Event, Grant

log = logging.getLogger(__name__)

CHANNEL = "modeldeck_events"
ORDER_LOCK = 5317  # PostgreSQL advisory lock: event-writing transactions commit in the order of their seq
LOOK_EVERY = 0.05  # seconds between two looks at SQLite's data_version
KEEPALIVE = 15.0  # seconds of silence after which a stream sends a comment (and learns if its client left)
KEEP_FOR = timedelta(hours=24)
KEEP_ROWS = 100_000
PRUNE_EVERY = 300.0
BATCH = 500


def publish(
    db: Session, kind: str, op: str, workspace: str | None, object_id: str, *,
    model: str | None = None, audience: str | None = None, account: str | None = None,
) -> None:  # fmt: skip
    """Record a change in the caller's transaction: it becomes visible to subscribers when that commits.

    The row is written as the transaction commits (`_write_pending`), not here: on PostgreSQL event
    writers take one lock so that commit order is sequence order, and held from here it covered the rest of
    the transaction; under load each round trip in it waited for a busy CPU, and every registration of every
    replica queued behind the one holding it (2 replicas, 50 clients: 25 registrations a second)."""
    row = {"at": utcnow(), "kind": kind, "op": op, "workspace_id": workspace, "object_id": object_id,
           "model_id": model, "audience": audience, "account_id": account}  # fmt: skip
    db.info.setdefault(_PENDING, []).append(row)


_PENDING = "modeldeck.events"
_EVENTS = Event.__table__
_WRITTEN = [c for c in _EVENTS.c if c.key != "seq"]  # what `publish` gives; the sequence draws seq
# PostgreSQL: the lock, the wake-up and the rows in one statement, so the lock is held for it and the
# commit alone; each row's seq is drawn after the lock (the one-row FROM is read first).
_LOCKED = select(func.pg_advisory_xact_lock(ORDER_LOCK), func.pg_notify(CHANNEL, "")).subquery("locked")
_ORDERED_INSERT = insert(_EVENTS).from_select(
    _WRITTEN, select(*(bindparam(c.key, type_=c.type) for c in _WRITTEN)).select_from(_LOCKED)
)
_IMMEDIATE = text("SET CONSTRAINTS ALL IMMEDIATE")


@sa_event.listens_for(Session, "before_commit")
def _write_pending(db: Session) -> None:
    rows = db.info.pop(_PENDING, None)
    if not rows:
        return
    if db.get_bind().dialect.name != "postgresql":
        db.execute(insert(_EVENTS), rows)
        return
    # The transaction's deferred triggers (a model's latest version, `latest`) run before the lock: what
    # they lock is then taken in the order of writers that lock it directly, then this lock.
    db.execute(_IMMEDIATE)
    db.execute(_ORDERED_INSERT, rows)


@sa_event.listens_for(Session, "after_transaction_end")
def _drop_pending(db: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the transaction ended without a commit (a commit took them already)
        db.info.pop(_PENDING, None)


def payload(row: Event) -> dict[str, Any]:
    out = {"seq": row.seq, "kind": row.kind, "op": row.op, "workspace": row.workspace_id, "id": row.object_id}
    if row.model_id:
        out["model"] = row.model_id
    return out


class Audience:
    """What one account may see, re-read whenever workspaces or memberships change: a new member starts
    seeing a workspace's events with the event that added it, a removed one stops after the removal."""

    def __init__(self, store: Store, principal: Principal) -> None:
        self.store, self.principal = store, principal
        self.workspaces: set[str] = set()
        self.granted: set[str] = set()  # models granted to those workspaces: their changes show there too
        self.refresh()

    def refresh(self) -> None:
        with self.store.read() as db:
            self.workspaces = {w.id for w, _ in member_workspaces(db, self.principal)}
            granted = select(Grant.model_id).where(Grant.workspace_id.in_(self.workspaces))
            self.granted = set(db.scalars(granted))

    def sees(self, row: Event) -> bool:
        principal = self.principal
        if principal.is_main:
            return True
        if row.account_id == principal.account_id:
            return True
        if row.audience == "*":
            return bool(self.workspaces)
        return row.workspace_id in self.workspaces or row.audience in self.workspaces or row.model_id in self.granted

    def filter(self, rows: list[Event]) -> list[Event]:
        """The rows this key may see; a row that changes who sees what is judged before and after it."""
        shown = []
        for row in rows:
            before = self.sees(row)
            if row.kind in ("workspace", "member", "grant") or (row.kind, row.op) == ("model", "deleted"):
                self.refresh()
            if before or self.sees(row):
                shown.append(row)
        return shown


class EventBus:
    """One per platform: the head of the sequence, kept current by a watcher thread started on first use."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.head = 0
        self.closing = False  # the server is shutting down: streams end, so it need not cancel them
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def subscribers(self) -> int:
        return len(self._waiters)

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self.head = self.read_head()
                watch = self._watch_sqlite if self.store.is_sqlite else self._watch_postgres
                self._thread = threading.Thread(target=self._run, args=(watch,), name="modeldeck-events", daemon=True)
                self._thread.start()

    def end_streams(self) -> None:
        """Let every open stream finish (the server is stopping); their clients reconnect elsewhere."""
        self.closing = True
        self._wake()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # ---- reading the table -------------------------------------------------------------------------

    def read_head(self) -> int:
        with self.store.read() as db:
            return db.scalar(select(func.max(Event.seq))) or 0

    def oldest(self) -> int | None:
        with self.store.read() as db:
            return db.scalar(select(func.min(Event.seq)))

    def after(self, seq: int) -> list[Event]:
        with self.store.read() as db:
            return list(db.scalars(select(Event).where(Event.seq > seq).order_by(Event.seq).limit(BATCH)))

    def prune(self, keep_for: timedelta = KEEP_FOR, keep_rows: int = KEEP_ROWS) -> None:
        """Forget events older than `keep_for` and all but the newest `keep_rows`."""
        with self.store.write() as db:
            head = db.scalar(select(func.max(Event.seq))) or 0
            db.execute(delete(Event).where((Event.at < utcnow() - keep_for) | (Event.seq <= head - keep_rows)))

    # ---- waiting -------------------------------------------------------------------------------------

    async def wait(self, seq: int, timeout: float) -> None:
        """Until the head passes `seq`, or `timeout` seconds."""
        if self.head > seq or self.closing:
            return
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        self._waiters.add(waiter)
        try:
            if self.head <= seq:
                await asyncio.wait_for(waiter[1].wait(), timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)

    def _moved(self) -> None:
        head = self.read_head()
        if head != self.head:
            self.head = head
            self._wake()

    def _wake(self) -> None:
        for loop, event in list(self._waiters):
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed
                self._waiters.discard((loop, event))

    # ---- the watcher ---------------------------------------------------------------------------------

    def _run(self, watch: Callable[[], None]) -> None:
        while not self._stop.is_set():
            try:
                watch()
            except Exception:  # a store hiccup: look again shortly, never end the stream silently
                log.warning("the event watcher failed; retrying", exc_info=True)
                self._stop.wait(1.0)

    def _watch_sqlite(self) -> None:
        path = self.store.url.split("sqlite:///", 1)[1]
        conn = sqlite3.connect(path, check_same_thread=False)
        try:
            version, pruned = None, time.monotonic()
            while not self._stop.wait(LOOK_EVERY):
                now = conn.execute("PRAGMA data_version").fetchone()[0]
                if now != version:
                    version = now
                    self._moved()
                if time.monotonic() - pruned > PRUNE_EVERY:
                    pruned = time.monotonic()
                    self.prune()
        finally:
            conn.close()

    def _watch_postgres(self) -> None:
        import psycopg

        url = self.store.url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            pruned = time.monotonic()
            self._moved()  # what was committed before the LISTEN
            while not self._stop.is_set():
                for _ in conn.notifies(timeout=1.0, stop_after=1):
                    pass
                self._moved()  # on a notify, and once a second whatever happens
                if time.monotonic() - pruned > PRUNE_EVERY:
                    pruned = time.monotonic()
                    self.prune()


def frame(event: str, data: str, seq: int | None = None) -> str:
    return (f"id: {seq}\n" if seq is not None else "") + f"event: {event}\ndata: {data}\n\n"


async def stream(bus: EventBus, audience: Audience, head: int, last_id: int | None, run: Any) -> AsyncIterator[str]:
    """The SSE text of one subscription from `head` (the newest seq when it was asked for), or from
    `last_id` when that can be resumed. `run` runs a blocking call off the event loop."""
    import json

    bus.start()
    after = head
    if last_id is not None:
        oldest = await run(bus.oldest)
        filled = last_id <= after and (last_id >= (oldest or after + 1) - 1)
        if filled:
            after = last_id
        else:  # pruned away, or from another store: the client reloads everything
            yield "retry: 1000\n" + frame("resync", json.dumps({"seq": after}), after)
    yield "retry: 1000\n: subscribed\n\n"
    while True:
        await bus.wait(after, KEEPALIVE)
        if bus.closing:
            return
        rows = await run(bus.after, after)
        if not rows:
            yield ": keepalive\n\n"
            continue
        for row in await run(audience.filter, rows):
            yield frame("change", json.dumps(payload(row)), row.seq)
        after = rows[-1].seq
