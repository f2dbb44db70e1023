"""PAI workspace ids: numeric strings (as PAI writes them, `12345`), one for each platform workspace.

The platform's `ws-<12 hex>` is the number in hex: `ws-00000000a1b2` is `41394`. The mapping is stable and
reversible, so the eas facade names the same workspace the same way (`pai_workspace_id`).
"""

from __future__ import annotations

import re

from .....errors import InvalidParameter

_PLATFORM = re.compile(r"^ws-(?P<hex>[0-9a-f]{12})$")
_PAI = re.compile(r"^[0-9]{1,15}$")


def pai_workspace_id(workspace_id: str) -> str:
    """The platform's workspace id as PAI writes one (a decimal number)."""
    found = _PLATFORM.match(workspace_id)
    if found is None:
        raise ValueError(f"not a platform workspace id: {workspace_id!r}")
    return str(int(found["hex"], 16))


def platform_workspace_id(pai_id: str) -> str:
    """The platform workspace a PAI workspace id names; a caller's malformed id is a 400."""
    value = pai_id.strip()
    if not _PAI.match(value) or int(value) >= 16**12:
        raise InvalidParameter(f"WorkspaceId {value[:40]!r} is not a PAI workspace id.",
                               code="InvalidParameter.WorkspaceId",
                               hint="Pass the numeric WorkspaceId that ListWorkspaces returns.")  # fmt: skip
    return f"ws-{int(value):012x}"
