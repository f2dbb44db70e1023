"""The legacy ROA HMAC-SHA1 signer (`acs AK:signature`), byte for byte against Alibaba's own functions:
`alibabacloud_tea_openapi.utils.Utils.get_string_to_sign` / `get_roasignature` (what alipai's clients and
`Config(signature_algorithm="v2")` run) and their copy in `alibabacloud_openapi_util`.

No vendor page publishes an ROA vector with its secret (cloud-protocols.md 5), so the vector here is the
documentation's request shape signed by the SDK's functions at a fixed date and nonce; then 240 randomized
requests (methods, unicode and reserved characters in paths and queries, empty and binary bodies, extra
x-acs-* headers), each signed by `ROAAuth` and re-signed by both SDK copies from the request as it travels.
(The platform's verifier against this signer and alipai's client: tests/test_alibaba_pai.py.)
"""

from __future__ import annotations

import calendar
import random
import time
from types import SimpleNamespace

import httpx
import pytest
from test_signing import METHODS, _ascii, _request, _text

from modeldeck.providers.alibaba import roa
from modeldeck.providers.alibaba.roa import ROAAuth

Utils = pytest.importorskip("alibabacloud_tea_openapi.utils", reason="the test extra's alibabacloud-tea-openapi").Utils
OpenApiUtil = pytest.importorskip("alibabacloud_openapi_util.client").Client

VECTOR = {
    "method": "POST", "pathname": "/stacks", "query": {"name": "test_alert", "status": "COMPLETE"},
    "headers": {"accept": "application/json", "content-type": "application/json; charset=utf-8",
                "date": "Thu, 06 Feb 2020 07:32:54 GMT", "host": "ros.aliyuncs.com",
                "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d", "x-acs-signature-method": "HMAC-SHA1",
                "x-acs-signature-version": "1.0", "x-acs-version": "2019-09-10"},
}  # fmt: skip
VECTOR_STRING = (
    "POST\napplication/json\n\napplication/json; charset=utf-8\nThu, 06 Feb 2020 07:32:54 GMT\n"
    "x-acs-signature-method:HMAC-SHA1\nx-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n"
    "x-acs-signature-version:1.0\nx-acs-version:2019-09-10\n/stacks?name=test_alert&status=COMPLETE"
)


def _sdk(method: str, path: str, query: dict[str, str], headers: dict[str, str], secret: str) -> tuple[str, str]:
    request = SimpleNamespace(method=method, pathname=path, query=query, headers=headers)
    to_sign = Utils.get_string_to_sign(request)
    assert OpenApiUtil.get_string_to_sign(request) == to_sign  # the two official copies agree
    return to_sign, Utils.get_roasignature(to_sign, secret)


def test_the_vector_through_the_pure_functions_and_the_sdk():
    v = VECTOR
    ours = roa.string_to_sign(v["method"], v["pathname"], v["query"].items(), v["headers"])
    theirs, sig = _sdk(v["method"], v["pathname"], v["query"], v["headers"], "YourAccessKeySecret")
    assert ours == theirs == VECTOR_STRING
    assert roa.signature("YourAccessKeySecret", ours) == sig == OpenApiUtil.get_roasignature(ours, "YourAccessKeySecret")
    assert roa.parse_authorization(roa.authorization("YourAccessKeyId", sig)) == ("YourAccessKeyId", sig)


def test_the_vector_through_roaauth_on_a_real_request():
    v = VECTOR
    request = httpx.Request("POST", "https://ros.aliyuncs.com/stacks", params=v["query"], content=b"{}",
                            headers={k: v["headers"][k] for k in ("accept", "content-type", "x-acs-version")})  # fmt: skip
    signed_at = calendar.timegm(time.strptime(v["headers"]["date"], roa.DATE_FORMAT))
    ROAAuth("YourAccessKeyId", "YourAccessKeySecret").sign(request, now=signed_at, nonce=v["headers"]["x-acs-signature-nonce"])
    assert request.headers["date"] == v["headers"]["date"]
    expected = _sdk(v["method"], v["pathname"], v["query"], v["headers"], "YourAccessKeySecret")[1]
    assert request.headers["authorization"] == f"acs YourAccessKeyId:{expected}"


def test_each_attempt_is_signed_afresh_and_the_secret_stays_hidden():
    signer = ROAAuth("AKEXAMPLE", "s3cr3t-value", security_token="sts-token")
    request = httpx.Request("GET", "http://127.0.0.1:1/api/v1/models")
    first = next(signer.auth_flow(request)).headers["x-acs-signature-nonce"]
    again = next(signer.auth_flow(request))
    assert again.headers["x-acs-signature-nonce"] != first and again.headers["x-acs-security-token"] == "sts-token"
    assert "s3cr3t" not in repr(signer)


def test_240_random_requests_sign_exactly_as_the_sdk_signs_them():
    rng = random.Random(20261202)
    methods = set()
    for i in range(240):
        request, query, _ = _request(rng)
        if rng.random() < 0.3:
            request.headers["accept"] = _ascii(rng)
        methods.add(request.method)
        signer = ROAAuth("AK" + str(i), "secret-" + _text(rng, 1))
        signer.sign(request, now=1_700_000_000 + i)
        path = request.url.raw_path.decode().partition("?")[0]
        # The SDK is given the query as the caller meant it, the headers as they travel (lower-case names).
        headers = dict(request.headers.items())
        headers.pop("authorization")
        _, expected = _sdk(request.method, path, query, headers, signer._secret)
        assert request.headers["authorization"] == f"acs {signer.access_key_id}:{expected}", (request.method, request.url)
    assert methods == set(METHODS)
