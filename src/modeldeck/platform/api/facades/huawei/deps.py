"""The project a Huawei request acts in: the `{project_id}` of its path must be one of the caller's
account's projects (a path that still says `{project_id}` is refused with what to configure)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from ....authz import Principal
from ...deps import PrincipalDep
from .ids import region_of


async def project_principal(project_id: str, principal: PrincipalDep) -> Principal:
    region_of(principal.root_id, project_id)
    return principal


ProjectPrincipal = Annotated[Principal, Depends(project_principal)]
