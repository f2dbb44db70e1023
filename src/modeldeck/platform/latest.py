"""The version `latest` serves, kept on its model's row by the database itself.

`latest` is the newest version (by major, minor, patch, then name) that was not rejected. A listing shows
it for every model of a page, and predict without a version calls it; searching each model's versions for
it was a third of a models page on PostgreSQL (an ordered index walk per row). So every model row carries
its latest version's name and status, and triggers on `model_versions` recompute them whenever a version
is added, removed, renamed or approved or rejected, whoever writes (the platform, an import, a restore,
SQL by hand), in the writer's own transaction.

On PostgreSQL two transactions may add versions of one model at once. The trigger first locks the model's
row, which waits for the other writer to commit, and then recomputes in a statement of its own: in READ
COMMITTED each statement of a function sees what was committed before it began, so neither writer's
version is missed (an UPDATE alone would wait for the lock, then compute from its older snapshot). It is
deferred to the commit, which runs it just before taking the events' commit-order lock (`events`): held
from the insert, the model's row queued every registration of the model behind the whole transaction of
the one before (twice the registration time at 50 clients), and taken after that lock it would deadlock
with a writer that locks the model's row first and then that lock. So there, a transaction sees the
columns follow its own version writes once it commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, func, literal_column, or_, select, update
from sqlalchemy.orm import aliased

from .schema import Model, ModelVersion

# Written into the SQL, not bound: PostgreSQL plans a prepared statement once (a generic plan) only when
# its estimate holds for any value, and `approval_status <> $1` over a column holding one value estimates
# no row at all.
_REJECTED = literal_column("'Rejected'")
_NONE = literal_column("''")
_TRIGGERED = ("model_id", "version_name", "major", "minor", "patch", "approval_status")


def ordered(model_id: Any, *columns: Any, table: Any = ModelVersion) -> Select[Any]:
    """A model's versions, newest first (`columns` of `table`, else whole rows)."""
    return (
        select(*(columns or (table,)))
        .where(table.model_id == model_id)
        .order_by(table.major.desc(), table.minor.desc(), table.patch.desc(), table.version_name.desc())
    )


def _serving(versions: Select[Any], table: Any = ModelVersion) -> Select[Any]:
    """The versions `latest` may pick: a rejected one never serves (and so never heads its model)."""
    return versions.where(table.approval_status != _REJECTED)


def version_of(model_id: Any) -> Select[Any]:
    """The row of the version the model's row names as its latest."""
    return select(ModelVersion).join(Model, Model.id == ModelVersion.model_id).where(
        Model.id == model_id, ModelVersion.version_name == Model.latest_version
    )


def _recompute(model_ids: Any) -> Any:
    """UPDATE models' latest version and status from their versions, for the models `model_ids` selects,
    where they changed. A version that leaves its model's latest as it was (an older number, a bulk load's
    every row but one) writes nothing: on PostgreSQL each write of the row is a new tuple, and a model
    loaded with 10,000 versions had 10,000 dead tuples for every read of it to step over until a vacuum."""
    v = aliased(ModelVersion, name="v")

    def newest(column: Any) -> Any:  # correlated to the row being updated
        return _serving(ordered(Model.id, column, table=v), v).limit(1).scalar_subquery()

    def differs(column: Any, value: Any) -> Any:  # null-safe: no version or status is ''
        # (not IS DISTINCT FROM: SQLAlchemy's SQLite compiler drops the literal binds the triggers are written with)
        return func.coalesce(column, _NONE) != func.coalesce(value, _NONE)

    name, status = newest(v.version_name), newest(v.approval_status)
    changed = or_(differs(Model.latest_version, name), differs(Model.latest_status, status))
    return update(Model).where(model_ids, changed).values(latest_version=name, latest_status=status)


def _sql(conn: Connection, stmt: Any) -> str:
    return str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


# SQLite's triggers by name: the event, and the rows (old, new) whose models to recompute
_SQLITE_TRIGGERS = {"insert": ("INSERT", ("NEW",)), "delete": ("DELETE", ("OLD",)),
                    "update": (f"UPDATE OF {', '.join(_TRIGGERED)}", ("OLD", "NEW"))}  # fmt: skip


def install(conn: Connection) -> None:
    """Create the triggers (replacing older ones) and bring every model's latest columns up to date."""
    for statement in _dropped(conn) + (_postgresql(conn) if conn.dialect.name == "postgresql" else _sqlite(conn)):
        conn.exec_driver_sql(statement)
    conn.execute(_recompute(Model.id.is_not(None)))


def uninstall(conn: Connection) -> None:
    """Drop the triggers (a downgrade past revision 0012)."""
    for statement in _dropped(conn):
        conn.exec_driver_sql(statement)


def _dropped(conn: Connection) -> list[str]:
    if conn.dialect.name == "postgresql":
        return ["DROP TRIGGER IF EXISTS model_versions_latest ON model_versions",
                "DROP FUNCTION IF EXISTS models_latest_version()"]  # fmt: skip
    return [f"DROP TRIGGER IF EXISTS model_versions_latest_{name}" for name in _SQLITE_TRIGGERS]


def _postgresql(conn: Connection) -> list[str]:
    ids = literal_column("ids")
    body = _sql(conn, _recompute(Model.id == func.any(ids)))
    # NO KEY UPDATE: the lock the UPDATE takes itself, which the insert's foreign key check (KEY SHARE on
    # the model's row) does not block; FOR UPDATE would deadlock two writers that each had checked the key
    locked = "PERFORM 1 FROM models WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE"
    return [
        f"""CREATE OR REPLACE FUNCTION models_latest_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE ids varchar[];
BEGIN
  IF TG_OP = 'INSERT' THEN ids := ARRAY[NEW.model_id];
  ELSIF TG_OP = 'DELETE' THEN ids := ARRAY[OLD.model_id];
  ELSE ids := ARRAY[OLD.model_id, NEW.model_id];
  END IF;
  {locked};
  {body};
  RETURN NULL;
END $$""",
        f"""CREATE CONSTRAINT TRIGGER model_versions_latest AFTER INSERT OR DELETE OR UPDATE OF {", ".join(_TRIGGERED)}
ON model_versions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION models_latest_version()""",
    ]


def _sqlite(conn: Connection) -> list[str]:
    statements = []
    for name, (event, rows) in _SQLITE_TRIGGERS.items():
        body = _sql(conn, _recompute(Model.id.in_([literal_column(f"{r}.model_id") for r in rows])))
        statements.append(f"CREATE TRIGGER model_versions_latest_{name} AFTER {event} ON model_versions BEGIN {body}; END")
    return statements
