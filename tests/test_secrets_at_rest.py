"""Secrets at rest: sealed in the database, files 0600, never echoed back.

Through HTTP, then by reading the database's bytes (the file and its WAL): upstream API keys, AccessKey
secrets and the cursor-signing secret are not there in plaintext, and still work; an older home's
plaintext secrets are sealed when it is opened; a key pasted into the workspace header is not repeated.
"""

from __future__ import annotations

import secrets
import sqlite3
import stat
from pathlib import Path

import pytest
from conftest import Deployment

from modeldeck.errors import DeckError
from modeldeck.platform import Platform, Settings
from modeldeck.providers.auth import ACS3Auth

API = "/api/v1"


def database_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(home.glob("modeldeck.db*")))


def meta(home: Path) -> dict[str, str]:
    with sqlite3.connect(home / "modeldeck.db") as conn:
        return dict(conn.execute("SELECT key, value FROM meta"))


def test_no_secret_is_in_the_database_file_in_plaintext(deployment: Deployment):
    home = deployment.platform.settings.home
    upstream_key = "sk-upstream-" + secrets.token_hex(16)
    api = deployment.admin
    api.ok("POST", f"{API}/models", json={"model_name": "proxied"})
    spec = {"upstream": {"base_url": "https://llm.example.org/v1", "model": "m", "api_key": upstream_key}}
    api.ok("POST", f"{API}/models/proxied/versions", json={"uri": "https://llm.example.org/v1", "inference_spec": spec})
    pair = api.ok("POST", f"{API}/access-keys", json={})
    with __import__("httpx").Client(base_url=deployment.url, auth=ACS3Auth(pair["id"], pair["secret"])) as signed:
        assert signed.get(f"{API}/whoami").status_code == 200  # the sealed secret still verifies signatures
    stored = database_bytes(home)
    assert upstream_key.encode() not in stored and pair["secret"].encode() not in stored
    values = meta(home)
    assert values["cursor_secret"].startswith("sealed:v1:")
    assert all(v.startswith("sealed:v1:") for k, v in values.items() if k.startswith("upstream-key:"))
    assert any(k.startswith("upstream-key:") for k in values)
    # Paging still works: the sealed cursor secret opens.
    for name in ("b-model", "c-model"):
        api.ok("POST", f"{API}/models", json={"model_name": name})
    first = api.ok("GET", f"{API}/models", params={"limit": 1})
    assert api.ok("GET", f"{API}/models", params={"limit": 1, "cursor": first["next_cursor"]})["items"]


def test_the_database_files_and_the_seal_key_are_private(deployment: Deployment):
    home = deployment.platform.settings.home
    deployment.admin.ok("POST", f"{API}/workspaces", json={"name": "team-b"})  # some WAL traffic
    files = sorted(home.glob("modeldeck.db*")) + [home / "seal.key", home / "admin.key"]
    assert {p.name for p in files} >= {"modeldeck.db", "modeldeck.db-wal", "modeldeck.db-shm", "seal.key"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_an_older_home_has_its_plaintext_secrets_sealed_and_its_files_narrowed(tmp_path: Path):
    home = tmp_path / "home"
    Platform(Settings(home=home)).close()
    cursor = secrets.token_hex(32)
    with sqlite3.connect(home / "modeldeck.db") as conn:  # as a home from before sealing kept them
        conn.execute("UPDATE meta SET value = ? WHERE key = 'cursor_secret'", (cursor,))
        conn.execute("INSERT INTO meta VALUES ('upstream-key:7', 'sk-plain-upstream-key')")
    (home / "modeldeck.db").chmod(0o644)
    platform = Platform(Settings(home=home))
    try:
        values = meta(home)
        assert values["cursor_secret"].startswith("sealed:v1:") and values["upstream-key:7"].startswith("sealed:v1:")
        assert platform.sealer.open(values["cursor_secret"], "cursor_secret") == cursor  # same secret: cursors survive
        assert platform.sealer.open(values["upstream-key:7"], "upstream-key:7") == "sk-plain-upstream-key"
        assert stat.S_IMODE((home / "modeldeck.db").stat().st_mode) == 0o600
    finally:
        platform.close()


def test_a_configured_seal_key_is_used_and_another_key_cannot_open_the_secrets(tmp_path: Path):
    home = tmp_path / "team"
    key = secrets.token_hex(32)
    Platform(Settings(home=home, seal_key=key)).close()
    assert not (home / "seal.key").exists()  # a team server's key lives in its configuration only
    Platform(Settings(home=home, seal_key=key)).close()
    with pytest.raises(DeckError) as raised:
        Platform(Settings(home=home, seal_key=secrets.token_hex(32)))
    assert raised.value.code == "Sealed.WrongKey" and key not in str(raised.value)
    with pytest.raises(DeckError) as raised:
        Platform(Settings(home=tmp_path / "other", seal_key="too-short"))
    assert raised.value.code == "InvalidParameter.SealKey"


@pytest.mark.parametrize("who", ["main", "sub"])
def test_a_key_pasted_into_the_workspace_header_is_not_echoed(deployment: Deployment, who: str):
    key = deployment.admin_key if who == "main" else deployment.subaccount("frank", {"default": "developer"})
    for pasted in (key, deployment.admin_key, "sk-" + secrets.token_hex(16), "Bearer " + key, "Zq8xK2mN9pL4vR7tW1yB3cD6"):
        response = deployment.client(key, pasted).get(f"{API}/models")
        assert response.status_code in (403, 404), response.text
        body = response.json()
        assert body["code"] in ("Workspace.AccessDenied", "Workspace.NotFound")
        assert pasted not in response.text and pasted[:12] not in body["message"] + body["hint"], body
    named = deployment.client(key, "no-such-ws").get(f"{API}/models").json()
    assert "'no-such-ws'" in named["message"]  # an ordinary name is still repeated, to help
