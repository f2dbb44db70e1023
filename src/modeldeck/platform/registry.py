"""Models, the grants that authorize other workspaces to use them, and model versions.

A workspace's authorized models are the ones it owns plus the ones granted to it. PUBLIC models of the
account are visible everywhere but, as on Model Studio, callable only where owned or granted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import JSON, ColumnElement, Text, and_, delete, literal_column, null, or_, select, union_all, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import vocabulary
from ..errors import Conflict, InvalidParameter, ModelAccessDenied, NotFound
from . import events, fields, latest, objects, upstream
from .authz import Caller, clip, enter, role_in
from .db import add_unique
from .ids import new_id, utcnow
from .pagination import PageRequest, clamp_limit, keyset, keyset_page, resume_after
from .safety import validate_uri
from .schema import Artifact, Grant, Model, ModelVersion, UTCDateTime, Workspace

OWNER_ACTIONS = list(fields.GRANT_ACTIONS)
SOURCES = ("owned", "granted", "public", "none")  # most to least specific: an owned name wins
ARTIFACT_SCHEME = "artifact://sha256:"


@dataclass
class ModelView:
    """A model as one workspace sees it: where it comes from and what this workspace may do with it."""

    model: Model  # or a row of its columns, in listings
    owner: str  # name of the owning workspace
    source: str  # owned | granted | public | none (exists in the account, invisible here)
    actions: list[str]
    latest: ModelVersion | Latest | None = None


# ---- models -------------------------------------------------------------------------------------------


def _view_query(ws_id: str, *columns: Any):  # type: ignore[no-untyped-def]
    return (
        select(*(columns or (Model,)), Workspace.name.label("owner"), Grant.actions_text.label("granted"))
        .join(Workspace, Workspace.id == Model.workspace_id)
        .outerjoin(Grant, and_(Grant.model_id == Model.id, Grant.workspace_id == ws_id))
    )


def access(workspace_id: str, owner_id: str, accessibility: str, granted: str | None) -> tuple[str, list[str]]:
    """Where a model comes from for a workspace (owned, granted, public, none) and what it may do with it."""
    if owner_id == workspace_id:
        return "owned", list(OWNER_ACTIONS)
    if granted is not None:
        return "granted", [a for a in granted.split(",") if a]
    return ("public" if accessibility == "PUBLIC" else "none"), []


def _view(caller: Caller, model: Model, owner: str, granted: str | None) -> ModelView:
    source, actions = access(caller.workspace_id, model.workspace_id, model.accessibility, granted)
    return ModelView(model, owner, source, actions)


@dataclass(frozen=True)
class Latest:
    version_name: str
    approval_status: str


def list_models(
    db: Session,
    caller: Caller,
    page: PageRequest,
    *,
    query: str | None = None,
    task: str | None = None,
    action: str | None = None,
) -> tuple[list[ModelView], str | None]:
    """One query for the page, each model's newest version included: plain rows, no ORM objects."""
    caller.require("list")
    ws = caller.workspace_id
    if action:
        action = fields.choice(action, fields.GRANT_ACTIONS, "action")
    scope = models_scope(ws, query, task, action)
    limit = clamp_limit(page.limit)
    after = resume_after(page.cursors, scope, page.cursor, len(MODEL_ORDER))
    rows = db.connection().execute(models_statement(ws, after, limit + 1, query, task, action)).all()
    nxt = page.cursors.encode(scope, model_key(rows[limit - 1])) if len(rows) > limit else None
    return model_views(ws, rows[:limit]), nxt


MODEL_ORDER = (Model.model_name, Model.id)  # a models page's unique sort key


def models_statement(ws: Any, after: Any, limit: Any, query: str | None = None, task: str | None = None,
                     action: str | None = None):  # type: ignore[no-untyped-def]  # fmt: skip
    """A page of the models workspace `ws` sees, after the key `after`, each with its owner's name and its
    newest version's name and status (`ws`, `after` and `limit`: values, or bind parameters for a statement
    compiled once; `action` already checked).

    Owned, granted and PUBLIC models are three branches, each walked in page order and cut at the page
    size, so the owned ones (most of a workspace's listing) come off the (workspace, name) index: a page
    costs the same at 100 or 10,000 models. Owners are looked up for the page's rows only; the newest
    version is on each model's row (`latest`).
    """
    granted = and_(Grant.model_id == Model.id, Grant.workspace_id == ws)
    owned = select(*LISTED_MODEL_COLUMNS, null().label("granted")).where(Model.workspace_id == ws)
    shared = select(*LISTED_MODEL_COLUMNS, Grant.actions_text.label("granted")).join(Grant, granted)
    public = select(*LISTED_MODEL_COLUMNS, null().label("granted")).where(
        Model.accessibility == _PUBLIC, ~select(Grant.model_id).where(granted).exists()
    )
    branches = [owned, shared.where(Model.workspace_id != ws), public.where(Model.workspace_id != ws)]
    if action:  # an action: owned ones (which may do all), and ones granted it
        branches = branches[:2]
        branches[1] = branches[1].where(Grant.actions_text.contains(f",{action},"))
    for i, branch in enumerate(branches):
        if query:
            branch = branch.where(Model.model_name.contains(query, autoescape=True))
        if task:
            branch = branch.where(Model.task == task)
        branch = keyset(branch, MODEL_ORDER, after, limit)
        if i == 0:  # a name is unique in its workspace: owned rows come in the index's order, not sorted again
            branch = branch.order_by(None).order_by(Model.model_name)
        branches[i] = select(*branch.subquery().c)
    page = union_all(*branches).subquery("page")
    return (
        select(page, Workspace.name.label("owner"))
        .join(Workspace, Workspace.id == page.c.workspace_id)
        .order_by(page.c.model_name, page.c.id)
        .limit(limit)
    )


def models_scope(ws_id: str, query: str | None = None, task: str | None = None, action: str | None = None) -> str:
    """What a models page's cursor is bound to: the workspace and the filters."""
    return f"models|{ws_id}|{query}|{task}|{action}"


def model_key(row: Any) -> list[Any]:
    return [row.model_name, row.id]


def model_views(ws_id: str, rows: list[Any]) -> list[ModelView]:
    """A models page's rows as the workspace sees them."""
    views = []
    for row in rows:
        source, actions = access(ws_id, row.workspace_id, row.accessibility, row.granted)
        newest = None if row.latest_version is None else Latest(row.latest_version, row.latest_status)
        views.append(ModelView(row, row.owner, source, actions, newest))
    return views


def attach_latest(db: Session, view: ModelView) -> None:
    """The version `latest` serves, as the model's row names it."""
    view.latest = db.scalar(latest.version_of(view.model.id))


# Written into the SQL, not bound, as `latest._REJECTED` is (which says why).
_PUBLIC = literal_column("'PUBLIC'")


def resolve_model(db: Session, caller: Caller, ref: str, need: str = "list") -> ModelView:
    """Find a model by id or name from the caller's workspace.

    `need` is `list` (visible here), an action (`inference`, `fine_tune`, `deploy`: authorized here), or
    `owner` (owned here: required to change it). A model of the account that this workspace may not use
    gives `Model.AccessDenied` naming its owner and the missing grant.
    """
    caller.require("list")
    rows = db.execute(_view_query(caller.workspace_id).where(or_(Model.id == ref, Model.model_name == ref))).all()
    views = [_view(caller, m, owner, granted) for m, owner, granted in rows]
    view = pick(views, ref, lambda v: v.model.id, lambda v: v.source) if views else None
    if not views or (view is not None and view.source == "none" and not _may_know(db, caller, view)):
        meant = _did_you_mean(db, caller, ref)
        if caller.principal.is_main:
            raise NotFound(
                f"Model {_q(ref)} does not exist.",
                code="Model.NotFound",
                hint=f"{meant}List the models this workspace may use with `modeldeck models` or GET /api/v1/models.",
            )
        raise _unknown_model(caller, ref, need, meant)
    if view is None:
        raise Conflict(
            f"Several models visible here are called {_q(ref)}.",
            code="Model.Ambiguous",
            hint="Name the model by its id (listed by `modeldeck models --json` or GET /api/v1/models).",
        )
    if allows(view.source, view.actions, need):
        return view
    raise _model_denied(caller, view, need, ref)


def _may_know(db: Session, caller: Caller, view: ModelView) -> bool:
    """Whether the caller may learn that a model it cannot see here exists, and who owns it: the main
    account, and members of the owning workspace (who could list it there)."""
    return caller.principal.is_main or role_in(db, caller.principal, view.model.workspace_id) is not None


def _did_you_mean(db: Session, caller: Caller, ref: str) -> str:
    """"Did you mean 'x'? " for the closest name among the models this workspace sees (only those: the
    same answer whether `ref` exists elsewhere or not), or ""."""
    visible = db.scalars(
        select(Model.model_name)
        .outerjoin(Grant, and_(Grant.model_id == Model.id, Grant.workspace_id == caller.workspace_id))
        .where(or_(Model.workspace_id == caller.workspace_id, Grant.model_id.is_not(None),
                   Model.accessibility == "PUBLIC"))
        .limit(_SUGGESTED_AMONG)
    ).all()  # fmt: skip
    meant = vocabulary.suggest(ref, tuple(visible)) if len(ref) <= 128 else None
    return f"Did you mean {_q(meant)}? " if meant and meant != ref else ""


_SUGGESTED_AMONG = 2000  # names compared on a miss: beyond them a typo goes without a suggestion


def _unknown_model(caller: Caller, ref: str, need: str, meant: str = "") -> ModelAccessDenied:
    """A sub-account's one answer for a model that does not exist and one it may not learn of: the same
    words for both, naming only what the caller sent, its own workspace and the models it sees."""
    action = need if need in fields.GRANT_ACTIONS else "inference"
    ws = caller.workspace_name
    return ModelAccessDenied(
        f"Workspace '{ws}' has no model {_q(ref)} that it may see.",
        hint=f"{meant}Check the name against `modeldeck models` (GET /api/v1/models). A model of another workspace "
        f"must first be authorized for workspace '{ws}' ('{action}') by an admin of the workspace that owns it.",
    )


T = TypeVar("T")


def pick(candidates: list[T], ref: str, id_of: Callable[[T], str], source_of: Callable[[T], str]) -> T | None:
    """The model a reference means: the one with that id, else the most specific source among the name's
    matches (owned, then granted, then public). None when that still leaves several visible ones."""
    exact = [c for c in candidates if id_of(c) == ref] or candidates
    rank = min(SOURCES.index(source_of(c)) for c in exact)
    best = [c for c in exact if SOURCES.index(source_of(c)) == rank]
    if len(best) > 1 and source_of(best[0]) != "none":
        return None
    return best[0]


def allows(source: str, actions: list[str], need: str) -> bool:
    """`list`: visible here; `owner` / `grant`: owned here; an action: authorized here for it."""
    return (
        (need == "list" and source != "none")
        or (need in ("owner", "grant") and source == "owned")
        or (need in fields.GRANT_ACTIONS and need in actions)
    )


def _model_denied(caller: Caller, view: ModelView, need: str, ref: str) -> ModelAccessDenied:
    """Names the model by its name, which the caller may know (it sees the model, or may learn of it), and
    which is unique in the owning workspace, where the fix commands run; never by an id."""
    name, ws, owner = clip(view.model.model_name), caller.workspace_name, view.owner
    if need == "grant":
        return ModelAccessDenied(
            f"Model '{name}' is owned by workspace '{owner}'; only that workspace can authorize others for it.",
            hint=f"An admin of workspace '{owner}' grants it: deck.use('{owner}'); "
            f"deck.authorize('{name}', '{ws}', actions=['inference']).",
        )
    if need == "owner":
        return ModelAccessDenied(
            f"Model '{name}' is owned by workspace '{owner}'; workspace '{ws}' cannot change it.",
            hint=f"Switch to workspace '{owner}' to change the model or register its versions.",
        )
    action = need if need in fields.GRANT_ACTIONS else "inference"
    return ModelAccessDenied(
        f"Workspace '{ws}' is not authorized to use model '{name}' for {action}.",
        hint=f"An admin of workspace '{owner}', which owns the model, must authorize workspace '{ws}' "
        f"for '{action}': deck.authorize('{name}', '{ws}', actions=['{action}']) "
        f"or `modeldeck authorize '{name}' {ws} --action {action}`.",
    )


def create_model(db: Session, caller: Caller, name: str, **attrs: Any) -> Model:
    caller.require("register")
    if str(attrs.get("accessibility") or "").upper() == "PUBLIC":
        caller.require("authorize")  # PUBLIC shows the model to every workspace: an admin's decision
    fields.model_name(name)
    existing = db.scalar(select(Model.id).where(Model.workspace_id == caller.workspace_id, Model.model_name == name))
    if existing is not None:
        raise Conflict(
            f"Model '{name}' already exists in workspace '{caller.workspace_name}'.",
            code="Model.AlreadyExists",
            hint="Register a new version of it instead, or choose another name.",
        )
    now = utcnow()
    model = Model(
        id=new_id("mdl"), workspace_id=caller.workspace_id, model_name=name, created_at=now, updated_at=now,
        **_model_attrs(attrs, defaults=True),
    )
    add_unique(db, model, Conflict(
        f"Model '{name}' already exists in workspace '{caller.workspace_name}'.",
        code="Model.AlreadyExists",
        hint="Register a new version of it instead, or choose another name.",
    ))  # fmt: skip
    _changed(db, "model", "created", model, model.id)
    return model


def _changed(db: Session, kind: str, op: str, model: Model, object_id: str, audience: str | None = None) -> None:
    """A change event about a model or what hangs off it; a PUBLIC model's changes reach every workspace."""
    audience = audience or ("*" if model.accessibility == "PUBLIC" else None)
    events.publish(db, kind, op, model.workspace_id, object_id, model=model.id, audience=audience)


def _model_attrs(attrs: dict[str, Any], *, defaults: bool) -> dict[str, Any]:
    unknown = set(attrs) - {"task", "domain", "origin", "accessibility", "model_type", "labels", "description",
                            "extra_info"}  # fmt: skip
    if unknown:
        raise InvalidParameter(
            f"Unknown model field(s): {', '.join(sorted(unknown))}.", hint="Check the field names."
        )
    out: dict[str, Any] = {}
    for key in ("task", "domain", "origin", "model_type"):
        if key in attrs:
            out[key] = fields.optional_text(attrs[key], key)
    if "accessibility" in attrs or defaults:
        out["accessibility"] = fields.choice(attrs.get("accessibility") or "PRIVATE", fields.ACCESSIBILITIES,
                                             "accessibility")  # fmt: skip
    if "labels" in attrs or defaults:
        out["labels"] = fields.labels(attrs.get("labels"))
    if "description" in attrs or defaults:
        out["description"] = fields.text(attrs.get("description"), "description")
    if "extra_info" in attrs or defaults:
        out["extra_info"] = fields.json_object(attrs.get("extra_info"), "extra_info")
    return out


def update_model(db: Session, caller: Caller, ref: str, **attrs: Any) -> ModelView:
    caller.require("register")
    if "accessibility" in attrs:
        caller.require("authorize")  # PUBLIC shows the model to every workspace: an admin's decision
    view = resolve_model(db, caller, ref, need="owner")
    was_public = view.model.accessibility == "PUBLIC"
    for key, value in _model_attrs(attrs, defaults=False).items():
        setattr(view.model, key, value)
    view.model.updated_at = utcnow()
    _changed(db, "model", "updated", view.model, view.model.id, "*" if was_public else None)
    return view


def delete_model(db: Session, caller: Caller, ref: str) -> None:
    caller.require("manage")
    view = resolve_model(db, caller, ref, need="owner")
    for row in db.scalars(select(ModelVersion).where(ModelVersion.model_id == view.model.id)):
        upstream.store_key(db, row, None)
    _changed(db, "model", "deleted", view.model, view.model.id)
    db.delete(view.model)


# ---- grants -------------------------------------------------------------------------------------------


def list_grants(db: Session, caller: Caller, ref: str) -> list[tuple[Grant, str]]:
    view = resolve_model(db, caller, ref, need="owner")
    rows = db.execute(
        select(Grant, Workspace.name)
        .join(Workspace, Workspace.id == Grant.workspace_id)
        .where(Grant.model_id == view.model.id)
        .order_by(Workspace.name)
    ).all()
    return [(g, name) for g, name in rows]


def authorize(db: Session, caller: Caller, ref: str, workspace_ref: str, actions: list[str]) -> tuple[Grant, str]:
    """Authorize another workspace of the account for a model and a set of actions (replaces the set)."""
    caller.require("authorize")
    view = resolve_model(db, caller, ref, need="grant")  # elsewhere: learn which admin grants it, and how
    target = _target_workspace(db, caller, workspace_ref)
    if target.id == view.model.workspace_id:
        raise InvalidParameter(
            f"Workspace '{target.name}' owns model '{view.model.model_name}' and may already do everything with it.",
            code="InvalidParameter.Grant",
            hint="Authorize another workspace.",
        )
    if not actions:
        raise InvalidParameter(
            "A grant needs at least one action.",
            code="InvalidParameter.Grant",
            hint=f"Pass actions from: {', '.join(fields.GRANT_ACTIONS)}; revoke to remove a grant.",
        )
    chosen = sorted({fields.choice(a, fields.GRANT_ACTIONS, "action") for a in actions})
    grant = db.get(Grant, (view.model.id, target.id))
    if grant is None:
        grant = Grant(model_id=view.model.id, workspace_id=target.id, created_at=utcnow())
        grant.actions = chosen
        db.add(grant)
    else:
        grant.actions = chosen
    db.flush()
    _changed(db, "grant", "updated", view.model, f"{view.model.id}:{target.id}", target.id)
    return grant, target.name


def revoke(db: Session, caller: Caller, ref: str, workspace_ref: str) -> None:
    caller.require("authorize")
    view = resolve_model(db, caller, ref, need="grant")
    target = _target_workspace(db, caller, workspace_ref)
    db.execute(delete(Grant).where(Grant.model_id == view.model.id, Grant.workspace_id == target.id))
    _changed(db, "grant", "deleted", view.model, f"{view.model.id}:{target.id}", target.id)


def _target_workspace(db: Session, caller: Caller, ref: str) -> Workspace:
    """The workspace a grant names, resolved as if the caller entered it: a sub-account names only its own
    workspaces, and gets one answer for a missing workspace and one it is not a member of."""
    return db.get_one(Workspace, enter(db, caller.principal, ref).workspace_id)


# ---- versions -----------------------------------------------------------------------------------------

VERSION_FIELDS = {
    "version_name", "uri", "format_type", "framework_type", "source_type", "source_id", "labels", "metrics",
    "training_spec", "inference_spec", "extra_info", "options", "description", "approval_status",
}  # fmt: skip


class _AsStored(ColumnElement[str]):
    """A JSON or timestamp column as text, the way SQLite keeps it: JSON as its text (spliced into a page
    as an orjson fragment) and a timestamp as `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC. PostgreSQL's driver
    would parse every JSON value in Python (json.loads per cell: ten times the rest of a page), so there
    the statement casts them to text instead."""

    inherit_cache = True
    type = Text()

    def __init__(self, column: Any) -> None:
        self.column = column


@compiles(_AsStored)
def _as_stored(element: _AsStored, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(_AsStored, "postgresql")
def _as_stored_pg(element: _AsStored, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    if isinstance(element.column.type, UTCDateTime):
        return f"CAST(({column} AT TIME ZONE 'UTC') AS TEXT)"  # to_char would triple the page's time
    return f"CAST({column} AS TEXT)"


def _plain(table: Any, *skip: str) -> tuple[Any, ...]:
    """A table's columns for a listing, past SQLAlchemy's per-value processors and the driver's parsers:
    JSON and timestamps as stored text (`_AsStored`), for `serialize` to convert in one pass."""
    return tuple(
        _AsStored(c).label(c.key) if isinstance(c.type, (JSON, UTCDateTime)) else c
        for c in table.c
        if c.key not in skip
    )


# What listings read: what `serialize.version` and `serialize.model` show (and seq, the page key).
LISTED_VERSION_COLUMNS = _plain(ModelVersion.__table__, "major", "minor", "patch", "idempotency_key", "fingerprint")
LISTED_MODEL_COLUMNS = _plain(Model.__table__)
MUTABLE_VERSION_FIELDS = {"labels", "metrics", "training_spec", "inference_spec", "extra_info", "options",
                          "description", "source_type", "source_id"}  # fmt: skip


def list_versions(
    db: Session, caller: Caller, ref: str, page: PageRequest, *, approval_status: str | None = None
) -> tuple[ModelView, list[ModelVersion], str | None]:
    """Newest first, by keyset on creation order: one page costs the same at 100 or 100,000 versions."""
    view = resolve_model(db, caller, ref)
    approval_status = checked_status(approval_status)
    rows, nxt = keyset_page(
        db.connection(), versions_statement(view.model.id, approval_status), VERSION_ORDER, version_key,
        **page.bind(versions_scope(caller.workspace_id, view.model.id, approval_status)), descending=True,
    )  # fmt: skip
    return view, rows, nxt


VERSION_ORDER = (ModelVersion.seq,)  # a versions page's unique sort key (descending: newest first)


def versions_statement(model_id: Any, approval_status: Any = None):  # type: ignore[no-untyped-def]
    """A model's versions (`model_id` and `approval_status`, already checked: values or bind parameters),
    in (model, seq) order for `keyset` to continue by seq.

    The model is a range of one value, not an equality: under `model_id = $1` PostgreSQL's generic plan (the
    one a prepared statement keeps) may walk the primary key (seq) backwards and filter by model, which
    reads every newer version of every other model first (10,000 rows for a small model beside a big one);
    ordered by (model, seq) from a range, the (model_id, seq) index is the one plan, a page's rows for any model."""
    stmt = (
        select(*LISTED_VERSION_COLUMNS)
        .where(ModelVersion.model_id.between(model_id, model_id))
        .order_by(ModelVersion.model_id.desc())
    )
    if approval_status is not None:
        stmt = stmt.where(ModelVersion.approval_status == approval_status)
    return stmt


def checked_status(approval_status: str | None) -> str | None:
    """A listing's approval-status filter in its canonical spelling; empty or None: no filter."""
    return fields.choice(approval_status, fields.APPROVAL_STATUSES, "approval status") if approval_status else None


def versions_scope(ws_id: str, model_id: str, approval_status: str | None) -> str:
    """What a versions page's cursor is bound to: the caller's workspace, the model and the filter."""
    return f"versions|{ws_id}|{model_id}|{approval_status}"


def version_key(row: Any) -> list[Any]:
    return [row.seq]


def get_version(db: Session, caller: Caller, ref: str, version: str | None, need: str = "list") -> tuple[ModelView, ModelVersion]:
    """A version by name; None means the newest version that was not rejected."""
    view = resolve_model(db, caller, ref, need=need)
    if version is None:
        row = db.scalar(latest.version_of(view.model.id))
        if row is None:
            raise NotFound(
                f"Model '{view.model.model_name}' has no version that can be used.",
                code="Version.NotFound",
                hint="Register a version first, or name a version explicitly.",
            )
        return view, row
    row = db.scalar(
        select(ModelVersion).where(ModelVersion.model_id == view.model.id, ModelVersion.version_name == version)
    )
    if row is None:
        raise NotFound(
            f"Model '{view.model.model_name}' has no version {_q(version)}.",
            code="Version.NotFound",
            hint=f"List its versions with `modeldeck versions '{view.model.model_name}'`.",
        )
    return view, row


def create_version(
    db: Session,
    caller: Caller,
    ref: str,
    spec: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    allowed_networks: tuple = (),
    inspection: Any = None,
) -> tuple[ModelVersion, bool]:
    """Register a version; returns it and whether it was created (False: an idempotent replay).

    `model_id:version_name` is unique: of concurrent registrations of one name exactly one wins and the
    rest get `Conflict`. A retried request with the same idempotency key returns the same version.
    `inspection` (`registration.inspect`) is what the checkpoint was found to be: it fills the format and
    framework the caller left out, the signature and whether the version can run here.
    """
    caller.require("register")
    model = resolve_model(db, caller, ref, need="owner").model
    status = spec.get("approval_status")
    if status is not None and fields.choice(status, fields.APPROVAL_STATUSES, "approval status") != "Pending":
        caller.require("approve")  # registering it decided is deciding it: the same right as /approve
    unknown = set(spec) - VERSION_FIELDS
    if unknown:
        raise InvalidParameter(
            f"Unknown version field(s): {', '.join(sorted(unknown))}.",
            hint=f"Version fields are: {', '.join(sorted(VERSION_FIELDS))}.",
        )
    fingerprint = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()
    if idempotency_key is not None:
        _check_idempotency_key(idempotency_key)
        replay = _replay(db, model, idempotency_key, fingerprint)
        if replay is not None:
            return replay, False
    values = _version_values(db, caller, model, spec, allowed_networks)
    values["inference_spec"], upstream_key = upstream.take_key(values["inference_spec"], allowed_networks)
    if inspection is not None:
        values["format_type"] = values["format_type"] or inspection.format_type
        values["framework_type"] = values["framework_type"] or inspection.framework_type
        values.update(signature=inspection.signature, runnable=inspection.runnable,
                      not_runnable_reason=inspection.reason)  # fmt: skip
    explicit = spec.get("version_name")
    for _ in range(20):
        name, major, minor, patch = fields.version_name(explicit) if explicit is not None else _next_name(db, model.id)
        now = utcnow()
        row = ModelVersion(
            model_id=model.id, version_name=name, major=major, minor=minor, patch=patch,
            idempotency_key=idempotency_key, fingerprint=fingerprint, created_by=caller.principal.account_id,
            created_at=now, updated_at=now, **values,
        )  # fmt: skip
        try:
            with db.begin_nested():
                db.add(row)
                db.flush()
                if upstream_key is not None:
                    upstream.store_key(db, row, upstream_key)
            _changed(db, "version", "created", model, f"{model.id}:{name}")
            return row, True
        except IntegrityError:
            if idempotency_key is not None:
                replay = _replay(db, model, idempotency_key, fingerprint)
                if replay is not None:
                    return replay, False
            if explicit is not None:
                raise Conflict(
                    f"Model '{model.model_name}' already has version '{name}'.",
                    code="Version.AlreadyExists",
                    hint="Choose another version name, or omit it to bump the minor number.",
                ) from None
    raise Conflict(
        "Too many concurrent registrations of this model.", code="Version.Busy", hint="Retry in a moment."
    )


def _check_idempotency_key(key: str) -> None:
    if not (8 <= len(key) <= 128 and key.isascii() and key.isprintable()):
        raise InvalidParameter(
            "The idempotency key must be 8 to 128 printable ASCII characters.",
            code="InvalidParameter.IdempotencyKey",
            hint="Send a fresh random key (a UUID) per logical registration.",
        )


def _replay(db: Session, model: Model, key: str, fingerprint: str) -> ModelVersion | None:
    row = db.scalar(
        select(ModelVersion).where(ModelVersion.model_id == model.id, ModelVersion.idempotency_key == key)
    )
    if row is not None and row.fingerprint != fingerprint:
        raise Conflict(
            "This idempotency key was already used for a different registration.",
            code="Version.IdempotencyKeyReused",
            hint="Use a new idempotency key for a new registration.",
        )
    return row


def _next_name(db: Session, model_id: str) -> tuple[str, int, int, int]:
    newest = db.scalar(latest.ordered(model_id).limit(1))
    if newest is None:
        return "0.1.0", 0, 1, 0
    return f"{newest.major}.{newest.minor + 1}.0", newest.major, newest.minor + 1, 0


def _version_values(
    db: Session, caller: Caller, model: Model, spec: dict[str, Any], allowed_networks: tuple
) -> dict[str, Any]:
    uri = spec.get("uri")
    if not uri:
        raise InvalidParameter(
            "A version needs a uri.",
            code="InvalidParameter.Uri",
            hint="Upload the checkpoint and pass its artifact:// uri, or pass an external oss://, obs://, "
            "s3:// or https:// uri.",
        )
    uri = validate_uri(uri, allowed_networks=allowed_networks)
    digest = None
    if uri.startswith(ARTIFACT_SCHEME):
        digest = uri[len(ARTIFACT_SCHEME):]
        if db.get(Artifact, (model.workspace_id, digest)) is None:
            raise InvalidParameter(
                "The artifact in the uri was not uploaded to this workspace.",
                code="Artifact.NotFound",
                hint="Upload the files and create the artifact in this workspace first.",
            )
    elif (stored := objects.artifact_for(db, caller, model.workspace_id, uri)) is not None:
        digest = stored.digest  # an object of this workspace's bucket (the OSS / OBS facades)
    values: dict[str, Any] = {"uri": uri, "artifact_digest": digest}
    values["format_type"] = _opt_choice(spec.get("format_type"), fields.FORMAT_TYPES, "format type")
    values["framework_type"] = _opt_choice(spec.get("framework_type"), fields.FRAMEWORK_TYPES, "framework type")
    values["source_type"] = _opt_choice(spec.get("source_type"), fields.SOURCE_TYPES, "source type")
    values["source_id"] = fields.optional_text(spec.get("source_id"), "source_id", 256)
    values["approval_status"] = fields.choice(spec.get("approval_status") or "Pending", fields.APPROVAL_STATUSES,
                                              "approval status")  # fmt: skip
    values["labels"] = fields.labels(spec.get("labels"))
    values["metrics"] = fields.metrics(spec.get("metrics"))
    for key in ("training_spec", "extra_info"):
        values[key] = fields.json_object(spec.get(key), key)
    values["inference_spec"] = fields.inference_spec(spec.get("inference_spec"))
    values["options"] = fields.options(spec.get("options"))
    values["description"] = fields.text(spec.get("description"), "description")
    return values


def _opt_choice(value: Any, allowed: tuple[str, ...], what: str) -> str | None:
    return None if value is None else fields.choice(value, allowed, what)


def update_version(
    db: Session, caller: Caller, ref: str, version: str, changes: dict[str, Any], allowed_networks: tuple = ()
) -> ModelVersion:
    caller.require("register")
    view, row = get_version(db, caller, ref, version, need="owner")
    unknown = set(changes) - MUTABLE_VERSION_FIELDS
    if unknown:
        raise InvalidParameter(
            f"Field(s) {', '.join(sorted(unknown))} cannot be changed on a version.",
            code="InvalidParameter.ImmutableField",
            hint="Approval has its own approve/reject calls; register a new version to change the uri or name.",
        )
    for key, value in changes.items():
        if key == "labels":
            value = fields.labels(value)
        elif key == "metrics":
            value = fields.metrics(value)
        elif key == "options":
            value = fields.options(value)
        elif key == "description":
            value = fields.text(value, key)
        elif key == "source_type":
            value = _opt_choice(value, fields.SOURCE_TYPES, "source type")
        elif key == "source_id":
            value = fields.optional_text(value, key, 256)
        elif key == "inference_spec":  # a new spec replaces the old one, upstream key included
            value, upstream_key = upstream.take_key(fields.inference_spec(value), allowed_networks)
            if row.approval_status != "Pending" and _served(value) != _served(row.inference_spec):
                raise _decided(view, row)
            upstream.store_key(db, row, upstream_key)
        else:
            value = fields.json_object(value, key)
        setattr(row, key, value)
    row.updated_at = utcnow()
    _changed(db, "version", "updated", view.model, f"{row.model_id}:{row.version_name}")
    return row


def _served(inference_spec: dict[str, Any]) -> dict[str, Any]:
    """What a version's inference_spec makes it serve (all of it but whether an upstream key is set): an
    approval covers this, so it cannot change after a decision; rotating the upstream key can."""
    spec = dict(inference_spec or {})
    if isinstance(spec.get("upstream"), dict):
        spec["upstream"] = {k: v for k, v in spec["upstream"].items() if k != "api_key_set"}
    return spec


def _decided(view: ModelView, row: ModelVersion) -> Conflict:
    return Conflict(
        f"Version '{row.version_name}' of model '{view.model.model_name}' is {row.approval_status}; what it "
        "serves (its uri, format and inference_spec) cannot change after the decision.",
        code="Version.ApprovalFinal",
        hint="Register a new version with the new inference_spec and have it approved.",
    )


def decide(db: Session, caller: Caller, ref: str, version: str, status: str) -> ModelVersion:
    """Approve or reject a Pending version. A decision is final, as on PAI; repeating it is harmless."""
    caller.require("approve")
    view, row = get_version(db, caller, ref, version, need="owner")
    status = fields.choice(status, ("Approved", "Rejected"), "approval status")
    result = db.execute(
        update(ModelVersion)
        .where(ModelVersion.seq == row.seq, ModelVersion.approval_status == "Pending")
        .values(approval_status=status, updated_at=utcnow())
    )
    db.refresh(row)
    if result.rowcount == 0 and row.approval_status != status:
        raise Conflict(
            f"Version '{row.version_name}' of model '{view.model.model_name}' is already {row.approval_status}; "
            "a decision is final.",
            code="Version.ApprovalFinal",
            hint="Register a new version to take another decision.",
        )
    if result.rowcount:
        _changed(db, "version", "updated", view.model, f"{row.model_id}:{row.version_name}")
    return row


def delete_version(db: Session, caller: Caller, ref: str, version: str) -> None:
    caller.require("manage")
    view, row = get_version(db, caller, ref, version, need="owner")
    upstream.store_key(db, row, None)
    db.delete(row)
    _changed(db, "version", "deleted", view.model, f"{row.model_id}:{row.version_name}")


def _q(text: str) -> str:
    return repr(clip(text))
