"""The foreign protocols the platform speaks, each a sub-app mounted at its own path prefix.

The rule (docs/architecture.md, "Facades"): a protocol lives under a prefix named after it, and its
official SDK is configured with a base URL that includes that prefix (`dashscope.base_http_api_url =
<server>/dashscope/api/v1`), so a protocol's paths never meet the native `/api/v1` or each other's.
OpenAI's `/v1` predates the rule and keeps its place: it cannot collide with `/api/v1`.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from . import aiworkspace, dashscope, eas, iam, modelarts, modelstudio, openai, pangu, sts
from .base import Facade

FACADES: tuple[Facade, ...] = (
    openai.FACADE, dashscope.FACADE, modelstudio.FACADE, aiworkspace.FACADE, eas.FACADE, iam.FACADE, modelarts.FACADE,
    pangu.FACADE, sts.FACADE,
)


def endpoints(base: str, facades: Sequence[Facade] = FACADES) -> dict[str, str]:
    """Each protocol's base URL, exactly as its official SDK wants it configured. The object stores' is
    the server's origin: their SDKs keep no path (`objects`), so behind a proxy they reach its root."""
    base = base.rstrip("/")
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    return {"native": base, **{f.name: base + f.base for f in facades}, "oss": origin, "obs": origin}


def check_prefixes(facades: Sequence[Facade]) -> None:
    """Refuse a set of facades whose prefixes could take each other's (or the native API's) paths."""
    taken = ["/api", "/health", "/docs", "/redoc", "/openapi.json"]
    for facade in facades:
        clash = next((p for p in taken if _nested(p, facade.prefix)), None)
        if clash is not None or not facade.prefix.startswith("/") or facade.prefix.endswith("/"):
            raise ValueError(f"facade {facade.name!r} at {facade.prefix!r} would share paths with {clash!r}")
        taken.append(facade.prefix)


def _nested(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


__all__ = ["FACADES", "Facade", "check_prefixes", "endpoints"]
