"""Request signers as `httpx.Auth` classes, over canonical forms written once as pure functions.

ACS3-HMAC-SHA256 is Alibaba Cloud's OpenAPI signature (what every `alibabacloud-*` SDK sends); the
modeldeck platform verifies it for AccessKey pairs. The signer here and the platform's verifier both
build the string to sign with these functions, from the request as it travels (the path as sent, the
query decoded from the wire), so the two ends cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Generator, Iterable
from urllib.parse import parse_qsl, quote

import httpx

ACS3 = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# Headers a transport or proxy may add, drop or rewrite on the way: never signed.
UNSIGNED = frozenset({"authorization", "connection", "content-length", "accept-encoding", "transfer-encoding",
                      "keep-alive", "te", "upgrade", "proxy-authorization"})  # fmt: skip


def payload_hash(body: bytes) -> str:
    """HashedRequestPayload: lowercase hex SHA-256 of the exact body bytes (most calls have none)."""
    return hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """The query's pairs decoded from the wire, as the verifier sees them (blank values kept)."""
    return parse_qsl(raw_query, keep_blank_values=True)


def canonical_query(pairs: Iterable[tuple[str, str | None]]) -> str:
    """Sorted by key, `key=value` with the value RFC 3986-encoded (`~` kept), keys as they are, `&`-joined.

    As the Alibaba SDK builds it: None values dropped, keys not encoded.
    """
    kept = sorted((k, v) for k, v in pairs if v is not None)
    return "&".join(f"{k}={quote(v, safe='~')}" for k, v in kept)


def canonical_headers(headers: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """(CanonicalHeaders, SignedHeaders): lowercase names, trimmed values, repeats sorted and comma-joined."""
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name.lower(), []).append(value.strip())
    names = sorted(grouped)
    return "".join(f"{n}:{','.join(sorted(grouped[n]))}\n" for n in names), ";".join(names)


def canonical_request(method: str, path: str, query: str, headers: Iterable[tuple[str, str]], hashed: str) -> str:
    """METHOD, URI as sent (`/` if empty), canonical query, canonical headers, signed names, payload hash."""
    return _canonical_request(method, path, query, canonical_headers(headers), hashed)


def _canonical_request(method: str, path: str, query: str, headers: tuple[str, str], hashed: str) -> str:
    canonical, signed = headers
    return f"{method}\n{path or '/'}\n{query}\n{canonical}\n{signed}\n{hashed}"


def string_to_sign(canonical: str) -> str:
    return f"{ACS3}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def signature(secret: str, canonical: str) -> str:
    """hex(HMAC-SHA256(the raw AccessKey secret, StringToSign))."""
    return hmac.digest(secret.encode(), string_to_sign(canonical).encode(), "sha256").hex()


def authorization(access_key_id: str, signed_headers: str, sig: str) -> str:
    return f"{ACS3} Credential={access_key_id},SignedHeaders={signed_headers},Signature={sig}"


def parse_authorization(value: str) -> tuple[str, list[str], str]:
    """(access key id, signed header names, signature) of an ACS3 Authorization header; ValueError if malformed."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme != ACS3:
        raise ValueError("not an ACS3-HMAC-SHA256 authorization")
    parts = dict(item.strip().partition("=")[::2] for item in rest.split(","))
    key_id, names, sig = parts.get("Credential"), parts.get("SignedHeaders"), parts.get("Signature")
    if not key_id or not names or not sig:
        raise ValueError("Credential, SignedHeaders and Signature are all required")
    return key_id, names.split(";"), sig


def new_nonce() -> str:
    return secrets.token_hex(16)


def timestamp(now: float | None = None) -> str:
    """x-acs-date: UTC, second precision, ISO 8601 with Z."""
    return time.strftime(DATE_FORMAT, time.gmtime(time.time() if now is None else now))


class ACS3Auth(httpx.Auth):
    """Sign each request with an AccessKey pair, ACS3-HMAC-SHA256.

    httpx calls `auth_flow` for every attempt it sends, so a retry carries a fresh date and nonce (a
    verifier refuses a nonce it has seen). Every header present at signing time is signed, except the
    ones a transport may rewrite (`UNSIGNED`).
    """

    requires_request_body = True

    def __init__(self, access_key_id: str, access_key_secret: str, security_token: str | None = None) -> None:
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self._token = security_token

    def __repr__(self) -> str:
        return f"ACS3Auth(access_key_id={self.access_key_id!r}, access_key_secret=***)"

    def sign(self, request: httpx.Request, *, now: float | None = None, nonce: str | None = None) -> None:
        """Set the x-acs-* headers and the Authorization of `request` (in place)."""
        hashed = payload_hash(request.content)
        headers = request.headers  # set one by one: `update` builds a Headers and searches it per name
        headers["x-acs-date"] = timestamp(now)
        headers["x-acs-signature-nonce"] = nonce or new_nonce()
        headers["x-acs-content-sha256"] = hashed
        if self._token:
            headers["x-acs-security-token"] = self._token
        path, _, query = request.url.raw_path.decode("ascii").partition("?")
        signed = canonical_headers((k, v) for k, v in headers.multi_items() if k not in UNSIGNED)  # names lowercase
        canonical = _canonical_request(request.method, path, canonical_query(query_pairs(query)), signed, hashed)
        headers["Authorization"] = authorization(self.access_key_id, signed[1], signature(self._secret, canonical))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request
