"""The ACS3-HMAC-SHA256 signer, byte for byte against Alibaba's own SDK (`alibabacloud_tea_openapi`).

The published vector (cloud-protocols.md section 5) through our pure functions and through `ACS3Auth` on a
real httpx request; then 240 randomized requests (methods, unicode and reserved characters in paths and
queries, empty, JSON and binary bodies, extra x-acs-* and workspace headers), each signed by `ACS3Auth` and
re-signed by the SDK's `Utils.get_authorization` from the request as it would travel.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import random
import time
from types import SimpleNamespace
from urllib.parse import quote

import httpx
import pytest

from modeldeck.providers import auth
from modeldeck.providers.auth import ACS3Auth

Utils = pytest.importorskip("alibabacloud_tea_openapi.utils", reason="the test extra's alibabacloud-tea-openapi").Utils

VECTOR_HEADERS = {
    "host": "ecs.cn-shanghai.aliyuncs.com",
    "x-acs-action": "RunInstances",
    "x-acs-version": "2014-05-26",
    "x-acs-date": "2023-10-26T10:22:32Z",
    "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
    "x-acs-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}
VECTOR_QUERY = {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"}
VECTOR_HASH = "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
VECTOR_SIGNATURE = "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
VECTOR_AUTHORIZATION = (
    "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;"
    f"x-acs-date;x-acs-signature-nonce;x-acs-version,Signature={VECTOR_SIGNATURE}"
)


def _sdk(method: str, path: str, query: dict[str, str], headers: dict[str, str], payload: str, key_id: str,
         secret: str) -> str:  # fmt: skip
    request = SimpleNamespace(method=method, pathname=path, query=query, headers=headers)
    return Utils.get_authorization(request, "ACS3-HMAC-SHA256", payload, key_id, secret)


def test_the_published_vector_through_the_pure_functions():
    canonical = auth.canonical_request(
        "POST", "/", auth.canonical_query(VECTOR_QUERY.items()), VECTOR_HEADERS.items(), auth.EMPTY_SHA256
    )
    assert hashlib.sha256(canonical.encode()).hexdigest() == VECTOR_HASH
    assert auth.signature("YourAccessKeySecret", canonical) == VECTOR_SIGNATURE
    names = auth.canonical_headers(VECTOR_HEADERS.items())[1]
    assert auth.authorization("YourAccessKeyId", names, VECTOR_SIGNATURE) == VECTOR_AUTHORIZATION
    assert _sdk("POST", "/", VECTOR_QUERY, VECTOR_HEADERS, auth.EMPTY_SHA256, "YourAccessKeyId",
                "YourAccessKeySecret") == VECTOR_AUTHORIZATION  # fmt: skip


def test_the_published_vector_through_acs3auth_on_a_real_request():
    """ACS3Auth on an httpx request of the vector, at the vector's date and nonce, sends its Authorization."""
    request = httpx.Request(
        "POST", "https://ecs.cn-shanghai.aliyuncs.com/", params=VECTOR_QUERY,
        headers={"x-acs-action": "RunInstances", "x-acs-version": "2014-05-26"},
    )  # fmt: skip
    signed_at = calendar.timegm(time.strptime(VECTOR_HEADERS["x-acs-date"], auth.DATE_FORMAT))
    ACS3Auth("YourAccessKeyId", "YourAccessKeySecret").sign(
        request, now=signed_at, nonce=VECTOR_HEADERS["x-acs-signature-nonce"]
    )
    assert request.headers["authorization"] == VECTOR_AUTHORIZATION
    assert request.headers["x-acs-content-sha256"] == auth.EMPTY_SHA256


def test_each_attempt_is_signed_afresh():
    """A retry carries a new nonce (and date), so a verifier that refuses replays accepts it."""
    signer = ACS3Auth("AKEXAMPLE", "s3cr3t-value")
    request = httpx.Request("GET", "http://127.0.0.1:1/api/v1/whoami")
    first = next(signer.auth_flow(request)).headers["x-acs-signature-nonce"]
    again = next(signer.auth_flow(request))
    assert again.headers["x-acs-signature-nonce"] != first
    assert again.headers["authorization"].count("Signature=") == 1
    assert "s3cr3t" not in repr(signer)


PIECES = ["a", "Z", "0", "model", "模型", "é", "ü", "😀", " ", "+", "%", "~", "-", ".", "_", "!", "$", "&", "'",
          "(", ")", "*", ",", ";", "=", ":", "@", "/", "?", "#", "[", "]", "\\", '"', "<", ">", "^", "`", "{",
          "|", "}"]  # fmt: skip
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]


def _text(rng: random.Random, low: int = 0, high: int = 6) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(low, high)))


def _ascii(rng: random.Random) -> str:
    """A header value: HTTP headers carry ASCII."""
    return "".join(c for c in _text(rng, 1, 8) if c.isascii()).strip() or "w"


def _request(rng: random.Random) -> tuple[httpx.Request, dict[str, str], bytes]:
    """A request with a random path (each segment percent-encoded, some reserved characters kept as they
    are), query, body and headers; with the query as the caller meant it."""
    keep = rng.choice(["", "!$&'()*+,;=:@", ":@"])
    segments = [quote(_text(rng, 1), safe=keep) for _ in range(rng.randint(0, 4))]
    path = "/" + "/".join(segments)
    query = {_text(rng, 1, 4).replace("\\", "") or "k": _text(rng) for _ in range(rng.randint(0, 5))}
    body = rng.choice([b"", json.dumps({"x": _text(rng)}, ensure_ascii=False).encode(), rng.randbytes(rng.randint(1, 300))])
    headers = {"x-acs-action": rng.choice(["Predict", "ListModels"]), "X-ModelDeck-Workspace": _ascii(rng)}
    if body:
        headers["content-type"] = rng.choice(["application/json", "application/octet-stream"])
    if rng.random() < 0.5:
        headers["x-acs-extra"] = "  padded value  "
    method = rng.choice(METHODS)
    return httpx.Request(method, f"http://127.0.0.1:8765{path}", params=query, content=body, headers=headers), query, body


def test_240_random_requests_sign_exactly_as_the_sdk_signs_them():
    rng = random.Random(20261201)
    for i in range(240):
        request, query, body = _request(rng)
        signer = ACS3Auth("AK" + str(i), "secret-" + _text(rng, 1))
        signer.sign(request, now=1_700_000_000 + i)
        path = request.url.raw_path.decode().partition("?")[0]
        signed = {k: v for k, v in request.headers.items() if k not in auth.UNSIGNED}
        # The SDK is given the query as the caller meant it: our wire decoding must agree with it.
        expected = _sdk(request.method, path, query, signed, hashlib.sha256(body).hexdigest(), signer.access_key_id,
                        signer._secret)  # fmt: skip
        assert request.headers["authorization"] == expected, (request.method, request.url, query)
