"""SDK-HMAC-SHA256, Huawei Cloud's APIG signature, as pure steps shared by the client's `httpx.Auth` and the
platform's verifier (`platform/api/facades/huawei/authn.py`), equal byte for byte to `huaweicloudsdkcore`'s
`Signer` (docs/clouds/huawei-sdks.md 1.4; tests/test_huawei_signer.py compares them).

The SDK's quirks are kept on purpose: the canonical URI always ends in `/`; query pairs are sorted as raw
(key, value) tuples before encoding and the wire query *is* the canonical one; header names containing `_`
are never signed; a non-JSON `Content-Type` brings `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`, which replaces
the hash of a non-empty body (an empty one hashes as empty).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Generator, Iterable, Mapping
from typing import Union
from urllib.parse import parse_qsl, quote, unquote

import httpx

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
DATE_HEADER = "X-Sdk-Date"
CONTENT_HEADER = "X-Sdk-Content-Sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# What requests/httpx add after the SDK has signed: never in SignedHeaders.
NOT_SIGNED = frozenset({"authorization", "accept", "accept-encoding", "connection", "content-length",
                        "transfer-encoding", "keep-alive", "te", "upgrade", "proxy-authorization"})  # fmt: skip
_AUTHORIZATION = re.compile(r"^SDK-HMAC-SHA256 Access=([^,\s]+), SignedHeaders=([^,\s]+), Signature=([0-9a-f]+)$")

QueryValue = Union[str, int, bool, list]


def encode(value: str) -> str:
    return quote(value, safe="~")


def canonical_uri(path: str) -> str:
    """The path decoded, each segment re-encoded (`~` kept), with a `/` at the end (not on the wire)."""
    uri = "/".join(encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def canonical_query(pairs: Iterable[tuple[str, QueryValue]]) -> str:
    """Pairs sorted as raw tuples, `k=v` both encoded; a list's values sorted and repeated; booleans lowercase."""
    out = []
    for key, value in sorted(pairs):
        values = sorted(value) if isinstance(value, list) else [value]
        out += [f"{encode(key)}={encode(_text(v))}" for v in values]
    return "&".join(out)


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """A wire query's pairs, decoded (what a verifier canonicalizes again)."""
    return parse_qsl(raw_query, keep_blank_values=True)


def signed_names(names: Iterable[str]) -> list[str]:
    """SignedHeaders: every name lowercased, except those containing `_`, sorted."""
    return sorted({n.lower() for n in names if "_" not in n})


def header_block(headers: Mapping[str, str], names: Iterable[str]) -> str:
    """CanonicalHeaders: `name:value` (stripped) per signed name, each line ending in a newline.

    `headers` maps lowercase names to values (a later duplicate wins, as in the SDK)."""
    return "".join(f"{name}:{headers[name].strip()}\n" for name in names)


def payload_hash(body: bytes, declared: str | None = None) -> str:
    """Hex SHA-256 of the body; a declared `X-Sdk-Content-Sha256` stands for a non-empty one."""
    if not body:
        return EMPTY_SHA256
    return declared or hashlib.sha256(body).hexdigest()


def canonical_request(method: str, path: str, query: str, headers: Mapping[str, str], names: list[str],
                      hashed: str) -> str:  # fmt: skip
    return "\n".join([method.upper(), canonical_uri(path), query, header_block(headers, names), ";".join(names), hashed])


def string_to_sign(date: str, canonical: str) -> str:
    return f"{ALGORITHM}\n{date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def signature(secret: str, date: str, canonical: str) -> str:
    """hex(HMAC-SHA256(SK, StringToSign))."""
    return hmac.new(secret.encode(), string_to_sign(date, canonical).encode(), hashlib.sha256).hexdigest()


def authorization(access_key_id: str, names: list[str], sig: str) -> str:
    return f"{ALGORITHM} Access={access_key_id}, SignedHeaders={';'.join(names)}, Signature={sig}"


def parse_authorization(value: str) -> tuple[str, list[str], str]:
    """(AK, signed header names, signature) of an SDK-HMAC-SHA256 Authorization; ValueError if malformed."""
    found = _AUTHORIZATION.match(value.strip())
    if found is None:
        raise ValueError("not an SDK-HMAC-SHA256 authorization")
    return found[1], found[2].split(";"), found[3]


def timestamp(now: float | None = None) -> str:
    """X-Sdk-Date: UTC, basic ISO 8601 (20191115T033655Z)."""
    return time.strftime(DATE_FORMAT, time.gmtime(time.time() if now is None else now))


def sign(method: str, path: str, pairs: Iterable[tuple[str, QueryValue]], headers: dict[str, str], body: bytes,
         access_key_id: str, secret: str, *, now: float | None = None) -> tuple[dict[str, str], str]:  # fmt: skip
    """Sign a request as the SDK does: (its headers with X-Sdk-Date, Host kept, Authorization; the wire query).

    `headers` are those the client set (Host included), in any case; the SDK's own additions come first.
    """
    out = dict(headers)
    kind = next((v for k, v in out.items() if k.lower() == "content-type"), None)
    if kind and not kind.startswith(("application/json", "application/bson")):
        out[CONTENT_HEADER] = UNSIGNED_PAYLOAD
    if not any(k.lower() == DATE_HEADER.lower() for k in out):
        out[DATE_HEADER] = timestamp(now)
    lowered = {k.lower(): str(v).strip() for k, v in out.items()}
    names = signed_names(out)
    query = canonical_query(pairs)
    hashed = payload_hash(body, lowered.get(CONTENT_HEADER.lower()))
    canonical = canonical_request(method, path, query, lowered, names, hashed)
    out["Authorization"] = authorization(access_key_id, names, signature(secret, lowered["x-sdk-date"], canonical))
    return out, query


class SdkHmacAuth(httpx.Auth):
    """Sign each request with an AccessKey pair, SDK-HMAC-SHA256, as `huaweicloudsdkcore` does.

    Every header present at signing time is signed except what the transport adds (`NOT_SIGNED`); the query
    is rewritten to its canonical form, which is what goes on the wire. A security token (temporary AK/SK)
    travels in `X-Security-Token`, signed.
    """

    requires_request_body = True

    def __init__(self, access_key_id: str, secret_access_key: str, security_token: str | None = None) -> None:
        self.access_key_id = access_key_id
        self._secret = secret_access_key
        self._token = security_token

    def __repr__(self) -> str:
        return f"SdkHmacAuth(access_key_id={self.access_key_id!r}, secret_access_key=***)"

    def sign(self, request: httpx.Request, *, now: float | None = None) -> None:
        """Set X-Sdk-Date, Authorization (and the canonical query) on `request`, in place."""
        if self._token:
            request.headers["X-Security-Token"] = self._token
        request.headers.pop(DATE_HEADER, None)
        path, mark, raw_query = request.url.raw_path.decode("ascii").partition("?")
        given = {k: v for k, v in request.headers.items() if k.lower() not in NOT_SIGNED}
        signed, query = sign(request.method, path, query_pairs(raw_query), given, request.content,
                             self.access_key_id, self._secret, now=now)  # fmt: skip
        for name in (CONTENT_HEADER, DATE_HEADER, "Authorization"):
            if name in signed:
                request.headers[name] = signed[name]
        if query != raw_query or (mark and not query):  # a new URL (parsed again) only when the wire's changes
            request.url = request.url.copy_with(query=query.encode("ascii") or None)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request
