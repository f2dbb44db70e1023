"""SDK-HMAC-SHA256: our signer equals `huaweicloudsdkcore`'s `Signer` byte for byte, on the published vector
(cloud-protocols.md section 5) and on 300 randomized requests (methods, unicode and reserved characters in
paths and queries, list and bool query values, `_` headers, JSON / non-JSON / binary / empty bodies), both
as the pure `sign` step and as the `httpx.Auth` that our provider sends with."""

from __future__ import annotations

import random
from urllib.parse import quote

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from modeldeck.providers.huawei import auth

AK, SK = "AK", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
VECTOR_SIGNATURE = "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
VECTOR_HASH = "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
DATE = "20191115T033655Z"


def sdk_sign(method, path, pairs, headers, body, host="service.region.example.com"):  # type: ignore[no-untyped-def]
    request = SdkRequest(method=method, schema="https", host=host, resource_path=path, uri=path,
                         query_params=[(k, list(v) if isinstance(v, list) else v) for k, v in pairs],
                         header_params=dict(headers), body=body)  # fmt: skip
    signed = Signer(BasicCredentials(AK, SK)).sign(request)
    return signed.header_params, signed.uri


def test_the_published_vector():
    pairs = [("limit", "2"), ("marker", "13551d6b-755d-4757-b956-536f674975c0")]
    headers = {"Content-Type": "application/json", "Host": "service.region.example.com", "X-Sdk-Date": DATE}
    path = "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs"
    lowered = {k.lower(): v for k, v in headers.items()}
    names = auth.signed_names(headers)
    canonical = auth.canonical_request("GET", path, auth.canonical_query(pairs), lowered, names, auth.EMPTY_SHA256)
    assert auth.string_to_sign(DATE, canonical).rsplit("\n", 1)[1] == VECTOR_HASH
    ours, query = auth.sign("GET", path, pairs, headers, b"", AK, SK)
    assert ours["Authorization"] == (f"SDK-HMAC-SHA256 Access=AK, SignedHeaders=content-type;host;x-sdk-date, "
                                     f"Signature={VECTOR_SIGNATURE}")  # fmt: skip
    theirs, uri = sdk_sign("GET", path, pairs, headers, "")
    assert theirs["Authorization"] == ours["Authorization"] and uri == f"{path}?{query}"
    assert auth.parse_authorization(ours["Authorization"]) == ("AK", names, VECTOR_SIGNATURE)


ALPHABET = "abcXYZ019-_.~ !*'();:@&=+$,/?#[]%é你好\u00a0"


def text(rng: random.Random, low: int = 0, high: int = 8) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(low, high)))


def case(rng: random.Random) -> tuple[str, str, list, dict[str, str], bytes]:
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
    segments = [quote(text(rng, 1), safe="") for _ in range(rng.randint(1, 4))]
    path = "/" + "/".join(segments) + ("/" if rng.random() < 0.2 else "")
    pairs: list = []
    for _ in range(rng.randint(0, 5)):
        key = text(rng, 1, 5)
        roll = rng.random()
        value = ([text(rng) for _ in range(rng.randint(1, 3))] if roll < 0.2 else rng.choice([True, False])
                 if roll < 0.3 else rng.randint(-5, 500) if roll < 0.4 else text(rng))  # fmt: skip
        if all(k != key for k, _ in pairs):  # the SDK cannot sort a list against a string under one key
            pairs.append((key, value))
    headers = {"Host": "127.0.0.1:18931", "X-Sdk-Date": DATE, "User-Agent": "huaweicloud-usdk-python/3.0"}
    kind = rng.choice([None, "application/json", "application/json;charset=utf-8", "application/octet-stream",
                       "text/plain", "multipart/form-data"])  # fmt: skip
    if kind:
        headers["Content-Type"] = kind
    for _ in range(rng.randint(0, 3)):
        headers[rng.choice(["X-Project-Id", "X-Domain-Id", "x_under_score", "X-Custom", "X-Security-Token"])] = \
            rng.choice(["  padded  ", "proj123", "a b", "é"])  # fmt: skip
    body = rng.choice([b"", b'{"a": 1}', bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))),
                       "你好".encode()])  # fmt: skip
    return method, path, pairs, headers, body


@pytest.mark.parametrize("seed", range(300))
def test_randomized_requests_sign_as_the_sdk(seed: int):
    rng = random.Random(seed)
    method, path, pairs, headers, body = case(rng)
    ours, query = auth.sign(method, path, pairs, headers, body, AK, SK)
    theirs, uri = sdk_sign(method, path, pairs, headers, body, host="127.0.0.1:18931")
    assert ours["Authorization"] == theirs["Authorization"]
    assert (f"{path}?{query}" if query else path) == uri
    assert ours.get(auth.CONTENT_HEADER) == theirs.get(auth.CONTENT_HEADER)


@pytest.mark.parametrize("seed", range(300, 360))
def test_the_httpx_auth_sends_what_the_sdk_signs(seed: int):
    """The provider's `httpx.Auth`: same Authorization as the SDK on the same request, and the SDK's wire query."""
    rng = random.Random(seed)
    method, path, pairs, headers, body = case(rng)
    headers.pop("X-Sdk-Date")
    request = httpx.Request(method, f"http://127.0.0.1:18931{path}", params=[(k, v) for k, vs in pairs
                            for v in (vs if isinstance(vs, list) else [vs])],
                            headers={k: v.encode() for k, v in headers.items()}, content=body)  # fmt: skip
    auth.SdkHmacAuth(AK, SK).sign(request, now=1573788415)  # 2019-11-15T03:26:55Z
    sent = {k.lower(): v for k, v in request.headers.items()}
    given = {"Host": "127.0.0.1:18931", **{k: v for k, v in headers.items() if k != "Host"},
             "X-Sdk-Date": sent["x-sdk-date"]}  # fmt: skip
    str_pairs = [(k, auth._text(v) if not isinstance(v, list) else [auth._text(x) for x in v]) for k, v in pairs]
    theirs, uri = sdk_sign(method, request.url.raw_path.decode().partition("?")[0], str_pairs, given, body,
                           host="127.0.0.1:18931")  # fmt: skip
    assert sent["authorization"] == theirs["Authorization"]
    assert request.url.raw_path.decode() == uri
