"""Operations endpoints: Prometheus metrics for the main account (a scraper holds its key)."""

from __future__ import annotations

from fastapi.responses import PlainTextResponse

from ...errors import AccessDenied
from .deps import PlatformDep, PrincipalDep
from .routing import Router

router = Router(tags=["health"], strict_query=True)
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(platform: PlatformDep, principal: PrincipalDep) -> PlainTextResponse:
    """Requests by route template and status, latencies, errors, uploads, loaded runtimes and tasks."""
    if not principal.is_main:
        raise AccessDenied(
            "Only the main account may read the platform's metrics.",
            code="Metrics.AccessDenied",
            hint="Configure the scraper with a key of the main account (Prometheus: authorization.credentials_file).",
        )
    return PlainTextResponse(platform.metrics.render(platform), media_type=PROMETHEUS_TEXT)
