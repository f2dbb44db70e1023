"""Ids as Huawei Cloud writes them, stable over the platform's own.

Projects: one per region of the account (the main account is the IAM domain; its sub-accounts are its IAM
users and share its projects), `sha256(root account id, region)` cut to 32 hex. The domain id likewise.
ModelArts workspaces: the default one is "0"; another is 32 hex, a hash of its id followed by its 12 hex,
so it maps back without a lookup table.
"""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from .....errors import InvalidParameter, NotFound
from .....providers.huawei.endpoints import REGION_IDS
from ....schema import Workspace

DEFAULT_WORKSPACE = "0"
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def _digest(*parts: str) -> str:
    return hashlib.sha256(":".join(("modeldeck", *parts)).encode()).hexdigest()


def domain_id(root_id: str) -> str:
    return _digest("domain", root_id)[:32]


def project_id(root_id: str, region: str) -> str:
    return _digest("project", root_id, region)[:32]


def projects(root_id: str) -> dict[str, str]:
    """The account's projects: id -> region."""
    return {project_id(root_id, region): region for region in REGION_IDS}


def region_of(root_id: str, project: str) -> str:
    """The region of one of the account's projects; a missing project id or another's is refused."""
    if project in ("{project_id}", "%7Bproject_id%7D", ""):
        raise InvalidParameter(
            "The request has no project id (the path still says {project_id}).", code="ProjectId.Missing",
            hint="Give the SDK a project id (BasicCredentials(ak, sk, project_id), HUAWEICLOUD_SDK_PROJECT_ID), "
            "or build the client with_region(...) so it looks the id up in IAM.",
        )  # fmt: skip
    region = projects(root_id).get(project)
    if region is None:
        raise NotFound(
            "The project id is not one of this account's projects.", code="ProjectId.NotFound",
            hint="Look the id up with GET /v3/projects?name=<region> (the SDK does, built with_region).",
        )  # fmt: skip
    return region


def workspace_id(ws: Workspace) -> str:
    """The ModelArts id of a platform workspace."""
    return DEFAULT_WORKSPACE if ws.is_default else _digest("workspace", ws.id)[:20] + ws.id[-12:]


def find_workspace(db: Session, cloud_id: str) -> Workspace | None:
    """The platform workspace behind a ModelArts workspace id (None: no such workspace)."""
    if cloud_id == DEFAULT_WORKSPACE:
        return db.scalar(select(Workspace).where(Workspace.is_default.is_(True)))
    if not _HEX32.match(cloud_id):
        return None
    ws = db.get(Workspace, "ws-" + cloud_id[-12:])
    return ws if ws is not None and workspace_id(ws) == cloud_id else None
