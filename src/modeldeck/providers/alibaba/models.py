"""The `alibaba` kind's one model list, both worlds of the account in it: Model Studio's models the
workspace may call (DashScope, `source="authorized"`: chat, authorize), then the PAI registry's models of
the profile's PAI workspace (`source="pai"`: versions, register, approve, predict through EAS). The panel
tells them apart by `source` (docs/clouds/alibaba.md, "PAI and EAS in the panel").

PAI's part needs the AccessKey pair and a `pai` endpoint; a profile with only the API key lists Model
Studio's. The cursor names the service it continues: `dashscope:<page>` or `pai:<page>`.
"""

from __future__ import annotations

from typing import Any

from ...resources import Model
from ..base import ASK, Page
from . import dashscope, pai


def _with_registry():  # type: ignore[no-untyped-def]
    context = yield ASK
    pair = context.credentials.access_key_id and context.credentials.access_key_secret
    return bool(pair) and "pai" in context.services


def models(params: dict[str, Any]) -> Page[Model]:
    studio = dashscope.models(params).fetch
    registry = pai.models_page(params.get("query"))
    assert studio is not None

    def fetch(cursor: str | None, limit: int | None):  # type: ignore[no-untyped-def]
        service, _, page = (cursor or "dashscope:").partition(":")
        if service == "dashscope":
            items, more = yield from studio(page or None, limit)
            if more:
                return items, f"dashscope:{more}"
            return items, ("pai:" if (yield from _with_registry()) else None)
        items, more = yield from registry(page or None, limit)
        return items, (f"pai:{more}" if more else None)

    return Page(Model, dashscope.PERMISSIONS, {}, "models", fetch=fetch)
