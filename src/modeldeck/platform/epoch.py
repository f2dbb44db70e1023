"""The access epoch: on PostgreSQL, one token that changes in every transaction that changes who may do what.

A listing's decision (which account a key is, its role in the workspace it names, which model a name means
to it and what it may do there) is read from six tables. Reading it again for every page cost a statement
per page; SQLite proves a kept decision by its `data_version`, and PostgreSQL has no such counter. So a
trigger on each of those tables, on the columns a decision reads, writes a new random token into the
one-row table `access_epoch` in the writer's own transaction, whoever writes (the platform, another
replica, an import, SQL by hand). A decision is read with the token of its snapshot; a page statement
reads the token of its own, and an unchanged token proves that nothing a decision reads was committed in
between (the token commits with the change, atomically). A random token, not a counter: a restore that
brings back an older database brings back that database's token with it, and a counter could come round to
a value a server had already seen for another state.

The trigger is deferred to the commit and writes the row once per transaction (a transaction-local
setting remembers it), so writers of those tables queue on the row for their commit only, as the
latest-version trigger does (`latest`); TRUNCATE, which row triggers do not see, has a trigger of its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, column, select, table

# the columns each decision reads (authz.access_rows); writes of any other column leave decisions as they were
DECIDING = {
    "accounts": ("id", "name", "kind", "authorization_mode"),
    "api_keys": ("account_id", "digest", "revoked_at"),
    "workspaces": ("id", "name", "is_default"),
    "members": ("workspace_id", "account_id", "role"),
    "models": ("id", "workspace_id", "model_name", "accessibility"),
    "grants": ("model_id", "workspace_id", "actions"),
}
_EPOCH = table("access_epoch", column("token"))
_BUMPED = "modeldeck.access_epoch_bumped"


def token() -> Any:
    """The token of the statement's snapshot, as a scalar subquery (PostgreSQL only)."""
    return select(_EPOCH.c.token).scalar_subquery()


def install(conn: Connection) -> None:
    """Create the table, its row and the triggers (replacing older ones); nothing on SQLite."""
    if conn.dialect.name != "postgresql":
        return
    for statement in _dropped() + _created():
        conn.exec_driver_sql(statement)


def uninstall(conn: Connection) -> None:
    """Drop the triggers and the table (a downgrade past revision 0014)."""
    if conn.dialect.name == "postgresql":
        for statement in [*_dropped(), "DROP TABLE IF EXISTS access_epoch"]:
            conn.exec_driver_sql(statement)


def _dropped() -> list[str]:
    drops = []
    for name in DECIDING:
        drops += [f"DROP TRIGGER IF EXISTS {name}_access_epoch ON {name}",
                  f"DROP TRIGGER IF EXISTS {name}_access_epoch_truncate ON {name}"]  # fmt: skip
    return [*drops, "DROP FUNCTION IF EXISTS access_epoch_bump()"]


def _created() -> list[str]:
    statements = [
        # one row: the primary key can only be true
        "CREATE TABLE IF NOT EXISTS access_epoch (one boolean PRIMARY KEY DEFAULT true CHECK (one), token text NOT NULL)",
        "INSERT INTO access_epoch (token) VALUES (gen_random_uuid()::text) ON CONFLICT DO NOTHING",
        f"""CREATE FUNCTION access_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('{_BUMPED}', true), '') <> 'on' THEN
    UPDATE access_epoch SET token = gen_random_uuid()::text;
    PERFORM set_config('{_BUMPED}', 'on', true);
  END IF;
  RETURN NULL;
END $$""",
    ]
    for name, columns in DECIDING.items():
        statements += [
            f"""CREATE CONSTRAINT TRIGGER {name}_access_epoch AFTER INSERT OR DELETE OR UPDATE OF {", ".join(columns)}
ON {name} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION access_epoch_bump()""",
            f"CREATE TRIGGER {name}_access_epoch_truncate AFTER TRUNCATE ON {name} FOR EACH STATEMENT EXECUTE FUNCTION access_epoch_bump()",
        ]
    return statements
