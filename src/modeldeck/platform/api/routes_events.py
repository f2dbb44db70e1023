"""`GET /api/v1/events`: the caller's change events as server-sent events (docs/events.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ...errors import InvalidParameter
from .. import events
from .deps import PlatformDep, PrincipalDep
from .routing import Router

router = Router(prefix="/api/v1", tags=["events"], strict_query=True)


def _last_id(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise InvalidParameter(
            "Last-Event-ID must be the id of an event this stream sent (a whole number).",
            code="InvalidParameter.LastEventId",
            hint="Send back the `id:` of the last event received, or no Last-Event-ID to start from now.",
        )
    return int(value)


@router.get("/events")
def subscribe(
    platform: PlatformDep,
    principal: PrincipalDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Changes to workspaces, members, models, versions, grants, tasks and keys the caller may see, as
    `event: change` frames whose `id` resumes the stream; `event: resync` when a gap cannot be filled."""
    after = _last_id(last_event_id)
    audience = events.Audience(platform.store, principal)
    head = platform.events.read_head()  # before the answer starts: every later commit is in the stream
    body = events.stream(platform.events, audience, head, after, run_in_threadpool)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)
