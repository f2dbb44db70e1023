"""What a facade is: a foreign protocol, served by a sub-app mounted at its own prefix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import Response

from ...context import Services

# A hot route answered before routing (POST /v1/chat/completions): the request in, the response out.
Lane = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Facade:
    """A protocol the platform answers from the same services as its native API.

    `prefix` is where its sub-app is mounted; `base` is the base URL its official SDK is configured with,
    relative to the server's URL (the key `name` of GET /api/v1/endpoints). `lanes` are routes of the
    sub-app that the platform hands to their handler before routing, for speed; `roots` the paths it takes
    at the root.
    """

    name: str
    prefix: str
    base: str
    build: Callable[[Services], FastAPI]
    lanes: Mapping[str, Lane] = field(default_factory=dict)  # POST path -> handler
    # Paths it answers at the server's root, for SDKs that keep only an endpoint's host (Huawei's): regexes
    # matched against the request path, which is then routed under `prefix` (the raw path stays as sent).
    roots: tuple[str, ...] = ()
