"""AccessKey pairs, signed requests, short-lived tokens and the endpoints document, over real HTTP.

An AccessKey pair made through the API signs requests (`ACS3Auth`) that the platform verifies on every
route, the predict lane included; tampered, replayed, stale, revoked and unknown ones get their typed
401/403. Nonces live in the database, so a second server on the same home refuses a replay too.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Deployment, deploy

from modeldeck import examples
from modeldeck.platform import Settings
from modeldeck.providers.auth import ACS3Auth

API = "/api/v1"


def signed(dep: Deployment | str, pair: dict[str, Any], workspace: str | None = None) -> httpx.Client:
    url = dep if isinstance(dep, str) else dep.url
    headers = {"X-ModelDeck-Workspace": workspace} if workspace else {}
    return httpx.Client(base_url=url, auth=ACS3Auth(pair["id"], pair["secret"]), headers=headers, timeout=60)


def code_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["message"] and body["hint"] and body["request_id"] == response.headers["x-request-id"], body
    return body["code"]


@pytest.fixture
def pair(deployment: Deployment) -> dict[str, Any]:
    return deployment.admin.ok("POST", f"{API}/access-keys", json={"description": "notebook"})


def send_signed(client: httpx.Client, method: str, path: str, *, tamper: Any = None, **kw: Any) -> httpx.Response:
    """Build and sign a request, let `tamper(request)` change it after signing, send it as it is."""
    request = client.build_request(method, path, **kw)
    client.auth.sign(request)  # type: ignore[union-attr]
    if tamper is not None:
        request = tamper(request)
    return client.send(request, auth=None)


# ---- creating, listing, revoking -----------------------------------------------------------------------


def test_an_access_key_is_shown_once_and_listed_without_its_secret(deployment: Deployment, pair: dict[str, Any]):
    assert pair["id"].startswith("AK") and pair["secret"] and pair["account"] == "main"
    assert (pair["status"], pair["description"], pair["last_used_at"]) == ("Active", "notebook", None)
    listing = deployment.admin.ok("GET", f"{API}/access-keys")
    assert [k["id"] for k in listing["items"]] == [pair["id"]] and listing["next_cursor"] is None
    assert "secret" not in listing["items"][0] and pair["secret"] not in str(listing)


def test_sub_accounts_see_their_own_keys_and_the_main_account_sees_all(deployment: Deployment):
    bob = deployment.client(deployment.subaccount("bob", {"default": "developer"}))
    carol = deployment.client(deployment.subaccount("carol", {"default": "viewer"}))
    bobs = bob.ok("POST", f"{API}/access-keys", json={})
    carols = carol.ok("POST", f"{API}/access-keys", json={})
    assert [k["id"] for k in bob.ok("GET", f"{API}/access-keys")["items"]] == [bobs["id"]]
    everyone = {k["id"]: k["account"] for k in deployment.admin.ok("GET", f"{API}/access-keys")["items"]}
    assert everyone == {bobs["id"]: "bob", carols["id"]: "carol"}
    only_carol = deployment.admin.ok("GET", f"{API}/access-keys", params={"account": "carol"})["items"]
    assert [k["id"] for k in only_carol] == [carols["id"]]
    assert code_of(bob.get(f"{API}/access-keys", params={"account": "carol"}), 403) == "AccessDenied"
    assert code_of(bob.delete(f"{API}/access-keys/{carols['id']}"), 404) == "AccessKey.NotFound"
    with signed(deployment, carols) as client:
        assert client.get(f"{API}/whoami").json()["account"]["name"] == "carol"  # bob's attempt changed nothing


def test_rotation_new_key_works_old_key_is_refused(deployment: Deployment, pair: dict[str, Any]):
    fresh = deployment.admin.ok("POST", f"{API}/access-keys", json={"description": "rotated"})
    assert deployment.admin.delete(f"{API}/access-keys/{pair['id']}").status_code == 204
    with signed(deployment, pair) as old, signed(deployment, fresh) as new:
        assert code_of(old.get(f"{API}/whoami"), 403) == "AccessKey.Revoked"
        assert new.get(f"{API}/whoami").status_code == 200
    statuses = {k["id"]: k["status"] for k in deployment.admin.ok("GET", f"{API}/access-keys")["items"]}
    assert statuses == {pair["id"]: "Revoked", fresh["id"]: "Active"}


# ---- signed requests ------------------------------------------------------------------------------------


def test_a_signed_request_is_the_account_on_every_kind_of_route(deployment: Deployment, tmp_path: Path):
    """Reads, JSON writes, uploads and the predict lane all take a signature; last_used_at is recorded."""
    key = deployment.subaccount("dana", {"default": "developer"})
    dana = deployment.client(key).ok("POST", f"{API}/access-keys", json={})
    with signed(deployment, dana, "default") as client:
        assert client.get(f"{API}/whoami").json()["account"]["name"] == "dana"
        assert client.post(f"{API}/models", json={"model_name": "linear"}).status_code == 201
        data = examples.onnx_linear(tmp_path / "l.onnx").read_bytes()
        upload = client.post(f"{API}/uploads", json={"size": len(data)}).json()
        patch = client.patch(f"{API}/uploads/{upload['id']}", content=data, headers={"Upload-Offset": "0"})
        assert patch.status_code in (200, 204), patch.text
        import hashlib

        sha = hashlib.sha256(data).hexdigest()
        assert client.post(f"{API}/uploads/{upload['id']}/complete", json={"sha256": sha}).status_code == 200
        artifact = client.post(f"{API}/artifacts", json={"files": [{"path": "model.onnx", "sha256": sha, "size": len(data)}]})
        version = client.post(f"{API}/models/linear/versions", json={"uri": artifact.json()["uri"], "format_type": "ONNX"})
        assert version.status_code == 201, version.text
        answer = client.post(f"{API}/models/linear/predict", json={"inputs": {"X": [[1.0, 2.0, 3.0, 4.0]]}})
        assert answer.status_code == 200 and answer.json()["version"] == version.json()["version_name"], answer.text
    used = deployment.client(key).ok("GET", f"{API}/access-keys")["items"][0]["last_used_at"]
    assert used is not None


def _with_body(content: bytes):  # type: ignore[no-untyped-def]
    def tamper(request: httpx.Request) -> httpx.Request:
        return httpx.Request(request.method, request.url, headers=request.headers, content=content)

    return tamper


def _with_header(name: str, value: str):  # type: ignore[no-untyped-def]
    def tamper(request: httpx.Request) -> httpx.Request:
        request.headers[name] = value
        return request

    return tamper


def _with_path(path: str):  # type: ignore[no-untyped-def]
    def tamper(request: httpx.Request) -> httpx.Request:
        return httpx.Request(request.method, request.url.copy_with(path=path), headers=request.headers,
                             content=request.content)  # fmt: skip

    return tamper


TAMPERS = {
    "body": ("POST", f"{API}/models", {"json": {"model_name": "mine"}}, _with_body(b'{"model_name":"evil"}')),
    "workspace header": ("GET", f"{API}/models", {"headers": {"X-ModelDeck-Workspace": "default"}},
                         _with_header("X-ModelDeck-Workspace", "team-b")),
    "x-acs header": ("GET", f"{API}/models", {"headers": {"x-acs-action": "ListModels"}},
                     _with_header("x-acs-action", "DeleteModels")),
    "path": ("GET", f"{API}/models/alpha", {}, _with_path(f"{API}/models/bravo")),
    "query": ("GET", f"{API}/models", {"params": {"q": "a"}},
              lambda r: httpx.Request(r.method, r.url.copy_with(query=b"q=b"), headers=r.headers)),
    "declared hash": ("POST", f"{API}/models", {"json": {"model_name": "x"}},
                      _with_header("x-acs-content-sha256", "0" * 64)),
    "date": ("GET", f"{API}/whoami", {}, _with_header("x-acs-date", "2030-01-01T00:00:00Z")),
}  # fmt: skip


@pytest.mark.parametrize("what", TAMPERS)
def test_a_request_changed_after_signing_is_refused(deployment: Deployment, pair: dict[str, Any], what: str):
    method, path, kw, tamper = TAMPERS[what]
    deployment.admin.ok("POST", f"{API}/workspaces", json={"name": "team-b"})
    with signed(deployment, pair) as client:
        assert code_of(send_signed(client, method, path, tamper=tamper, **kw), 401) == "Signature.Mismatch"
        untouched = send_signed(client, method, path, **kw)  # control: the same request, unchanged, is accepted
        assert untouched.status_code in (200, 201, 403, 404), untouched.text
        assert untouched.json().get("code") not in {"Signature.Mismatch", "InvalidApiKey"}


def test_the_wrong_secret_and_an_unknown_id_are_refused(deployment: Deployment, pair: dict[str, Any]):
    last = "y" if pair["secret"].endswith("x") else "x"  # a secret ending in "x" would stay right
    with signed(deployment, {**pair, "secret": pair["secret"][:-1] + last}) as wrong:
        assert code_of(wrong.get(f"{API}/whoami"), 401) == "Signature.Mismatch"
    with signed(deployment, {"id": "AK" + "Q" * 22, "secret": pair["secret"]}) as unknown:
        assert code_of(unknown.get(f"{API}/whoami"), 401) == "AccessKey.NotFound"


def test_the_workspace_header_must_be_signed(deployment: Deployment, pair: dict[str, Any]):
    """A signature that leaves the workspace out could be moved to another workspace: refused."""
    with signed(deployment, pair) as client:
        request = client.build_request("GET", f"{API}/models")
        client.auth.sign(request)  # type: ignore[union-attr]
        request.headers["X-ModelDeck-Workspace"] = "default"  # added after signing: not in SignedHeaders
        assert code_of(client.send(request, auth=None), 401) == "Signature.Mismatch"


@pytest.mark.parametrize("minutes", [-16, 16])
def test_a_signature_outside_fifteen_minutes_is_expired(deployment: Deployment, pair: dict[str, Any], minutes: int):
    with signed(deployment, pair) as client:
        request = client.build_request("GET", f"{API}/whoami")
        client.auth.sign(request, now=time.time() + minutes * 60)  # type: ignore[union-attr]
        assert code_of(client.send(request, auth=None), 401) == "Signature.Expired"
        request = client.build_request("GET", f"{API}/whoami")
        client.auth.sign(request, now=time.time() + (minutes - minutes // abs(minutes) * 2) * 60)  # type: ignore[union-attr]
        assert client.send(request, auth=None).status_code == 200  # 14 minutes off is still in the window


def test_a_replayed_signature_is_refused_here_and_on_another_server_of_the_home(
    deployment: Deployment, pair: dict[str, Any]
):
    other = deploy(Settings(home=deployment.platform.settings.home))
    try:
        with signed(deployment, pair) as client:
            request = client.build_request("POST", f"{API}/models", json={"model_name": "once"})
            client.auth.sign(request)  # type: ignore[union-attr]
            assert client.send(request, auth=None).status_code == 201
            assert code_of(client.send(request, auth=None), 401) == "Signature.Replayed"
            again = httpx.Request(request.method, other.url + f"{API}/models", headers=request.headers,
                                  content=request.content)  # fmt: skip
            assert code_of(client.send(again, auth=None), 401) == "Signature.Replayed"
            assert client.post(f"{API}/models", json={"model_name": "twice"}).status_code == 201  # signed afresh
    finally:
        other.close()


def test_expired_nonces_are_pruned(deployment: Deployment, pair: dict[str, Any]):
    db = deployment.platform.settings.home / "modeldeck.db"
    old = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(sep=" ")
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO signature_nonces VALUES (?, 'stale', ?)", (pair["id"], old))
    with signed(deployment, pair) as client:
        assert client.get(f"{API}/whoami").status_code == 200
    with sqlite3.connect(db) as conn:
        nonces = [row[0] for row in conn.execute("SELECT nonce FROM signature_nonces")]
    assert "stale" not in nonces and len(nonces) == 1


# ---- tokens ---------------------------------------------------------------------------------------------


def test_a_token_is_a_bearer_until_it_expires(deployment: Deployment):
    key = deployment.subaccount("erin", {"default": "viewer"})
    issued = deployment.client(key).ok("POST", f"{API}/tokens", json={"ttl_seconds": 600})
    assert issued["token"].startswith("mdt-") and issued["expires_at"]
    erin = deployment.client(issued["token"], "default")
    assert erin.ok("GET", f"{API}/whoami")["account"]["name"] == "erin"
    assert erin.ok("GET", "/v1/models")["object"] == "list"  # the OpenAI facade takes it too
    assert code_of(erin.post(f"{API}/tokens", json={"ttl_seconds": 60}), 403) == "Token.NotAllowed"
    db = deployment.platform.settings.home / "modeldeck.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE tokens SET expires_at = ?", ((datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat(sep=" "),))
    assert code_of(erin.get(f"{API}/whoami"), 401) == "Token.Expired"
    assert code_of(erin.post(f"{API}/models/m/predict", json={"inputs": [[1.0]]}), 401) == "Token.Expired"


@pytest.mark.parametrize("ttl", [59, 43201, "600", 1.5, None])
def test_a_token_lifetime_out_of_range_is_refused(deployment: Deployment, ttl: Any):
    assert code_of(deployment.admin.post(f"{API}/tokens", json={"ttl_seconds": ttl}), 400) == "InvalidParameter.TokenTtl"


# ---- endpoints and facades ------------------------------------------------------------------------------


def test_endpoints_name_each_protocols_base_url(deployment: Deployment):
    assert deployment.admin.ok("GET", f"{API}/endpoints") == {
        "native": deployment.url, "openai": deployment.url + "/v1", "dashscope": deployment.url + "/dashscope/api/v1",
        "modelstudio": deployment.url, "aiworkspace": deployment.url + "/aiworkspace", "eas": deployment.url + "/eas",
        "sts": deployment.url + "/sts", "iam": deployment.url, "modelarts": deployment.url, "pangu": deployment.url,
        "oss": deployment.url, "obs": deployment.url,
    }  # fmt: skip
    assert code_of(deployment.client("mdk-nope").get(f"{API}/endpoints"), 401) == "InvalidApiKey"


def test_endpoints_use_the_public_url_when_configured(tmp_path: Path):
    dep = deploy(Settings(home=tmp_path / "home", public_url="https://models.example.org/deck"))
    try:
        assert dep.admin.ok("GET", f"{API}/endpoints") == {
            "native": "https://models.example.org/deck", "openai": "https://models.example.org/deck/v1",
            "dashscope": "https://models.example.org/deck/dashscope/api/v1", "modelstudio": "https://models.example.org/deck",
            "aiworkspace": "https://models.example.org/deck/aiworkspace",
            "eas": "https://models.example.org/deck/eas", "sts": "https://models.example.org/deck/sts",
            "iam": "https://models.example.org/deck", "modelarts": "https://models.example.org/deck",
            "pangu": "https://models.example.org/deck",
            "oss": "https://models.example.org", "obs": "https://models.example.org",  # SDKs that keep no path
        }  # fmt: skip
    finally:
        dep.close()


def test_the_openai_sdk_works_from_the_advertised_base_url(deployment: Deployment):
    openai = pytest.importorskip("openai")
    base = deployment.admin.ok("GET", f"{API}/endpoints")["openai"]
    client = openai.OpenAI(base_url=base, api_key=deployment.admin_key, max_retries=0)
    assert client.models.list().data == []
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("nothing-here")
    assert raised.value.body["code"] == "Model.NotFound"


def test_each_app_answers_in_its_own_error_shape(deployment: Deployment, pair: dict[str, Any]):
    """Under /v1 the OpenAI facade's shape (also for its 404s and refused schemes); elsewhere the native one."""
    api = deployment.admin
    assert api.get("/v1/no-such-route").json()["error"]["code"] == "NotFound"
    assert api.get(f"{API}/no-such-route").json()["code"] == "NotFound"
    with signed(deployment, pair) as client:  # the OpenAI facade takes bearer credentials only
        refused = client.get("/v1/models")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "InvalidApiKey"
        refused = client.post("/v1/chat/completions", json={"model": "m", "messages": []})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "InvalidApiKey"


def test_the_client_creates_lists_and_revokes_access_keys(deployment: Deployment):
    import modeldeck as md

    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        key = deck.create_access_key("from python")
        assert key.secret and key.id.startswith("AK") and key.account == "main"
        shown = repr(key) + key._repr_html_() + str(key.raw)
        assert key.secret not in shown and "***" in repr(key)
        assert [(k.id, k.status, k.secret) for k in deck.access_keys()] == [(key.id, "Active", None)]
        with signed(deployment, {"id": key.id, "secret": key.secret}) as client:
            assert client.get(f"{API}/whoami").status_code == 200
            deck.revoke_access_key(key)
            assert code_of(client.get(f"{API}/whoami"), 403) == "AccessKey.Revoked"
        assert [k.status for k in deck.access_keys()] == ["Revoked"]
        assert deck.endpoints()["openai"] == deployment.url + "/v1"
