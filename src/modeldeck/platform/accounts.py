"""The main account, its sub-accounts and their API keys (shown once, stored hashed)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import AccessDenied, Conflict, NotFound
from . import events, fields
from .authz import Principal
from .ids import key_digest, key_prefix, new_api_key, new_id, utcnow
from .pagination import PageRequest, keyset_page
from .schema import Account, ApiKey, Workspace

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


def find_account(db: Session, ref: str) -> Account:
    account = db.get(Account, ref) or db.scalar(select(Account).where(Account.name == ref))
    if account is None:
        raise NotFound(
            f"Account {ref!r} does not exist.", code="Account.NotFound", hint="List accounts with GET /api/v1/accounts."
        )
    return account


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
