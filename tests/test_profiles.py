"""Profiles and the credential chain: argument, environment, profile file, keyring; file permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import modeldeck as md
from conftest import Deployment
from modeldeck.errors import InvalidApiKey, InvalidParameter, NotFound
from modeldeck.profiles import Profile, ProfileFile, config_path, login, resolve


def write_profiles(text: str, mode: int = 0o600) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_profile_file_is_created_0600_and_refused_when_readable_by_others(deployment: Deployment):
    file = ProfileFile.load()
    file.profiles["team"] = Profile("team", "server", url=deployment.url, api_key=deployment.admin_key)
    file.default = "team"
    file.save()
    assert stat.S_IMODE(config_path().stat().st_mode) == 0o600
    with md.connect() as deck:
        assert deck.profile == "team" and deck.workspace.name == "default"
    os.chmod(config_path(), 0o644)
    with pytest.raises(InvalidParameter) as err:
        md.connect()
    assert err.value.code == "Config.InsecurePermissions" and "chmod 600" in err.value.hint


def test_the_chain_argument_then_environment_then_file_then_keyring(deployment: Deployment, monkeypatch, tmp_path):
    sub = deployment.subaccount("bob", {"default": "viewer"})
    write_profiles(f'default = "team"\n[profiles.team]\nkind = "server"\nurl = "{deployment.url}"\n'
                   f'api_key = "{deployment.admin_key}"\nworkspace = "default"\n')  # fmt: skip
    assert md.connect().whoami()["account"]["name"] == "main"  # from the file
    monkeypatch.setenv("MODELDECK_API_KEY", sub)
    assert md.connect().whoami()["account"]["name"] == "bob"  # the environment beats the file
    assert md.connect(api_key=deployment.admin_key).whoami()["account"]["name"] == "main"  # the argument beats both
    monkeypatch.delenv("MODELDECK_API_KEY")
    # a profile without a key in the file falls back to the keyring
    write_profiles(f'[profiles.kr]\nkind = "server"\nurl = "{deployment.url}"\nworkspace = "default"\n')
    with pytest.raises(InvalidApiKey) as err:
        md.connect("kr")
    assert "login" in err.value.hint
    import keyring
    from keyring.backends.fail import Keyring as NoKeyring
    from keyrings.alt.file import PlaintextKeyring

    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    keyring.set_keyring(backend)
    try:
        keyring.set_password("modeldeck", "kr", sub)
        assert md.connect("kr").whoami()["account"]["name"] == "bob"
    finally:
        keyring.set_keyring(NoKeyring())


def test_profile_selection(deployment: Deployment, monkeypatch):
    write_profiles(
        f'default = "a"\n[profiles.a]\nkind = "server"\nurl = "{deployment.url}"\napi_key = "{deployment.admin_key}"\n'
        f'[profiles.b]\nkind = "server"\nurl = "{deployment.url}"\napi_key = "{deployment.admin_key}"\nworkspace = "w2"\n'
    )
    deployment.admin.ok("POST", "/api/v1/workspaces", json={"name": "w2"})
    assert md.connect().profile == "a"
    monkeypatch.setenv("MODELDECK_PROFILE", "b")
    deck = md.connect()
    assert deck.profile == "b" and deck.workspace.name == "w2"
    assert md.connect("a").profile == "a"
    monkeypatch.setenv("MODELDECK_WORKSPACE", "default")
    assert md.connect("b").workspace.name == "default"
    with pytest.raises(NotFound) as err:
        md.connect("nope")
    assert "a, b" in err.value.hint


def test_broken_profile_files_get_clear_errors():
    write_profiles("this is = = not toml")
    with pytest.raises(InvalidParameter) as err:
        md.connect()
    assert err.value.code == "Config.Invalid"
    write_profiles('[profiles.x]\nkind = "alibaba"\n')
    with pytest.raises(InvalidParameter) as err:
        resolve("x")
    assert err.value.code == "Profile.Invalid"


def test_login_asks_with_a_password_field_and_never_echoes(deployment: Deployment, monkeypatch, capsys):
    asked = []

    def fake_getpass(prompt: str) -> str:
        asked.append(prompt)
        return deployment.admin_key

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    profile = login("team", url=deployment.url)
    assert asked and "API key" in asked[0]
    assert profile.api_key == deployment.admin_key  # no keyring backend here: kept in the 0600 file
    assert stat.S_IMODE(config_path().stat().st_mode) == 0o600
    assert deployment.admin_key not in capsys.readouterr().out
    assert deployment.admin_key not in repr(profile)
    assert md.connect("team").whoami()["account"]["name"] == "main"
