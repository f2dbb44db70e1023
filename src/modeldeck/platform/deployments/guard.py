"""Who may call a deployment's replicas: a key whose account may `invoke` in the deployment's workspace.
Replicas are reached without the platform in between, so they check this themselves, against the same
store (the platform's own predict route forwards its caller's key, so no secret of its own is needed)."""

from __future__ import annotations

from ...errors import AccessDenied
from .. import fastpath
from ..authz import ROLES, authenticate, bearer, role_in
from ..db import Store
from ..ids import key_digest


class Guard:
    def __init__(self, database_url: str, workspace_id: str) -> None:
        self.store = Store(database_url)
        self.workspace_id = workspace_id

    def check(self, authorization: str | None) -> None:
        """Return when the caller may predict here; raise the platform's typed error otherwise."""
        key = bearer(authorization)
        # Allowed callers are remembered while the database is unchanged; refusals are computed each time.
        fastpath.remember(self, ("deployment", key_digest(key or ""), self.workspace_id), lambda: self._allowed(key))

    def _allowed(self, key: str | None) -> bool:
        with self.store.read() as db:
            principal = authenticate(db, key)
            role = role_in(db, principal, self.workspace_id)
        if "invoke" not in ROLES.get(role or "", ()):
            raise AccessDenied(
                f"Account '{principal.account_name}' may not call deployments of this workspace.",
                hint="Ask an admin of the deployment's workspace for a role that allows 'invoke' (developer).",
            )
        return True
