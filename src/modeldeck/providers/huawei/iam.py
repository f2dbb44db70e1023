"""IAM for the provider: which credential authenticates a request, the project it acts in, and IAM tokens.

Plans write paths with the SDK's own `{project_id}` template; `HuaweiAuth` fills it in, as the SDK's
credentials do, and sends `X-Project-Id`. The project id is `HUAWEICLOUD_SDK_PROJECT_ID`, else looked up
once per region (`GET /v3/projects?name=<region>`, the SDK's lookup) or read from the token's scope.

- With an AccessKey pair (`HUAWEICLOUD_SDK_AK` / `_SK`, optional `_SECURITY_TOKEN`): every request is
  signed SDK-HMAC-SHA256 (`auth.SdkHmacAuth`).
- Otherwise with a password (`HUAWEICLOUD_PASSWORD`; on the local platform an API key of the account) and
  `HUAWEICLOUD_USER_NAME` (and `HUAWEICLOUD_DOMAIN_NAME`, the user's own name if unset): a token is asked
  for with `POST /v3/auth/tokens`, scoped to the project, kept per project and asked for again 15 minutes
  before it expires (one IAM round trip per token lifetime, not per call), sent as `X-Auth-Token`; a token
  refused with 401 before its time is replaced once.
- Or a ready token (`token` in the profile): sent as it is.

The IAM endpoint is `HUAWEICLOUD_SDK_IAM_ENDPOINT` (what the SDK reads), else `iam.<region>` beside a
`*.myhuaweicloud.com` service host, else the service's own origin (the local facades answer IAM there).
"""

from __future__ import annotations

import calendar
import json
import os
import re
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime

import httpx

from ..._http import Credentials
from ..._version import __version__
from ...errors import InvalidApiKey, InvalidParameter
from .auth import SdkHmacAuth

PLACEHOLDER = b"%7Bproject_id%7D"
WORKSPACE_PLACEHOLDER = b"%7Bworkspace_id%7D"
# The current workspace (deck.use) travels to this flow in this header, never on the wire: ModelArts takes it
# in the path (`{workspace_id}`), or as `workspace_id` in the query or JSON body of its models calls.
WORKSPACE_HEADER = "X-Modeldeck-ModelArts-Workspace"
REFRESH_BEFORE = 15 * 60  # seconds before a token's expiry it is replaced
DEFAULT_REGION = "cn-north-4"
_CLOUD_HOST = re.compile(r"^(?P<service>[a-z0-9-]+)\.(?P<region>[a-z]{2}-[a-z]+-\d+)\.(?P<suffix>myhuaweicloud\.(com|cn))$")
_AUX = "modeldeck.huawei.iam"  # marks the requests this flow makes itself (their bodies are read)
# What the client's own requests carry and these need too (the SDK signs its User-Agent)
_AUX_HEADERS = {"Accept": "*/*", "User-Agent": f"modeldeck/{__version__}"}


@dataclass(frozen=True)
class Identity:
    """Where IAM is and who asks it: the settings the SDK reads from its environment, plus the password's."""

    project_id: str | None = None
    region: str | None = None
    iam_endpoint: str | None = None
    user_name: str | None = None
    domain_name: str | None = None

    @classmethod
    def from_environment(cls) -> Identity:
        env = os.environ.get
        return cls(env("HUAWEICLOUD_SDK_PROJECT_ID"), env("HUAWEICLOUD_SDK_REGION"), env("HUAWEICLOUD_SDK_IAM_ENDPOINT"),
                   env("HUAWEICLOUD_USER_NAME"), env("HUAWEICLOUD_DOMAIN_NAME"))  # fmt: skip


def where(url: httpx.URL, identity: Identity) -> tuple[str, str]:
    """(region, IAM base URL) for a request to `url`."""
    cloud = _CLOUD_HOST.match(url.host)
    region = identity.region or (cloud["region"] if cloud else DEFAULT_REGION)
    if identity.iam_endpoint:
        return region, identity.iam_endpoint.rstrip("/")
    if cloud:
        return region, f"https://iam.{region}.myhuaweicloud.com"
    return region, f"{url.scheme}://{url.netloc.decode('ascii')}"


def token_body(user: str, password: str, domain: str, region: str) -> dict:
    """The password method, as `huaweicloudsdkiam` writes it (key order included), scoped to a region's project."""
    identity = {"methods": ["password"], "password": {"user": {"domain": {"name": domain}, "name": user, "password": password}}}
    return {"auth": {"identity": identity, "scope": {"project": {"name": region}}}}


def _expiry(value: str | None) -> float:
    try:
        return float(calendar.timegm(datetime.strptime(value or "", "%Y-%m-%dT%H:%M:%S.%fZ").timetuple()))
    except ValueError:
        return time.time() + 3600.0  # IAM said nothing usable: keep it an hour


def place(request: httpx.Request, workspace: str) -> None:
    """Put the current workspace where ModelArts reads it: the path's `{workspace_id}`, else the `workspace_id`
    of a models call or of the services collection (JSON body of a POST, query otherwise) unless the plan set one."""
    raw = request.url.raw_path
    if WORKSPACE_PLACEHOLDER in raw:
        request.url = request.url.copy_with(raw_path=raw.replace(WORKSPACE_PLACEHOLDER, workspace.encode()))
    elif b"/models" not in (path := raw.partition(b"?")[0]) and not path.endswith(b"/services"):
        return  # models calls, and the services collection (create, list), name their workspace
    elif request.method == "POST" and request.content:
        body = json.loads(request.content)
        if "workspace_id" not in body:
            body["workspace_id"] = workspace
            content = json.dumps(body).encode()
            request.stream, request._content = httpx.ByteStream(content), content
            request.headers["Content-Length"] = str(len(content))
    elif "workspace_id" not in request.url.params:
        request.url = request.url.copy_merge_params({"workspace_id": workspace})


class HuaweiAuth(httpx.Auth):
    """The provider's credentials on every request: AK/SK signatures, or IAM tokens per project."""

    requires_request_body = True

    def __init__(self, credentials: Credentials, identity: Identity) -> None:
        pair = credentials.access_key_id and credentials.access_key_secret
        self.credentials = credentials  # its repr shows no secret; the OBS upload signs with the same pair
        self._signer = SdkHmacAuth(credentials.access_key_id or "", credentials.access_key_secret or "",
                                   credentials.security_token) if pair else None  # fmt: skip
        self._password = credentials.api_key
        self._fixed_token = credentials.token
        self._identity = identity
        self._projects: dict[str, str] = {}  # region -> project id
        self._tokens: dict[str, tuple[str, float]] = {}  # project id -> (token, expires at)
        self._lock = threading.Lock()
        self.iam_round_trips = 0  # tokens asked for, for the bench's "one per token lifetime"

    def __repr__(self) -> str:
        return f"HuaweiAuth(access_key={self._signer!r}, password={'***' if self._password else None})"

    # -- the flow, written once for the sync and async clients --------------------------------------

    def _flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        region, iam = where(request.url, self._identity)
        project = self._identity.project_id or self._projects.get(region)
        if self._signer is None and self._fixed_token is None:
            token = yield from self._token(region, iam, project)
            project = project or self._projects.get(region)
        elif project is None and PLACEHOLDER in request.url.raw_path:
            project = yield from self._lookup(region, iam)
        if project:
            request.url = request.url.copy_with(raw_path=request.url.raw_path.replace(PLACEHOLDER, project.encode()))
            request.headers["X-Project-Id"] = project
        place(request, request.headers.pop(WORKSPACE_HEADER, None) or "0")
        if self._signer is not None:
            self._signer.sign(request)
        else:
            request.headers["X-Auth-Token"] = self._fixed_token or token
        response = yield request
        if response.status_code == 401 and self._signer is None and self._fixed_token is None:
            # IAM's token was refused before its time (revoked, the platform restarted): ask once more
            with self._lock:
                self._tokens.pop(project or f"region:{region}", None)
            request.headers["X-Auth-Token"] = yield from self._token(region, iam, project)
            yield request

    def _lookup(self, region: str, iam: str) -> Generator[httpx.Request, httpx.Response, str]:
        """GET /v3/projects?name=<region>, signed (or with the token), as the SDK's BasicCredentials does."""
        lookup = httpx.Request("GET", f"{iam}/v3/projects", params={"name": region}, headers=_AUX_HEADERS,
                               extensions={_AUX: True})  # fmt: skip
        if self._signer is not None:
            self._signer.sign(lookup)
        else:
            lookup.headers["X-Auth-Token"] = self._fixed_token or ""
        response = yield lookup
        found = response.json().get("projects") if response.is_success else None
        if not found or len(found) != 1:
            raise InvalidParameter(
                f"IAM did not name exactly one project for region {region!r} ({response.status_code}).",
                code="ProjectId.NotFound",
                hint="Set HUAWEICLOUD_SDK_PROJECT_ID (My Credentials > API Credentials in the console), or the "
                "right region (HUAWEICLOUD_SDK_REGION / the profile's region) and HUAWEICLOUD_SDK_IAM_ENDPOINT.",
            )  # fmt: skip
        self._projects[region] = found[0]["id"]
        return found[0]["id"]

    def _token(self, region: str, iam: str, project: str | None) -> Generator[httpx.Request, httpx.Response, str]:
        with self._lock:
            cached = self._tokens.get(project or f"region:{region}")
        if cached and cached[1] - time.time() > REFRESH_BEFORE:
            return cached[0]
        user = self._identity.user_name
        if not self._password or not user:
            raise InvalidApiKey(
                "Huawei Cloud needs an AccessKey pair or an IAM user's password, and this profile has neither.",
                hint="Set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (an IAM user's AccessKey), or HUAWEICLOUD_USER_NAME "
                "and HUAWEICLOUD_PASSWORD (on a modeldeck platform: the account's name and one of its API keys).",
            )  # fmt: skip
        body = json.dumps(token_body(user, self._password, self._identity.domain_name or user, region)).encode()
        ask = httpx.Request("POST", f"{iam}/v3/auth/tokens", content=body, extensions={_AUX: True},
                            headers={**_AUX_HEADERS, "Content-Type": "application/json;charset=utf-8"})  # fmt: skip
        response = yield ask
        self.iam_round_trips += 1
        token = response.headers.get("x-subject-token")
        if not response.is_success or not token:
            from .errors import error

            raise error(response)
        scoped = (response.json().get("token") or {})
        got = (scoped.get("project") or {}).get("id") or project
        if got:
            self._projects[region] = got
        with self._lock:
            self._tokens[got or f"region:{region}"] = (token, _expiry(scoped.get("expires_at")))
        return token

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self._flow(request)
        sent = next(flow)
        while True:
            response = yield sent
            if sent.extensions.get(_AUX):
                response.read()
            try:
                sent = flow.send(response)
            except StopIteration:
                return

    async def async_auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def,override]
        flow = self._flow(request)
        sent = next(flow)
        while True:
            response = yield sent
            if sent.extensions.get(_AUX):
                await response.aread()
            try:
                sent = flow.send(response)
            except StopIteration:
                return


def auth(credentials: Credentials) -> httpx.Auth | None:
    return HuaweiAuth(credentials, Identity.from_environment()) if credentials else None
