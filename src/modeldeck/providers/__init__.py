"""The platforms the client speaks, one module each, found by profile kind.

`native` is the modeldeck platform (kinds `local` and `server`), `openai` any OpenAI-compatible server
(kind `openai`); the clouds' families join as modules of their own. docs/adding-a-provider.md says how.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidParameter, Unsupported

if TYPE_CHECKING:  # importing the package stays light: the CLI lists profiles without loading httpx
    from .base import Provider

# The profile kinds, one vocabulary for profiles, settings, DeckState and the view; a kind's provider
# module is imported only when a profile of that kind is used.
KINDS = ("local", "server", "openai", "alibaba", "huawei")


def for_kind(kind: str) -> Provider:
    """The provider serving a profile kind."""
    if kind in ("local", "server"):
        from .native import PROVIDER
    elif kind == "openai":
        from .openai import PROVIDER
    elif kind == "alibaba":
        from .alibaba import PROVIDER
    elif kind == "huawei":
        from .huawei import PROVIDER
    else:
        raise InvalidParameter(
            f"Profile kind {kind!r} is not one this version can connect to.",
            code="Profile.Invalid",
            hint=f"Use a profile of kind {', '.join(KINDS)} (a server or openai profile needs a url).",
        )
    return PROVIDER


def kinds_with(capability: str) -> list[str]:
    """The profile kinds whose provider has `capability`."""
    return [kind for kind in KINDS if capability in for_kind(kind).capabilities]


def require(provider: Provider, capability: str) -> None:
    """Refuse, before anything is sent, what the provider cannot do; the hint names the kinds that can."""
    if capability in provider.capabilities:
        return
    able = kinds_with(capability)
    raise Unsupported(
        f"{provider.title} has no {capability.replace('_', ' ')} (the {capability!r} capability).",
        hint=(f"Use a profile of kind {' or '.join(able)} for this" if able else "No profile kind can do this yet")
        + f"; deck.capabilities lists what this one can do ({', '.join(sorted(provider.capabilities))}).",
    )
