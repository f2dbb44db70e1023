"""The main account, its sub-accounts and their credentials: API keys (shown once, stored hashed),
AccessKey pairs (the secret shown once, stored sealed) and short-lived tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..errors import AccessDenied, Conflict, InvalidParameter, NotFound
from . import events, fields
from .authz import Principal, clip
from .ids import key_digest, key_prefix, new_access_key, new_api_key, new_id, new_token, utcnow
from .pagination import PageRequest, keyset_page
from .schema import AccessKey, Account, ApiKey, Member, Token, Workspace
from .sealed import Sealer

ACTIVE, REVOKED = "Active", "Revoked"
TOKEN_TTL = (60, 43200)  # seconds: a minute to twelve hours

MAIN_ACCOUNT = "main"
DEFAULT_WORKSPACE = "default"


def provision(db: Session) -> str | None:
    """Create the main account, its default workspace and first key on a fresh store; return that key."""
    if db.scalar(select(Account.id).where(Account.kind == "main")) is not None:
        return None
    now = utcnow()
    main = Account(id=new_id("acc"), name=MAIN_ACCOUNT, kind="main", authorization_mode="strict", created_at=now)
    db.add(main)
    db.add(
        Workspace(
            id=new_id("ws"), account_id=main.id, name=DEFAULT_WORKSPACE, description="The default workspace.",
            is_default=True, created_at=now, updated_at=now,
        )
    )
    db.flush()
    return issue_key(db, main.id)[1]


def issue_key(db: Session, account_id: str) -> tuple[ApiKey, str]:
    key = new_api_key()
    row = ApiKey(
        id=new_id("key"), account_id=account_id, digest=key_digest(key), prefix=key_prefix(key), created_at=utcnow()
    )
    db.add(row)
    db.flush()
    return row, key


def require_main(principal: Principal, action: str) -> None:
    if not principal.is_main:
        raise AccessDenied(
            f"Only the main account can {action}.",
            hint="Ask the owner of the main account to do it.",
        )


def find_account(db: Session, ref: str, *, seen_by: Principal | None = None) -> Account:
    """An account by id or name. With `seen_by` a sub-account, only one it may know of (itself, or a member
    of a workspace it belongs to): any other gets the same answer as a missing one."""
    account = db.get(Account, ref) or db.scalar(select(Account).where(Account.name == ref))
    if account is None or (seen_by is not None and not _knows(db, seen_by, account)):
        raise NotFound(
            f"Account {clip(ref)!r} does not exist.",
            code="Account.NotFound",
            hint="Name an account that is a member of one of your workspaces; the main account adds others.",
        )
    return account


def _knows(db: Session, principal: Principal, account: Account) -> bool:
    if principal.is_main or principal.mode == "loose" or account.id == principal.account_id:
        return True  # in loose mode every sub-account is a member of every workspace
    mine = select(Member.workspace_id).where(Member.account_id == principal.account_id, Member.role != "none")
    shared = select(Member.account_id).where(Member.account_id == account.id, Member.workspace_id.in_(mine))
    return db.scalar(shared.limit(1)) is not None


def create_subaccount(db: Session, principal: Principal, name: str) -> tuple[Account, str]:
    require_main(principal, "create sub-accounts")
    fields.slug(name, "account")
    if db.scalar(select(Account.id).where(Account.name == name)) is not None:
        raise Conflict(
            f"Account '{name}' already exists.", code="Account.AlreadyExists", hint="Choose another name."
        )
    account = Account(id=new_id("acc"), name=name, kind="sub", authorization_mode="strict", created_at=utcnow())
    db.add(account)
    db.flush()
    return account, issue_key(db, account.id)[1]


def list_accounts(db: Session, principal: Principal, page: PageRequest) -> tuple[list[Account], str | None]:
    """Every account for the main account; a sub-account sees itself."""
    stmt = select(Account)
    if not principal.is_main:
        stmt = stmt.where(Account.id == principal.account_id)
    rows, nxt = keyset_page(db, stmt, (Account.name,), lambda row: [row[0].name], **page.bind("accounts"))
    return [row[0] for row in rows], nxt


def create_key(db: Session, principal: Principal, account_ref: str) -> tuple[ApiKey, str]:
    account = find_account(db, account_ref) if principal.is_main else db.get_one(Account, principal.account_id)
    if not principal.is_main and account_ref not in (account.id, account.name):
        raise AccessDenied("A sub-account can only create keys for itself.", hint="Ask the main account.")
    row, key = issue_key(db, account.id)
    events.publish(db, "key", "created", None, row.id, account=account.id)
    return row, key


def list_keys(
    db: Session, principal: Principal, account_ref: str, page: PageRequest
) -> tuple[list[ApiKey], str | None]:
    account = find_account(db, account_ref) if principal.is_main else db.get_one(Account, principal.account_id)
    if not principal.is_main and account_ref not in (account.id, account.name):
        raise AccessDenied("A sub-account can only list its own keys.", hint="Ask the main account.")
    stmt = select(ApiKey).where(ApiKey.account_id == account.id)
    rows, nxt = keyset_page(db, stmt, (ApiKey.id,), lambda row: [row[0].id], **page.bind(f"keys|{account.id}"))
    return [row[0] for row in rows], nxt


def revoke_key(db: Session, principal: Principal, key_id: str) -> ApiKey:
    row = db.get(ApiKey, key_id)
    if row is None or (not principal.is_main and row.account_id != principal.account_id):
        raise NotFound(f"Key {key_id!r} does not exist.", code="ApiKey.NotFound", hint="List your keys first.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        events.publish(db, "key", "deleted", None, row.id, account=row.account_id)
    return row


def set_authorization_mode(db: Session, principal: Principal, mode: str) -> Account:
    require_main(principal, "change the authorization mode")
    main = db.get_one(Account, principal.root_id)
    main.authorization_mode = fields.choice(mode, fields.AUTHORIZATION_MODES, "authorization mode")
    return main


# ---- AccessKey pairs -------------------------------------------------------------------------------------


def access_key_context(key_id: str) -> str:
    """What a sealed AccessKey secret is bound to: it opens in its own row only."""
    return f"access-key:{key_id}"


def create_access_key(db: Session, principal: Principal, sealer: Sealer, description: str) -> tuple[AccessKey, str]:
    """A new AccessKey pair for the caller's own account; the secret is returned this once."""
    key_id, secret = new_access_key()
    row = AccessKey(
        id=key_id, account_id=principal.account_id, secret=sealer.seal(secret, access_key_context(key_id)),
        description=fields.text(description, "description", 256), status=ACTIVE, created_at=utcnow(),
    )  # fmt: skip
    db.add(row)
    db.flush()
    return row, secret


def list_access_keys(
    db: Session, principal: Principal, account_ref: str | None, page: PageRequest
) -> tuple[list[tuple[AccessKey, str]], str | None]:
    """(key, account name) pairs: an account's own; every account's for the main account (`account_ref` filters)."""
    stmt = select(AccessKey, Account.name).join(Account, Account.id == AccessKey.account_id)
    if not principal.is_main:
        if account_ref not in (None, principal.account_id, principal.account_name):
            raise AccessDenied("A sub-account can only list its own AccessKeys.", hint="Ask the main account.")
        stmt = stmt.where(AccessKey.account_id == principal.account_id)
    elif account_ref is not None:
        stmt = stmt.where(AccessKey.account_id == find_account(db, account_ref).id)
    scope = f"access-keys|{principal.account_id if not principal.is_main else account_ref or '*'}"
    rows, nxt = keyset_page(db, stmt, (AccessKey.id,), lambda row: [row[0].id], **page.bind(scope))
    return [(row[0], row[1]) for row in rows], nxt


def revoke_access_key(db: Session, principal: Principal, key_id: str) -> None:
    """Revoke for good: signatures made with it are refused (403 AccessKey.Revoked) from now on."""
    row = db.get(AccessKey, key_id)
    if row is None or (not principal.is_main and row.account_id != principal.account_id):
        raise NotFound(
            f"AccessKey {clip(key_id)!r} does not exist.", code="AccessKey.NotFound",
            hint="List your AccessKeys with `modeldeck keys list`.",
        )  # fmt: skip
    if row.status != REVOKED:
        row.status, row.revoked_at = REVOKED, utcnow()


# ---- short-lived tokens ----------------------------------------------------------------------------------


def issue_token(db: Session, principal: Principal, ttl_seconds: object) -> tuple[str, datetime]:
    """A bearer token for the caller's account that expires by itself. A token cannot mint another."""
    low, high = TOKEN_TTL
    if not isinstance(ttl_seconds, int) or isinstance(ttl_seconds, bool) or not low <= ttl_seconds <= high:
        raise InvalidParameter(
            f"ttl_seconds must be a whole number of seconds from {low} to {high}.",
            code="InvalidParameter.TokenTtl", hint='Send {"ttl_seconds": 3600} for an hour.',
        )  # fmt: skip
    if principal.credential == "token":
        raise AccessDenied(
            "A token cannot issue tokens.", code="Token.NotAllowed",
            hint="Ask for tokens with an API key or an AccessKey signature.",
        )  # fmt: skip
    now = utcnow()
    db.execute(delete(Token).where(Token.expires_at <= now))  # expired ones are of no use to anyone
    token = new_token()
    expires = now + timedelta(seconds=ttl_seconds)
    db.add(Token(digest=key_digest(token), account_id=principal.account_id, created_at=now, expires_at=expires))
    return token, expires
