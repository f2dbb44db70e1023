"""Who is calling, in which workspace, with which permissions.

Mirrors the platforms' rules: a main-account key without a workspace lands in the default workspace; a
sub-account key must name one it is a member of (`Workspace.AccessDenied` otherwise). Every action then
needs the permission in that workspace: membership AND role, as in ModelArts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, String, and_, bindparam, or_, select
from sqlalchemy.orm import Session, aliased

from ..errors import AccessDenied, InvalidApiKey, NotFound, WorkspaceAccessDenied
from .ids import TOKEN_PREFIX, echoable, key_digest, utcnow
from .schema import Account, ApiKey, Grant, Member, Model, Token, Workspace

PERMISSIONS = ("list", "register", "approve", "invoke", "deploy", "authorize", "manage")
ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"list"}),
    "developer": frozenset({"list", "register", "invoke", "deploy"}),
    "admin": frozenset(PERMISSIONS),
}
WORKSPACE_HEADER = "X-ModelDeck-Workspace"


@dataclass(frozen=True)
class Principal:
    """The account behind an API key."""

    account_id: str
    account_name: str
    is_main: bool
    root_id: str  # the main account that owns every workspace of this home
    mode: str  # the root's authorization mode: strict | loose
    credential: str = "api_key"  # what authenticated it: api_key | token | access_key


@dataclass(frozen=True)
class Caller:
    """A principal acting in one workspace with a role."""

    principal: Principal
    workspace_id: str
    workspace_name: str
    role: str

    @property
    def permissions(self) -> frozenset[str]:
        return ROLES.get(self.role, frozenset())

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise AccessDenied(
                f"Account '{self.principal.account_name}' has role '{self.role}' in workspace "
                f"'{self.workspace_name}', which does not allow '{permission}'.",
                hint=f"Ask an admin of workspace '{self.workspace_name}' for a role that allows "
                f"'{permission}' ({', '.join(r for r, p in ROLES.items() if permission in p)}).",
            )


def bearer(authorization: str | None) -> str | None:
    """The key in an `Authorization: Bearer <key>` header."""
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def authenticate(db: Session, key: str | None) -> Principal:
    """The account behind a bearer credential: an API key, or a token the platform issued."""
    if not key:
        raise InvalidApiKey(
            "No API key was sent.",
            hint="Send the key as 'Authorization: Bearer <key>'; an embedded home keeps its admin key "
            "in admin.key.",
        )
    if key.startswith(TOKEN_PREFIX):
        return _token_principal(db, key)
    row = db.execute(
        select(Account.id, Account.name, Account.kind, ApiKey.revoked_at)
        .join(ApiKey, ApiKey.account_id == Account.id)
        .where(ApiKey.digest == key_digest(key))
    ).first()
    if row is None or row.revoked_at is not None:
        raise InvalidApiKey("The API key is not valid.")
    return principal_of(db, row.id, row.name, row.kind, "api_key")


def _token_principal(db: Session, token: str) -> Principal:
    row = db.execute(
        select(Account.id, Account.name, Account.kind, Token.expires_at)
        .join(Token, Token.account_id == Account.id)
        .where(Token.digest == key_digest(token))
    ).first()
    if row is None:
        raise InvalidApiKey("The token is not valid.", hint="Ask for a new one: POST /api/v1/tokens.")
    if row.expires_at <= utcnow():
        raise InvalidApiKey(
            "The token has expired.", code="Token.Expired", hint="Ask for a new one: POST /api/v1/tokens."
        )
    return principal_of(db, row.id, row.name, row.kind, "token")


def principal_of(db: Session, account_id: str, name: str, kind: str, credential: str) -> Principal:
    """The principal of an authenticated account, with its root's authorization mode."""
    root = db.execute(select(Account.id, Account.authorization_mode).where(Account.kind == "main")).one()
    return Principal(account_id, name, kind == "main", root.id, root.authorization_mode, credential)


def effective_role(is_main: bool, mode: str, member_role: str | None) -> str | None:
    """The role an account has in a workspace, from its membership row (None: no row). None: no access."""
    if is_main:
        return "admin"
    if member_role is None and mode == "loose":
        return "developer"
    return None if member_role == "none" else member_role


_root = aliased(Account)


def access_rows(*columns: Any, model: bool) -> Select[Any]:
    """The rows that decide a bearer key's access: its account, the root account, the workspace named by
    the bind parameter `ws` (id or name; None: the default one) and its membership there; with `model`,
    every model the bind parameter `model` names (id or name) and that workspace's grant on it."""
    ws_ref = bindparam("ws", type_=String)
    stmt = (
        select(
            Account.id.label("account_id"), Account.name.label("account_name"), Account.kind,
            _root.id.label("root_id"), _root.authorization_mode, Workspace.id.label("ws_id"),
            Workspace.name.label("ws_name"), Member.role, *columns,
        )
        .select_from(ApiKey)
        .join(Account, Account.id == ApiKey.account_id)
        .join(_root, _root.kind == "main")
        .join(Workspace, or_(Workspace.id == ws_ref, Workspace.name == ws_ref, and_(ws_ref.is_(None), Workspace.is_default)))
        .outerjoin(Member, and_(Member.workspace_id == Workspace.id, Member.account_id == Account.id))
        .where(ApiKey.digest == bindparam("digest"), ApiKey.revoked_at.is_(None))
    )
    if model:
        stmt = stmt.join(Model, or_(Model.id == bindparam("model"), Model.model_name == bindparam("model"))).outerjoin(
            Grant, and_(Grant.model_id == Model.id, Grant.workspace_id == Workspace.id)
        )
    return stmt


def caller_of(rows: list[Any], ws_ref: str | None, permission: str) -> Caller | None:
    """The caller `access_rows` found, as `authz.enter` would make it, if it plainly may `permission`."""
    if not rows or len({(row.ws_id, row.root_id) for row in rows}) != 1:
        return None
    first = rows[0]
    is_main = first.kind == "main"
    if ws_ref is None and not is_main:
        return None
    role = effective_role(is_main, first.authorization_mode, first.role)
    if role is None or permission not in ROLES.get(role, ()):
        return None
    principal = Principal(first.account_id, first.account_name, is_main, first.root_id, first.authorization_mode)
    return Caller(principal, first.ws_id, first.ws_name, role)


def role_in(db: Session, principal: Principal, workspace_id: str) -> str | None:
    """The principal's role in a workspace, or None when it is not a member."""
    if principal.is_main:
        return "admin"
    role = db.scalar(
        select(Member.role).where(Member.workspace_id == workspace_id, Member.account_id == principal.account_id)
    )
    return effective_role(False, principal.mode, role)


def member_workspaces(db: Session, principal: Principal) -> list[tuple[Workspace, str]]:
    """Every workspace the principal may enter, with its role there."""
    workspaces = db.scalars(select(Workspace).order_by(Workspace.created_at, Workspace.id)).all()
    if principal.is_main:
        return [(w, "admin") for w in workspaces]
    roles = dict(
        db.execute(select(Member.workspace_id, Member.role).where(Member.account_id == principal.account_id)).all()
    )
    out = []
    for w in workspaces:
        role = effective_role(False, principal.mode, roles.get(w.id))
        if role:
            out.append((w, role))
    return out


def find_workspace(db: Session, ref: str) -> Workspace | None:
    """A workspace by id, else by name."""
    return db.get(Workspace, ref) or db.scalar(select(Workspace).where(Workspace.name == ref))


def enter(db: Session, principal: Principal, workspace_ref: str | None) -> Caller:
    """Resolve the workspace a request acts in, enforcing the access-denied rules and their hints."""
    if not workspace_ref:
        if not principal.is_main:
            names = [w.name for w, _ in member_workspaces(db, principal)]
            raise WorkspaceAccessDenied(
                f"A sub-account key must name a workspace; account '{principal.account_name}' did not.",
                hint=_pass_workspace_hint(names, principal.account_name),
            )
        ws = db.scalar(select(Workspace).where(Workspace.is_default.is_(True)))
        assert ws is not None, "every account has a default workspace"
        return Caller(principal, ws.id, ws.name, "admin")
    ws = find_workspace(db, workspace_ref)
    role = role_in(db, principal, ws.id) if ws is not None else None
    if ws is None or role is None:
        if principal.is_main:
            raise NotFound(
                f"Workspace {named(workspace_ref)} does not exist.",
                code="Workspace.NotFound",
                hint="List your workspaces with `modeldeck workspaces` or GET /api/v1/workspaces.",
            )
        # One answer for "missing" and "not a member": the existence of a workspace is not a sub-account's to know.
        names = [w.name for w, _ in member_workspaces(db, principal)]
        raise WorkspaceAccessDenied(
            f"Account '{principal.account_name}' is not a member of workspace {named(workspace_ref)}.",
            hint=_pass_workspace_hint(names, principal.account_name),
        )
    return Caller(principal, ws.id, ws.name, role)


def _pass_workspace_hint(names: list[str], account: str) -> str:
    if not names:
        return (
            f"Account '{account}' belongs to no workspace yet: ask a workspace admin to add it as a member "
            f"(deck.add_member(workspace, '{account}', role='developer')), then pass that workspace."
        )
    listed = ", ".join(f"'{n}'" for n in names[:10])
    return (
        f"Pass one of your workspaces ({listed}) with workspace=... in modeldeck "
        f"or the '{WORKSPACE_HEADER}' header."
    )


def named(workspace_ref: str) -> str:
    """The workspace a caller named, quoted for a message, unless it looks like a credential."""
    if echoable(workspace_ref):
        return f"'{workspace_ref}'"
    return f"(the value sent in {WORKSPACE_HEADER}, not shown: it does not look like a workspace name)"


def clip(text: str, limit: int = 80) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
