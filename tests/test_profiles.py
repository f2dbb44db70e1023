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


def test_profile_files_of_the_previous_version_keep_loading(deployment: Deployment, tmp_path):
    """A file as the previous version wrote it (tomli_w: default, then the profiles' kind, url, home,
    workspace, api_key) connects as before and keeps its values when saved again."""
    write_profiles(
        f'default = "team"\n\n[profiles.lab]\nkind = "local"\nhome = "{tmp_path / "home"}"\n\n'
        f'[profiles.team]\nkind = "server"\nurl = "{deployment.url}"\nworkspace = "default"\n'
        f'api_key = "{deployment.admin_key}"\n\n[profiles.vllm]\nkind = "openai"\nurl = "{deployment.url}/v1"\n'
    )
    file = ProfileFile.load()
    assert {n: p.kind for n, p in file.profiles.items()} == {"lab": "local", "team": "server", "vllm": "openai"}
    with md.connect() as deck:
        assert deck.profile == "team" and deck.kind == "server" and deck.account["name"] == "main"
        assert deck.workspace.name == "default" and "versions" in deck.capabilities
    before = config_path().read_text()
    file.save()
    again = ProfileFile.load()
    assert again.profiles == file.profiles and again.default == "team"
    assert sorted(config_path().read_text().split()) == sorted(before.split())  # nothing added, nothing lost


def test_named_secrets_are_masked_and_each_source_wins_whole(deployment: Deployment, monkeypatch):
    from modeldeck.errors import InvalidApiKey

    write_profiles(
        f'[profiles.signed]\nkind = "server"\nurl = "{deployment.url}"\naccess_key_id = "AKID-EXAMPLE"\n'
        'access_key_secret = "SECRET-VALUE-1"\nsecurity_token = "STS-TOKEN-1"\n'
    )
    profile = ProfileFile.load().get("signed")
    _, settings = resolve("signed")
    assert settings.credentials.names() == ["access_key_id", "access_key_secret", "security_token"]
    shown = [repr(profile), repr(settings), repr(settings.credentials), str(profile.describe())]
    for text in shown:
        assert "SECRET-VALUE-1" not in text and "STS-TOKEN-1" not in text and "AKID-EXAMPLE" not in text
    assert profile.describe()["key"] == "in file"
    monkeypatch.setenv("MODELDECK_API_KEY", deployment.admin_key)  # the environment beats the file, whole
    _, settings = resolve("signed")
    assert settings.credentials.names() == ["api_key"]
    # an openai profile reads its platform's variable, not modeldeck's
    write_profiles(f'[profiles.vllm]\nkind = "openai"\nurl = "{deployment.url}/v1"\n')
    assert resolve("vllm")[1].credentials.names() == []
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    assert resolve("vllm")[1].credentials.api_key == "sk-from-the-environment"
    monkeypatch.delenv("MODELDECK_API_KEY")
    write_profiles(f'[profiles.bare]\nkind = "server"\nurl = "{deployment.url}"\n')
    with pytest.raises(InvalidApiKey) as err:
        resolve("bare")
    assert "MODELDECK_API_KEY" in err.value.hint


def test_endpoints_override_the_url_and_regions_are_checked(deployment: Deployment):
    write_profiles(
        f'[profiles.gw]\nkind = "server"\nurl = "http://127.0.0.1:9"\napi_key = "{deployment.admin_key}"\n'
        f'[profiles.gw.endpoints]\nnative = "{deployment.url}"\n'
        f'[profiles.far]\nkind = "server"\nurl = "{deployment.url}"\nregion = "cn-hangzhou"\n'
        f'api_key = "{deployment.admin_key}"\n'
    )
    with md.connect("gw") as deck:  # the per-service endpoint wins over the url: a gateway, a local facade
        assert deck.url == deployment.url and deck.whoami()["account"]["name"] == "main"
    with pytest.raises(InvalidParameter) as err:
        resolve("far")
    assert err.value.code == "Profile.Invalid" and "region" in err.value.hint
    write_profiles('[profiles.broken]\nkind = "server"\nendpoints = "not a table"\n')
    with pytest.raises(InvalidParameter) as err:
        ProfileFile.load()
    assert err.value.code == "Config.Invalid"


def test_async_deck_opens_as_connect_does(deployment: Deployment):
    """One construction path: the same profile gives the same account, workspace and capabilities."""
    import asyncio

    sub = deployment.subaccount("bob", {"default": "viewer"})
    write_profiles(f'[profiles.bob]\nkind = "server"\nurl = "{deployment.url}"\napi_key = "{sub}"\n'
                   'workspace = "default"\n')  # fmt: skip

    async def opened() -> tuple:
        async with md.AsyncDeck("bob") as deck:
            return deck.profile, deck.account, deck.workspace.name, deck.workspace.role, deck.capabilities

    with md.connect("bob") as deck:
        expected = (deck.profile, deck.account, deck.workspace.name, deck.workspace.role, deck.capabilities)
    assert asyncio.run(opened()) == expected and expected[1]["name"] == "bob" and expected[1]["kind"] == "sub"


def test_provider_settings_come_from_the_file_or_the_platforms_variables(monkeypatch):
    """`pai_workspace` and `oss_bucket` reach the deck as `Settings.options`; PAI_WORKSPACE_ID wins, as the
    workspace variables do; they are shown (not secrets), the secrets beside them still masked."""
    monkeypatch.delenv("PAI_WORKSPACE_ID", raising=False)
    monkeypatch.delenv("PAI_AI_WORKSPACE_ID", raising=False)
    write_profiles('[profiles.pai]\nkind = "alibaba"\nregion = "cn-beijing"\npai_workspace = "41394"\n'
                   'oss_bucket = "checkpoints"\naccess_key_id = "AKID-EXAMPLE"\naccess_key_secret = "SECRET-VALUE-1"\n')
    profile = ProfileFile.load().get("pai")
    _, settings = resolve("pai")
    assert settings.options == {"pai_workspace": "41394", "oss_bucket": "checkpoints"}
    assert settings.services["oss"] == "https://oss-cn-beijing.aliyuncs.com"
    described = profile.describe()
    assert (described["pai_workspace"], described["oss_bucket"]) == ("41394", "checkpoints")
    assert "SECRET-VALUE-1" not in str(described) + repr(profile) + repr(settings)
    monkeypatch.setenv("PAI_WORKSPACE_ID", "777")
    assert resolve("pai")[1].options == {"pai_workspace": "777", "oss_bucket": "checkpoints"}
    ProfileFile.load().save()  # written back unchanged
    assert ProfileFile.load().get("pai").options() == {"pai_workspace": "41394", "oss_bucket": "checkpoints"}
    write_profiles('[profiles.bad]\nkind = "alibaba"\noss_bucket = 7\n')
    with pytest.raises(InvalidParameter) as err:
        ProfileFile.load()
    assert err.value.code == "Config.Invalid"
