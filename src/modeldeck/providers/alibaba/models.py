"""The `alibaba` kind's one model list, both worlds of the account in it: Model Studio's models the
workspace may call (DashScope, `source="authorized"`: chat, authorize), then the PAI registry's models of
the profile's PAI workspace (`source="pai"`: versions, register, approve, deploy as an EAS service). The
panel tells them apart by `source` (docs/clouds/alibaba.md, "PAI and EAS in the panel").

PAI's part needs the AccessKey pair and a `pai` endpoint; a profile with only the API key lists Model
Studio's. A PAI workspace that refuses the caller (not a member) leaves Model Studio's rows listed and
adds a note saying what to do (`Listing.notes`). The cursor names the service it continues:
`dashscope:<page>` or `pai:<page>`. `model(ref)` looks in both, or in the one `source` names.
"""

from __future__ import annotations

from typing import Any

from ...errors import AccessDenied, InvalidParameter, ModelAccessDenied, NotFound
from ...resources import Model
from ..base import ASK, Page
from . import dashscope, pai

SOURCES = ("authorized", "pai")


def _with_registry():  # type: ignore[no-untyped-def]
    context = yield ASK
    pair = context.credentials.access_key_id and context.credentials.access_key_secret
    return bool(pair) and "pai" in context.services


def models(params: dict[str, Any]) -> Page[Model]:
    studio = dashscope.models(params).fetch
    registry = pai.models_page(params.get("query"))
    assert studio is not None
    notes: list[Any] = []

    def fetch(cursor: str | None, limit: int | None):  # type: ignore[no-untyped-def]
        service, _, page = (cursor or "dashscope:").partition(":")
        if service == "dashscope":
            items, more = yield from studio(page or None, limit)
            if more:
                return items, f"dashscope:{more}"
            return items, ("pai:" if (yield from _with_registry()) else None)
        try:
            items, more = yield from registry(page or None, limit)
        except AccessDenied as refused:  # no member of the PAI workspace: Model Studio's rows stay listed
            notes[:] = [refused]
            return [], None
        return items, (f"pai:{more}" if more else None)

    return Page(Model, dashscope.PERMISSIONS, {}, "models", fetch=fetch, notes=notes)


def model(ref: str, source: str | None = None):  # type: ignore[no-untyped-def]
    """Model Studio's authorized model `ref`, or the PAI registry's model named `ref` (or with that ModelId);
    a ref both hold is ambiguous unless `source` picks one."""
    registry = source != "authorized" and (yield from _with_registry())
    if source == "pai" and not registry:
        raise InvalidParameter("This profile does not reach PAI's registry.", code="InvalidParameter.Source",
                               hint="Give the profile the account's AccessKey pair (ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET) "
                               "and a pai endpoint or region.")  # fmt: skip
    studio, denied = None, None
    if source != "pai":
        try:
            studio = yield from dashscope.model(ref)
        except ModelAccessDenied as refused:
            denied = refused
    try:
        found = (yield from pai.model(ref)) if registry else None
    except AccessDenied:
        if studio is None:
            raise
        return studio  # PAI refuses the caller (not a member): Model Studio's is the one it can see
    if studio is not None and found is not None:
        raise InvalidParameter(f"Both Model Studio and PAI's registry have a model {ref!r}.", code="Model.Ambiguous",
                               hint=f"Pick one: deck.model({ref!r}, source='pai') for PAI's (or its ModelId "
                               f"{found.id!r}), source='authorized' for Model Studio's.")  # fmt: skip
    if studio is not None or found is not None:
        return studio or found
    ws = (yield from pai.workspace_id()) or "(the account's default)"
    if source == "pai":
        raise NotFound(f"PAI workspace {ws} has no model {ref!r}.", code="Model.NotFound",
                       hint="List PAI's models with deck.models() (source 'pai'), or register one: deck.register(name, path).")  # fmt: skip
    assert denied is not None
    if registry:
        raise ModelAccessDenied(f"{denied.message} PAI workspace {ws} has no model {ref!r} either.",
                                hint=f"Check the name: deck.models() lists both (source 'authorized' and 'pai'). {denied.hint}")  # fmt: skip
    raise denied
