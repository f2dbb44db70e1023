"""The legacy ROA signature (`acs AK:signature`, HMAC-SHA1): what alipai's clients and aliyun-python-sdk-core
send, beside ACS3 (cloud-protocols.md 3.4, docs/clouds/alibaba-sdks.md 3.2).

The string to sign is built as `alibabacloud_tea_openapi.utils.Utils.get_string_to_sign` builds it:
`METHOD\\nAccept\\nContent-MD5\\nContent-Type\\nDate\\n`, every `x-acs-*` header as `name:value\\n` sorted by
name, then the resource: the path as sent, `?` and the query pairs sorted by key with their decoded values
(a bare key when the value is empty). The signature is base64(HMAC-SHA1(secret, that string)). The signer
here and the platform's verifier (`modeldeck.platform.roa`) use these functions on the request as it travels.
The signature covers neither the host nor the body (the SDKs send no Content-MD5): the verifier checks a
Content-MD5 when one is sent, and the date bounds a replay together with the nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Generator, Iterable, Mapping
from email.utils import formatdate

import httpx

from ..auth import new_nonce, query_pairs

SCHEME = "acs"
METHOD, VERSION = "HMAC-SHA1", "1.0"
DATE_FORMAT = "%a, %d %b %Y %H:%M:%S GMT"  # RFC 1123, as the SDKs write the `date` header


def canonical_headers(headers: Mapping[str, str]) -> str:
    """Every `x-acs-*` header (names in lower case) as `name:value\\n`, sorted by name; values as sent."""
    return "".join(f"{k}:{headers[k]}\n" for k in sorted(k for k in headers if k.startswith("x-acs-")))


def canonical_resource(path: str, pairs: Iterable[tuple[str, str | None]]) -> str:
    """The path as sent, then `?` and `k=v` (or a bare `k` for an empty value) sorted by key, `&`-joined.

    As the SDK builds it from its query dict: one value per key (the last), None values dropped.
    """
    query = {k: v for k, v in pairs if v is not None}
    if not query:
        return path
    return path + "?" + "&".join(k if query[k] == "" else f"{k}={query[k]}" for k in sorted(query))


def string_to_sign(method: str, path: str, pairs: Iterable[tuple[str, str | None]], headers: Mapping[str, str]) -> str:
    """`headers` with names in lower case."""
    fixed = "\n".join(headers.get(n) or "" for n in ("accept", "content-md5", "content-type", "date"))
    return f"{method}\n{fixed}\n{canonical_headers(headers)}{canonical_resource(path, pairs)}"


def signature(secret: str, to_sign: str) -> str:
    """base64(HMAC-SHA1(the raw AccessKey secret, StringToSign))."""
    return base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


def authorization(access_key_id: str, sig: str) -> str:
    return f"{SCHEME} {access_key_id}:{sig}"


def parse_authorization(value: str) -> tuple[str, str]:
    """(access key id, signature) of an `acs AK:signature` header; ValueError if malformed."""
    scheme, _, rest = value.strip().partition(" ")
    key_id, colon, sig = rest.strip().rpartition(":")
    if scheme.lower() != SCHEME or not colon or not key_id or not sig:
        raise ValueError("not an `acs <AccessKeyId>:<signature>` authorization")
    return key_id, sig


def http_date(now: float | None = None) -> str:
    """The `date` header: RFC 1123 in GMT, whatever the locale."""
    return formatdate(now, usegmt=True)


class ROAAuth(httpx.Auth):
    """Sign each request with an AccessKey pair, legacy ROA HMAC-SHA1, afresh on every attempt.

    Sets `date`, the signature method, version and nonce (and, for STS credentials, the security token and
    the AccessKey id), then `Authorization`.
    """

    def __init__(self, access_key_id: str, access_key_secret: str, security_token: str | None = None) -> None:
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self._token = security_token

    def __repr__(self) -> str:
        return f"ROAAuth(access_key_id={self.access_key_id!r}, access_key_secret=***)"

    def sign(self, request: httpx.Request, *, now: float | None = None, nonce: str | None = None) -> None:
        request.headers["date"] = http_date(now)
        request.headers["x-acs-signature-nonce"] = nonce or new_nonce()
        request.headers["x-acs-signature-method"] = METHOD
        request.headers["x-acs-signature-version"] = VERSION
        if self._token:
            request.headers["x-acs-accesskey-id"] = self.access_key_id
            request.headers["x-acs-security-token"] = self._token
        path, _, query = request.url.raw_path.decode("ascii").partition("?")
        headers = {k: v for k, v in request.headers.items()}  # httpx gives names in lower case
        to_sign = string_to_sign(request.method, path, query_pairs(query), headers)
        request.headers["Authorization"] = authorization(self.access_key_id, signature(self._secret, to_sign))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request
