"""The ModelArts agency: ModelArts reaches OBS (checkpoints, models' `source_location`) on a user's behalf
only through an IAM agency, which the main account creates (`POST /v2/{project_id}/agency`, named
`ma_agency_<suffix>`) and then delegates to users (`POST /v2/{project_id}/authorizations`, `user_id` an
account's id or `all`). Both are account-wide settings, kept in the store's `meta` table. Only agencies
are delegated here: a `credential` delegation would store an AccessKey secret, which is refused.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from .....errors import AccessDenied, InvalidParameter
from .... import accounts
from ....authz import Principal
from ....ids import utcnow
from ....schema import Account, Meta
from ...routing import Router
from ..huawei.deps import ProjectPrincipal

router = Router(tags=["modelarts"])
KEY = "huawei.modelarts.agency"
PREFIX = "ma_agency_"
EVERY_USER = "all"


def settings(db: Session) -> dict[str, Any]:
    row = db.get(Meta, KEY)
    return json.loads(row.value) if row else {"agencies": [], "authorizations": []}


def _save(db: Session, value: dict[str, Any]) -> None:
    db.merge(Meta(key=KEY, value=json.dumps(value)))  # inserted, or updated where it is kept already


def delegated(db: Session, principal: Principal) -> dict[str, Any] | None:
    """The agency delegation that lets ModelArts act for this account (its own, or the one for all users)."""
    found = [a for a in settings(db)["authorizations"] if a["user_id"] in (principal.account_id, EVERY_USER)]
    return found[0] if found else None


def require_delegated(db: Session, principal: Principal) -> None:
    if delegated(db, principal) is None:
        raise AccessDenied(
            "ModelArts has no agency delegated for this user, so it cannot read OBS on its behalf.",
            code="ModelArts.0107",
            hint="The main account creates the agency (POST /v2/{project_id}/agency) and delegates it to the user "
            "or to all (POST /v2/{project_id}/authorizations, type agency): Settings > Permission in the console, "
            "or deck.delegate_agency() with the main account's profile.",
        )  # fmt: skip


class AgencyRequest(BaseModel):
    agency_name_suffix: str = Field(pattern=r"^[A-Za-z0-9_-]{1,54}$")


@router.post("/v2/{project_id}/agency")
def create_model_arts_agency(request: Request, principal: ProjectPrincipal, body: AgencyRequest) -> dict[str, Any]:
    accounts.require_main(principal, "create the ModelArts agency")
    name = PREFIX + body.agency_name_suffix
    with request.app.state.platform.store.write() as db:
        value = settings(db)
        if name not in value["agencies"]:
            value["agencies"].append(name)
            _save(db, value)
    return {"agency_name": name}


class Authorization(BaseModel):
    user_id: str = Field(max_length=64)
    type: str
    content: str = Field(max_length=128)
    secret_key: str | None = None
    user_name: str | None = Field(default=None, max_length=64)
    user_type: str | None = None


@router.post("/v2/{project_id}/authorizations")
def create_authorization(request: Request, principal: ProjectPrincipal, body: Authorization) -> dict[str, Any]:
    """Delegate an agency to an account (by id) or to every user (`all`)."""
    accounts.require_main(principal, "delegate the ModelArts agency")
    if body.type != "agency" or body.secret_key:
        raise InvalidParameter("Only agency delegations are accepted (type agency, no secret_key).",
                               code="ModelArts.0101", hint="Delegate an agency: type agency, content ma_agency_….")  # fmt: skip
    with request.app.state.platform.store.write() as db:
        value = settings(db)
        if body.content not in value["agencies"]:
            raise InvalidParameter(f"There is no agency {body.content!r} yet.", code="ModelArts.0101",
                                   hint="Create it first: POST /v2/{project_id}/agency {agency_name_suffix}.")  # fmt: skip
        account = None if body.user_id == EVERY_USER else db.get(Account, body.user_id)
        if body.user_id != EVERY_USER and account is None:
            raise InvalidParameter("user_id is not an account of this domain.", code="ModelArts.0101",
                                   hint="Use an account id (GET /api/v1/accounts) or all.")  # fmt: skip
        entry = {"user_id": body.user_id, "type": "agency", "content": body.content,
                 "user_name": account.name if account else EVERY_USER, "user_type": "iam",
                 "create_time": int(utcnow().timestamp() * 1000)}  # fmt: skip
        value["authorizations"] = [a for a in value["authorizations"] if a["user_id"] != body.user_id] + [entry]
        _save(db, value)
    return {}


@router.get("/v2/{project_id}/authorizations")
def get_authorizations(request: Request, principal: ProjectPrincipal, limit: int = 1000, offset: int = 0) -> dict[str, Any]:
    """The delegations: all of them for the main account, a sub-account's own (or `all`) for it."""
    with request.app.state.platform.store.read() as db:
        listed = settings(db)["authorizations"]
    if not principal.is_main:
        listed = [a for a in listed if a["user_id"] in (principal.account_id, EVERY_USER)]
    return {"total_count": len(listed), "auth": listed[offset:offset + max(1, min(limit, 1000))]}
