"""What a provider is: one platform family's wire knowledge, as data plus small functions.

A provider says what it can do (its capabilities), where its credentials come from in its platform's own
conventions, how a request is authenticated (an `httpx.Auth`), how each leaf operation becomes calls and
its responses records (plans: generators that yield a `Call` and return a record), how an error body
becomes a typed `DeckError`, how its server-sent events become `Chunk`s, and how a checkpoint is put on
the platform. `Deck` drives and composes the plans; the surfaces read `capabilities`, never a kind.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx

from .._http import Call, Credentials, ErrorDecoder, service_url
from .._stream import Decoder
from ..errors import InvalidParameter
from ..resources import Resource

R = TypeVar("R", bound=Resource)

# What a deck may be able to do. Each public operation of Deck needs one of them; surfaces show only what
# the connected provider has.
CAPABILITIES = frozenset({
    "workspaces", "switch", "create_workspace", "members", "accounts", "models", "grants", "versions",
    "register", "approve", "predict", "chat", "tasks", "keys", "endpoints", "events", "deployments",
})  # fmt: skip

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Context:
    """What the deck knows beyond its requests, for a provider's upload step and plans that need it: the
    profile's service endpoints, credentials (masked in every repr) and provider settings (`options`:
    `pai_workspace`, `oss_bucket`, ...). An upload step also gets the deck's blocking `client` (None for
    plans), for a platform that takes uploads on its own API (its auth and workspace header set)."""

    services: Mapping[str, str] = field(default_factory=dict)
    credentials: Credentials = field(default_factory=Credentials)
    options: Mapping[str, str] = field(default_factory=dict)
    client: httpx.Client | None = field(default=None, repr=False)

    def service(self, name: str) -> str:
        """The base URL of one of the provider's other services, or the error that says how to give it."""
        return service_url(self.services, name)

    def option(self, name: str, hint: str) -> str:
        """A profile setting the operation cannot go without, or the error that says where to set it."""
        value = self.options.get(name)
        if not value:
            raise InvalidParameter(f"This profile has no {name}.", code="Profile.Invalid", hint=hint)
        return value


UploadFn = Callable[[Context, Path, "Progress | None"], dict[str, Any]]


# ---- the plan steps the drivers (Deck, AsyncDeck) carry out besides a Call ------------------------------


@dataclass(frozen=True)
class Ask:
    """Answered with the deck's `Context`: how a plan reads a profile setting (`context = yield ASK`)."""


ASK = Ask()


@dataclass(frozen=True)
class Upload:
    """Put a local checkpoint on the platform with the provider's upload step.

    `progress`: True for a tqdm bar, or a callable given each increment of bytes sent (raising in it
    abandons the upload, which a later register of the same file resumes).
    """

    path: Path
    progress: bool | Progress


@dataclass(frozen=True)
class Stream:
    """Answered with an open stream of chat chunks, decoded in the provider's dialect (or in `chunks`'s,
    for a stream of another protocol than the provider's main one: an EAS service's OpenAI-style chat)."""

    call: Call
    chunks: Callable[[], Decoder] | None = None


@dataclass(frozen=True)
class Pause:
    """Wait this long before the next call: polling a platform that cannot hold a request until a change
    is done (the native API's `?wait=`)."""

    seconds: float


@dataclass(frozen=True)
class Page(Generic[R]):
    """A lazily paged listing: `items` names the list in each page's body, `next_cursor` the next page."""

    kind: type[R]
    path: str
    params: dict[str, Any]
    title: str
    convert: Callable[[dict[str, Any]], R] | None = None  # how a listed item becomes a record
    items: str = "items"
    # A platform that pages otherwise (page numbers, tokens): (cursor, limit) -> a plan of (records, next cursor)
    fetch: Callable[[str | None, int | None], Any] | None = None
    # what a part of the listing could not show (DeckErrors a `fetch` adds as it reaches them): Listing.notes
    notes: list[Any] = field(default_factory=list)


def page_plan(
    page: Page[R], cursor: str | None, limit: int | None = None
) -> Generator[Call, httpx.Response, tuple[list[R], str | None]]:
    """One page of a listing (of at most `limit` records): its records and the cursor of the next page
    (None on the last)."""
    if page.fetch is not None:
        return (yield from page.fetch(cursor, limit))
    params = {**page.params, **({"cursor": cursor} if cursor else {}), **({"limit": limit} if limit else {})}
    body = (yield Call("GET", page.path, params=params)).json()
    convert = page.convert or page.kind.from_json
    return [convert(item) for item in body.get(page.items, [])], body.get("next_cursor")


class ApiKeyAuth(httpx.Auth):
    """Bearer auth (an API key or a token) whose repr never shows it."""

    def __init__(self, key: str) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._key}"
        yield request

    def __repr__(self) -> str:
        return "ApiKeyAuth(key=***)"


@dataclass(frozen=True)
class Provider:
    """One platform family. Instances are module constants (`native.PROVIDER`, `openai.PROVIDER`)."""

    name: str
    title: str  # how messages name it: "An OpenAI-compatible server"
    kinds: tuple[str, ...]  # the profile kinds it serves
    capabilities: frozenset[str]
    service: str  # its main API's name among a platform's endpoints ("native", "openai", later "dashscope")
    plans: Any  # the leaf plans, by operation name (a namespace of generator functions)
    auth: Callable[[Credentials], httpx.Auth | None]
    error: ErrorDecoder
    chunks: Callable[[], Decoder]  # a fresh decoder for each stream
    # secret name (Credentials' fields) -> the environment variables its platform's tools read, in order
    environment: Mapping[str, tuple[str, ...]]
    needs_credentials: bool = True
    workspace_header: str | None = None  # where the current workspace travels, if the platform has workspaces
    regions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # region -> service -> base URL
    upload: UploadFn | None = None  # put a local checkpoint where its versions can name it: -> {"uri": ...}
    openai_base: Callable[[str], str] | None = None  # where an OpenAI SDK is pointed, from the deck's URL
    # The platform's own environment variables for the workspace, the region and the main service's URL
    # (as its SDK reads them; `url_from_environment` turns the SDK's base URL into the provider's).
    workspace_environment: tuple[str, ...] = ()
    region_environment: tuple[str, ...] = ()
    url_from_environment: Callable[[Mapping[str, str]], str | None] | None = None
    # profile setting (modeldeck.profiles.OPTIONS) -> the environment variables its platform's tools read
    options_environment: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # the `Model.source`s its `model(ref, source)` plan can be told to look in, where a name may be in several
    model_sources: tuple[str, ...] = ()
    # the engines its deployments run on (`deck.deploy(engine=)`): a cloud's services run on the cloud's own
    engines: tuple[str, ...] = ("local",)

    def endpoint(self, region: str | None, endpoints: Mapping[str, str], url: str | None) -> str | None:
        """The base URL of the main service: a per-service override, the profile's url, the region's default."""
        if self.service in endpoints:
            return endpoints[self.service]
        if url:
            return url
        return self.regions.get(region or "", {}).get(self.service)

    def services(self, region: str | None, endpoints: Mapping[str, str]) -> dict[str, str]:
        """The base URLs of its other services: the region's defaults, then the profile's overrides."""
        found = {**self.regions.get(region or "", {}), **endpoints}
        found.pop(self.service, None)
        return found


def bearer(credentials: Credentials) -> httpx.Auth | None:
    """The API key (or token) as a bearer, for providers that know no other scheme."""
    key = credentials.api_key or credentials.token
    return ApiKeyAuth(key) if key else None
